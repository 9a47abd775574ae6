// Command imap100k-sync measures the issue-4 resync commands on a big
// INBOX (bench/imap100k.sh with SYNC=1, docs/BENCHMARKS.md "1,000,000
// messages"):
//
//	imap100k-sync -addr 127.0.0.1:10143 -name Dovecot -rss-tree MASTERPID -json dovecot-sync.json
//	imap100k-sync -table roost-sync.json dovecot-sync.json
//
// One run, against a server whose INBOX is already loaded:
//  1. Session A (ENABLE QRESYNC, SELECT INBOX) clears \Flagged on 100 UIDs
//     spread over the mailbox, reads HIGHESTMODSEQ x with STATUS, then sets
//     \Flagged on them: 100 changes after x (rerunnable on the same data).
//  2. Each round a fresh connection logs in, ENABLEs QRESYNC and is timed on
//     `SELECT INBOX (QRESYNC (uidvalidity x))` (a client reconnecting after
//     100 changes; must answer 100 FETCH), then on
//     `UID FETCH 1:* (FLAGS) (CHANGEDSINCE x)` (100 FETCH), `UID SEARCH
//     LARGER 100000`, `UID SEARCH SINCE <date>` and `UID SEARCH UNSEEN
//     UID 1` (every message's flags read, one match: a session's first
//     whole-mailbox flag read, while session A, which did one before,
//     stays selected).
//  3. Memory: the server's RSS and PSS (summed over the process tree, so
//     Dovecot's per-session imap processes count) before and after -sessions
//     connections each LOGIN and SELECT INBOX, and again after each of them
//     ran `UID FETCH 1:* (FLAGS)` (what most clients do first), -parallel at
//     a time.
//
// Login is not timed. Answers are read line by line (literals skipped by
// count); a command is timed from its write to its tagged OK.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is one timed command.
type Result struct {
	Name    string
	Median  time.Duration
	Min     time.Duration
	Max     time.Duration
	Lines   int // untagged lines in the last answer
	Samples []time.Duration
}

// Mem is the server's memory at one point.
type Mem struct {
	Point    string
	Procs    int
	RSSKiB   int64
	PSSKiB   int64
	Sessions int
}

