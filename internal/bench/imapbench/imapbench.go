// Package imapbench times IMAP commands against any server over plain TCP.
// It uses a small hand-written reader instead of a client library: it only
// finds literals ({n} at the end of a line), counts the bytes and lines of
// the response and stops at the tagged completion, so the client costs as
// little as possible and the time measured is the server's (plus loopback).
package imapbench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Conn is one IMAP connection.
type Conn struct {
	c   net.Conn
	r   *bufio.Reader
	tag int
}

// Response is what one command returned.
type Response struct {
	Status   string // OK, NO or BAD
	Tagged   string // the tagged line without CRLF
	Bytes    int64  // every byte read, literals included
	Untagged int    // untagged lines ("* ...")
	Lines    []string
	Elapsed  time.Duration
}

// Dial connects and reads the greeting.
func Dial(addr string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	ic := &Conn{c: c, r: bufio.NewReaderSize(c, 256<<10)}
	line, err := ic.r.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(line, "* OK") {
		c.Close()
		return nil, fmt.Errorf("greeting: %q", line)
	}
	return ic, nil
}

// Close closes the connection without LOGOUT.
func (c *Conn) Close() error { return c.c.Close() }

// Cmd sends one command and reads its whole response. With keep, the
// untagged lines (without literal contents) are returned in Lines.
func (c *Conn) Cmd(cmd string, keep bool) (Response, error) {
	c.tag++
	tag := "b" + strconv.Itoa(c.tag)
	start := time.Now()
	if _, err := io.WriteString(c.c, tag+" "+cmd+"\r\n"); err != nil {
		return Response{}, err
	}
	resp, err := c.read(tag, keep)
	resp.Elapsed = time.Since(start)
	if err != nil {
		return resp, err
	}
	if resp.Status != "OK" {
		return resp, fmt.Errorf("%s: %s", cmd, resp.Tagged)
	}
	return resp, nil
}

func (c *Conn) read(tag string, keep bool) (Response, error) {
	var resp Response
	prefix := []byte(tag + " ")
	var cur []byte // untagged line being kept, across literals
	startOfLine := true
	for {
		line, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A very long line: consume it in pieces.
			resp.Bytes += int64(len(line))
			if keep {
				cur = append(cur, line...)
			}
			startOfLine = false
			continue
		}
		if err != nil {
			return resp, err
		}
		resp.Bytes += int64(len(line))
		if startOfLine && bytes.HasPrefix(line, prefix) {
			t := strings.TrimRight(string(line), "\r\n")
			resp.Tagged = t
			rest := t[len(prefix):]
			if i := strings.IndexByte(rest, ' '); i > 0 {
				resp.Status = rest[:i]
			} else {
				resp.Status = rest
			}
			return resp, nil
		}
		if startOfLine && len(line) > 0 && line[0] == '*' {
			resp.Untagged++
		}
		if keep {
			cur = append(cur, line...)
		}
		// A literal: "{n}\r\n" or "{n+}\r\n" at the end of the line.
		if n, ok := literalSize(line); ok {
			if _, err := c.r.Discard(int(n)); err != nil {
				return resp, err
			}
			resp.Bytes += n
			startOfLine = false
			continue
		}
		if keep && cur != nil {
			resp.Lines = append(resp.Lines, strings.TrimRight(string(cur), "\r\n"))
			cur = cur[:0:0]
		}
		startOfLine = true
	}
}

