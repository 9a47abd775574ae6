package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Memory is the memory of a process tree at one moment, summed over its
// processes from /proc/PID/smaps_rollup. PSS (proportional set size)
// divides shared pages among the processes sharing them, so it is the fair
// figure for multi-process servers such as Dovecot; RSS counts them in
// every process.
type Memory struct {
	Processes int   `json:"processes"`
	RSSKiB    int64 `json:"rss_kib"`
	PSSKiB    int64 `json:"pss_kib"`
}

// MemoryReport compares the server's memory before the run with its memory
// while the connections were open.
type MemoryReport struct {
	Before      Memory  `json:"before"`
	During      Memory  `json:"during"`
	Connections int     `json:"connections"` // workers ready when measured
	RSSPerConn  float64 `json:"rss_kib_per_connection"`
	PSSPerConn  float64 `json:"pss_kib_per_connection"`
}

func memoryReport(before, during *Memory, ready, open int) *MemoryReport {
	n := ready
	if n == 0 {
		n = open
	}
	r := &MemoryReport{Before: *before, During: *during, Connections: n}
	if n > 0 {
		r.RSSPerConn = float64(during.RSSKiB-before.RSSKiB) / float64(n)
		r.PSSPerConn = float64(during.PSSKiB-before.PSSKiB) / float64(n)
	}
	return r
}

// PIDFile returns a ServerPIDs function reading a pid file on every call
// (a restarted server gets a new pid).
func PIDFile(path string) func() ([]int, error) {
	return func() ([]int, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("pid file %s: %w", path, err)
		}
		return []int{pid}, nil
	}
}

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// readCPU returns the CPU time (user + system) the roots' process trees
// have used: each live process's own time plus the time of the children
// it has reaped (cutime, cstime), so that Dovecot's per-connection
// processes still count after they exit.
func readCPU(roots func() ([]int, error)) (float64, error) {
	pids, err := roots()
	if err != nil {
		return 0, err
	}
	tree, err := processTree(pids)
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, pid := range tree {
		st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			continue // exited meanwhile; its parent's cutime has it
		}
		i := bytes.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		// After "pid (comm)": state is field 3; utime, stime, cutime,
		// cstime are fields 14-17 (proc(5)).
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 15 {
			continue
		}
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return float64(ticks) / userHZ, nil
}

// readMemory sums smaps_rollup over the roots' process trees.
func readMemory(roots func() ([]int, error)) (*Memory, error) {
	pids, err := roots()
	if err != nil {
		return nil, err
	}
	tree, err := processTree(pids)
	if err != nil {
		return nil, err
	}
	m := &Memory{}
	for _, pid := range tree {
		rss, pss, err := smapsRollup(pid)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
				continue // exited meanwhile (a login process, say)
			}
			return nil, err
		}
		m.Processes++
		m.RSSKiB += rss
		m.PSSKiB += pss
	}
	if m.Processes == 0 {
		return nil, fmt.Errorf("no process of %v is running", pids)
	}
	return m, nil
}

// processTree returns roots and all their descendants (by parent pid in
// /proc/PID/stat).
func processTree(roots []int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may contain spaces and parens.
		i := bytes.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	seen := map[int]bool{}
	var out []int
	var walk func(int)
	walk = func(p int) {
		if seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out, nil
}

func smapsRollup(pid int) (rss, pss int64, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := false
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		switch fs[0] {
		case "Rss:":
			rss, _ = strconv.ParseInt(fs[1], 10, 64)
			found = true
		case "Pss:":
			pss, _ = strconv.ParseInt(fs[1], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if !found {
		// Kernel threads and zombies have an empty rollup.
		return 0, 0, nil
	}
	return rss, pss, nil
}