// Report is one server's run.
type Report struct {
	Server   string
	Addr     string
	Exists   int
	Rounds   int
	Results  []Result
	Memory   []Mem
	Duration map[string]time.Duration // one-off steps (setup, session opening)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:10143", "IMAP server (plain TCP)")
	user := flag.String("user", "testuser1", "user")
	pass := flag.String("pass", "pass", "password")
	name := flag.String("name", "", "server name for reports")
	rounds := flag.Int("rounds", 5, "timed rounds")
	sessions := flag.Int("sessions", 100, "sessions that SELECT the mailbox for the memory measurement")
	parallel := flag.Int("parallel", 2, "sessions running their UID FETCH 1:* (FLAGS) at once")
	since := flag.String("since", "4-Jan-2023", "date for UID SEARCH SINCE")
	rssTree := flag.Int("rss-tree", 0, "server pid: RSS/PSS of it and all its descendants")
	jsonOut := flag.String("json", "", "write the report as JSON here")
	table := flag.Bool("table", false, "print a Markdown table of the JSON reports given as arguments (subject, reference)")
	flag.Parse()
	if *table {
		if flag.NArg() != 2 {
			log.Fatal("-table needs two JSON reports")
		}
		printTable(load(flag.Arg(0)), load(flag.Arg(1)))
		return
	}
	rep := &Report{Server: *name, Addr: *addr, Rounds: *rounds, Duration: map[string]time.Duration{}}
	if err := run(rep, *addr, *user, *pass, *since, *rounds, *sessions, *parallel, *rssTree); err != nil {
		log.Fatal(err)
	}
	for _, r := range rep.Results {
		fmt.Printf("%-48s median %8.1f ms  min %8.1f  max %8.1f  (%d lines)\n", r.Name, ms(r.Median), ms(r.Min), ms(r.Max), r.Lines)
	}
	for _, m := range rep.Memory {
		fmt.Printf("%-40s %3d procs RSS %8.1f MiB PSS %8.1f MiB\n", m.Point, m.Procs, kib(m.RSSKiB), kib(m.PSSKiB))
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func run(rep *Report, addr, user, pass, since string, rounds, sessions, parallel, rssTree int) error {
	a, err := dial(addr, user, pass)
	if err != nil {
		return err
	}
	defer a.close()
	if _, err := a.cmd("ENABLE QRESYNC"); err != nil {
		return err
	}
	t0 := time.Now()
	sel, err := a.cmd("SELECT INBOX")
	if err != nil {
		return err
	}
	rep.Duration["first SELECT of session A (Dovecot: index build if new)"] = time.Since(t0)
	exists, uidValidity := 0, uint64(0)
	for _, l := range sel {
		if strings.HasSuffix(l, " EXISTS") {
			fmt.Sscanf(l, "* %d EXISTS", &exists)
		}
		fmt.Sscanf(l, "* OK [UIDVALIDITY %d]", &uidValidity)
	}
	if exists < 100 || uidValidity == 0 {
		return fmt.Errorf("SELECT INBOX: %d messages, UIDVALIDITY %d", exists, uidValidity)
	}
	rep.Exists = exists
	var uids []string
	for i := range 100 {
		uids = append(uids, strconv.Itoa(1+i*(exists/100)))
	}
	set := strings.Join(uids, ",")
	if _, err := a.cmd(`UID STORE ` + set + ` -FLAGS.SILENT (\Flagged)`); err != nil {
		return err
	}
	st, err := a.cmd("STATUS INBOX (HIGHESTMODSEQ)")
	if err != nil {
		return err
	}
	var x uint64
	for _, l := range st {
		if i := strings.Index(l, "HIGHESTMODSEQ "); i >= 0 {
			fmt.Sscan(l[i+len("HIGHESTMODSEQ "):], &x)
		}
	}
	if x == 0 {
		return fmt.Errorf("no HIGHESTMODSEQ in %q", st)
	}
	if _, err := a.cmd(`UID STORE ` + set + ` +FLAGS.SILENT (\Flagged)`); err != nil {
		return err
	}
	// A reads every message's flags once (as a client's first sync does)
	// and stays selected: in Roost the first such read in the process
	// builds the shared flag index, which lives while A is there.
	t0 = time.Now()
	if _, err := a.cmd("UID SEARCH UNSEEN UID 1"); err != nil {
		return err
	}
	rep.Duration["session A's first whole-mailbox flag read (UID SEARCH UNSEEN UID 1)"] = time.Since(t0)

	timed := []struct {
		name, line string
		want       int // untagged lines, -1: any
	}{
		{fmt.Sprintf("SELECT INBOX (QRESYNC (v x)), 100 changes"), fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", uidValidity, x), -1},
		{"UID FETCH 1:* (FLAGS) (CHANGEDSINCE x)", fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", x), 100},
		{"UID SEARCH LARGER 100000", "UID SEARCH LARGER 100000", 1},
		{"UID SEARCH SINCE " + since, "UID SEARCH SINCE " + since, 1},
		// Flags of every message, one match: the session's first
		// whole-mailbox flag read without a big answer (Roost: fills the
		// session's flag cache).
		{"UID SEARCH UNSEEN UID 1 (first flag read)", "UID SEARCH UNSEEN UID 1", 1},
	}
	res := make([]Result, len(timed))
	for round := 0; round < rounds; round++ {
		b, err := dial(addr, user, pass)
		if err != nil {
			return err
		}
		if _, err := b.cmd("ENABLE QRESYNC"); err != nil {
			return err
		}
		for i, tc := range timed {
			start := time.Now()
			lines, err := b.cmd(tc.line)
			d := time.Since(start)
			if err != nil {
				return err
			}
			if i == 0 {
				fetches := 0
				for _, l := range lines {
					if strings.Contains(l, " FETCH (") {
						fetches++
					}
				}
				if fetches != 100 {
					return fmt.Errorf("%s: %d FETCH responses, want 100", tc.line, fetches)
				}
			}
			res[i].Name = tc.name
			res[i].Lines = len(lines)
			if strings.HasPrefix(tc.line, "UID SEARCH") {
				// Dovecot sends "* OK Searched n% of the mailbox" progress
				// lines during long searches; count the matches.
				lines = slices.DeleteFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "* SEARCH") })
				if len(lines) == 1 {
					res[i].Lines = len(strings.Fields(lines[0])) - 2
				}
			}
			if tc.want >= 0 && len(lines) != tc.want {
				return fmt.Errorf("%s: %d untagged lines, want %d", tc.line, len(lines), tc.want)
			}
			res[i].Samples = append(res[i].Samples, d)
		}
		b.close()
	}
	for i := range res {
		s := slices.Clone(res[i].Samples)
		slices.Sort(s)
		res[i].Median, res[i].Min, res[i].Max = s[len(s)/2], s[0], s[len(s)-1]
	}
	rep.Results = res

	if rssTree == 0 || sessions == 0 {
		return nil
	}
	rep.Memory = append(rep.Memory, memOf(rssTree, "2 sessions (A selected)", 2))
	cs := make([]*conn, sessions)
	t0 = time.Now()
	for i := range cs {
		c, err := dial(addr, user, pass)
		if err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		defer c.close()
		if _, err := c.cmd("SELECT INBOX"); err != nil {
			return fmt.Errorf("session %d: %w", i, err)
		}
		cs[i] = c
	}
	rep.Duration[fmt.Sprintf("%d sessions LOGIN+SELECT INBOX, one after another", sessions)] = time.Since(t0)
	time.Sleep(time.Second)
	rep.Memory = append(rep.Memory, memOf(rssTree, fmt.Sprintf("+%d sessions with INBOX selected", sessions), sessions+1))
	t0 = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	work := make(chan *conn)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				n, err := c.count("UID FETCH 1:* (FLAGS)")
				if err == nil && n != exists {
					err = fmt.Errorf("UID FETCH 1:* (FLAGS): %d lines, want %d", n, exists)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, c := range cs {
		work <- c
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	rep.Duration[fmt.Sprintf("%d sessions UID FETCH 1:* (FLAGS), %d at a time", sessions, parallel)] = time.Since(t0)
	time.Sleep(time.Second)
	rep.Memory = append(rep.Memory, memOf(rssTree, fmt.Sprintf("+%d sessions after UID FETCH 1:* (FLAGS)", sessions), sessions+1))
	return nil
}

type conn struct {
	c   net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	tag int
}

func dial(addr, user, pass string) (*conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{c: nc, r: bufio.NewReaderSize(nc, 1<<16), w: bufio.NewWriter(nc)}
	if _, err := c.r.ReadString('\n'); err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if _, err := c.cmd(fmt.Sprintf("LOGIN %s %s", user, pass)); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *conn) close() {
	c.cmd("LOGOUT")
	c.c.Close()
}

var literal = regexp.MustCompile(`\{(\d+)\}\r\n$`)

// do sends line and calls each for every untagged line (literals are
// read and dropped) until the tagged reply, which must be OK.
func (c *conn) do(line string, each func(string)) error {
	c.tag++
	tag := "t" + strconv.Itoa(c.tag)
	c.w.WriteString(tag + " " + line + "\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	c.c.SetReadDeadline(time.Now().Add(10 * time.Minute))
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: %w", line, err)
		}
		for m := literal.FindStringSubmatch(l); m != nil; m = literal.FindStringSubmatch(l) {
			n, _ := strconv.Atoi(m[1])
			if _, err := io.CopyN(io.Discard, c.r, int64(n)); err != nil {
				return err
			}
			rest, err := c.r.ReadString('\n')
			if err != nil {
				return err
			}
			l = rest
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				return fmt.Errorf("%s: %s", line, strings.TrimSpace(l))
			}
			return nil
		}
		each(strings.TrimRight(l, "\r\n"))
	}
}

func (c *conn) cmd(line string) ([]string, error) {
	var out []string
	err := c.do(line, func(l string) { out = append(out, l) })
	return out, err
}

// count runs line and counts the FETCH responses (Dovecot may add "* OK"
// progress lines).
func (c *conn) count(line string) (int, error) {
	n := 0
	err := c.do(line, func(l string) {
		if strings.Contains(l, " FETCH (") {
			n++
		}
	})
	return n, err
}

// memOf sums VmRSS and Pss over pid and its descendants.
func memOf(pid int, point string, sessions int) Mem {
	m := Mem{Point: point, Sessions: sessions}
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		p, _ := strconv.Atoi(strings.Split(d, "/")[2])
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	var walk func(int)
	walk = func(p int) {
		m.Procs++
		m.RSSKiB += procKiB(fmt.Sprintf("/proc/%d/status", p), "VmRSS:")
		m.PSSKiB += procKiB(fmt.Sprintf("/proc/%d/smaps_rollup", p), "Pss:")
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return m
}

func procKiB(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

func load(path string) *Report {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	return &r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func kib(k int64) float64        { return float64(k) / 1024 }

func printTable(a, b *Report) {
	an, bn := a.Server, b.Server
	fmt.Printf("%d messages in INBOX; each command on a fresh connection after LOGIN and ENABLE QRESYNC; median (min-max) of %d rounds, ms\n\n", a.Exists, a.Rounds)
	fmt.Printf("| command | %s | %s | %s / %s | answer lines or matches |\n|---|--:|--:|--:|--:|\n", an, bn, an, bn)
	for i, r := range a.Results {
		if i >= len(b.Results) {
			break
		}
		s := b.Results[i]
		fmt.Printf("| `%s` | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.3f | %d / %d |\n", r.Name, ms(r.Median), ms(r.Min), ms(r.Max),
			ms(s.Median), ms(s.Min), ms(s.Max), float64(r.Median)/float64(s.Median), r.Lines, s.Lines)
	}
	fmt.Printf("\nServer memory (whole process tree; PSS counts shared pages once):\n\n| point | %s RSS / PSS MiB | %s RSS / PSS MiB (processes) |\n|---|--:|--:|\n", an, bn)
	for i, m := range a.Memory {
		if i >= len(b.Memory) {
			break
		}
		s := b.Memory[i]
		fmt.Printf("| %s | %.1f / %.1f | %.1f / %.1f (%d) |\n", m.Point, kib(m.RSSKiB), kib(m.PSSKiB), kib(s.RSSKiB), kib(s.PSSKiB), s.Procs)
	}
	if len(a.Memory) >= 3 && len(b.Memory) >= 3 {
		n := float64(a.Memory[1].Sessions - a.Memory[0].Sessions + 1)
		per := func(r *Report, i int) float64 { return kib(r.Memory[i].PSSKiB-r.Memory[0].PSSKiB) / n }
		fmt.Printf("\nPer selected session (PSS growth / sessions): %s %.2f MiB, %.2f MiB after the flag read; %s %.2f MiB, %.2f MiB\n",
			an, per(a, 1), per(a, 2), bn, per(b, 1), per(b, 2))
	}
	fmt.Println()
	for _, r := range []*Report{a, b} {
		for k, v := range r.Duration {
			fmt.Printf("- %s: %s %.1f s\n", r.Server, k, v.Seconds())
		}
	}
}