func literalSize(line []byte) (int64, bool) {
	l := bytes.TrimRight(line, "\r\n")
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(l[i+1:len(l)-1], []byte("+"))
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Step is one measured command.
type Step struct {
	Name string
	Cmd  string
}

// Steps are the commands of the issue-3 benchmark, in the order they run in
// each round. STORE adds \Flagged to 1:1000 and removes it again, so every
// round changes 1000 messages twice.
var Steps = []Step{
	{"SELECT INBOX", "SELECT INBOX"},
	{"UID FETCH 1:* (UID FLAGS)", "UID FETCH 1:* (UID FLAGS)"},
	{"FETCH 1:* (ENVELOPE BODYSTRUCTURE)", "FETCH 1:* (ENVELOPE BODYSTRUCTURE)"},
	{"UID SEARCH UNSEEN", "UID SEARCH UNSEEN"},
	{"STORE 1:1000 +FLAGS (\\Flagged)", "STORE 1:1000 +FLAGS (\\Flagged)"},
	{"STORE 1:1000 -FLAGS (\\Flagged)", "STORE 1:1000 -FLAGS (\\Flagged)"},
}

// Result holds the timings of one step over all rounds.
type Result struct {
	Name    string
	Times   []time.Duration
	Bytes   int64 // response size of the last round
	Lines   int   // untagged lines of the last round
	Median  time.Duration
	P90     time.Duration
	Min     time.Duration
	Summary string `json:",omitempty"`
}

// Report is everything one run measured.
type Report struct {
	Server   string
	Addr     string
	Rounds   int
	Exists   int // EXISTS at the last SELECT
	Unseen   int // UIDs returned by the last UID SEARCH UNSEEN
	Results  []Result
	RSS      []ProcRSS `json:",omitempty"`
	Started  time.Time
	Greeting string `json:",omitempty"`
}

// Options say what Run measures.
type Options struct {
	Addr, User, Pass string
	Warmup, Rounds   int
	Progress         io.Writer // per-command lines, if not nil
	// RSSPids and RSSMatch select the server processes whose memory is
	// read after the last round, with the session still logged in and
	// the mailbox selected (see RSSOf).
	RSSPids  []int
	RSSMatch string
}

// Run logs in, runs o.Warmup unmeasured rounds and then o.Rounds measured
// rounds of Steps. Between rounds the mailbox is closed with UNSELECT so
// that every SELECT opens it afresh.
func Run(o Options) (*Report, error) {
	addr, warmup, rounds, progress := o.Addr, o.Warmup, o.Rounds, o.Progress
	c, err := Dial(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Cmd("LOGIN "+quote(o.User)+" "+quote(o.Pass), false); err != nil {
		return nil, err
	}
	rep := &Report{Addr: addr, Rounds: rounds, Started: time.Now()}
	res := make([]Result, len(Steps))
	for i, s := range Steps {
		res[i].Name = s.Name
	}
	for round := 0; round < warmup+rounds; round++ {
		measured := round >= warmup
		for i, s := range Steps {
			keep := s.Cmd == "SELECT INBOX" || strings.HasPrefix(s.Cmd, "UID SEARCH")
			r, err := c.Cmd(s.Cmd, keep)
			if err != nil {
				return nil, err
			}
			if s.Cmd == "SELECT INBOX" {
				for _, l := range r.Lines {
					if f := strings.Fields(l); len(f) == 3 && f[2] == "EXISTS" {
						rep.Exists, _ = strconv.Atoi(f[1])
					}
				}
			}
			if strings.HasPrefix(s.Cmd, "UID SEARCH") {
				for _, l := range r.Lines {
					if strings.HasPrefix(l, "* SEARCH") {
						rep.Unseen = len(strings.Fields(l)) - 2
					}
				}
			}
			if measured {
				res[i].Times = append(res[i].Times, r.Elapsed)
				res[i].Bytes, res[i].Lines = r.Bytes, r.Untagged
			}
			if progress != nil {
				w := "warmup"
				if measured {
					w = "round"
				}
				fmt.Fprintf(progress, "%s %d %-36s %9.2f ms %10d bytes\n", w, round, s.Name, ms(r.Elapsed), r.Bytes)
			}
		}
		if round == warmup+rounds-1 && (len(o.RSSPids) > 0 || o.RSSMatch != "") {
			rep.RSS = RSSOf(o.RSSPids, o.RSSMatch)
		}
		if _, err := c.Cmd("UNSELECT", false); err != nil {
			return nil, err
		}
	}
	c.Logout()
	for i := range res {
		t := append([]time.Duration(nil), res[i].Times...)
		sort.Slice(t, func(a, b int) bool { return t[a] < t[b] })
		res[i].Min = t[0]
		res[i].Median = t[len(t)/2]
		if len(t)%2 == 0 {
			res[i].Median = (t[len(t)/2-1] + t[len(t)/2]) / 2
		}
		res[i].P90 = t[min(len(t)-1, (len(t)*9+9)/10-1)]
	}
	rep.Results = res
	return rep, nil
}

// Logout sends LOGOUT; errors are ignored.
func (c *Conn) Logout() { c.Cmd("LOGOUT", false) }

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ProcRSS is the memory of one process, from /proc/PID/status.
type ProcRSS struct {
	PID     int
	Cmdline string
	RSSKiB  int64 // VmRSS
	HWMKiB  int64 // VmHWM: peak RSS
}

// RSSOf returns the memory of the processes with the given pids and of
// every process whose command line contains match (if not empty), except
// this one.
func RSSOf(pids []int, match string) []ProcRSS {
	seen := map[int]bool{}
	var out []ProcRSS
	add := func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		p, ok := readProc(pid)
		if ok {
			out = append(out, p)
		}
	}
	for _, p := range pids {
		add(p)
	}
	if match != "" {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && strings.Contains(strings.ReplaceAll(string(cl), "\x00", " "), match) {
				add(pid)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].PID < out[b].PID })
	return out
}

func readProc(pid int) (ProcRSS, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	st, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return ProcRSS{}, false
	}
	cl, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	p := ProcRSS{PID: pid, Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " "))}
	for _, l := range strings.Split(string(st), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			p.RSSKiB, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			p.HWMKiB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return p, true
}
