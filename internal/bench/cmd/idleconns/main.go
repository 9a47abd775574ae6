// Command idleconns measures a server's memory per idle IMAP connection
// (issue 8 item 3): it opens N connections that log in, SELECT INBOX and
// IDLE, from source addresses spread over 127.0.0.0/8 so that ephemeral
// ports do not run out, and reads the memory of the server's process tree
// (VmRSS and, from /proc/PID/smaps_rollup, PSS) before and after. It works
// against any IMAP server (Roost, Dovecot).
//
//	idleconns -addr 127.0.0.1:1143 -pid $(pidof roost) -n 10000 -users 1 -wake
//
// With -wake it then appends one message to testuser1's INBOX over one more
// connection and reports how long every idling session of that user took to
// see "* n EXISTS" (from sending the APPEND; the figure includes the
// APPEND's own durable commit). The process tree of -pid is the process
// and all its descendants (Dovecot's master with its imap, imap-login, auth
// ... children); memory is read as root, as smaps_rollup of other users'
// processes needs.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	addr     string
	n        int
	users    int
	user     string
	pass     string
	parallel int
	useTLS   bool
	settle   time.Duration
	hold     time.Duration
	wake     bool
	name     string
}

// Result is what one run measured (-json).
type Result struct {
	Server      string  `json:"server"`
	Connections int     `json:"connections"`
	Users       int     `json:"users"`
	TLS         bool    `json:"tls"`
	Processes   [2]int  `json:"processes"` // before, after
	RSSBefore   int64   `json:"rss_before_kib"`
	RSSAfter    int64   `json:"rss_after_kib"`
	PSSBefore   int64   `json:"pss_before_kib"`
	PSSAfter    int64   `json:"pss_after_kib"`
	RSSPerConn  float64 `json:"rss_per_conn_kib"`
	PSSPerConn  float64 `json:"pss_per_conn_kib"`
	OpenSeconds float64 `json:"open_seconds"`
	Failed      int     `json:"failed"`
	// Wake: sessions that saw the new message, of those that idle on
	// its user, and when (milliseconds from sending the APPEND).
	Woken     int     `json:"woken,omitempty"`
	WakeOf    int     `json:"wake_of,omitempty"`
	WakeP50   float64 `json:"wake_p50_ms,omitempty"`
	WakeP99   float64 `json:"wake_p99_ms,omitempty"`
	WakeMax   float64 `json:"wake_max_ms,omitempty"`
	AppendMS  float64 `json:"append_ms,omitempty"`
	WakeError string  `json:"wake_error,omitempty"`
}

func main() {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:1143", "server `host:port`")
	flag.IntVar(&c.n, "n", 10000, "idle connections to open")
	flag.IntVar(&c.users, "users", 1, "spread the connections over this many users (USER1..USERn)")
	flag.StringVar(&c.user, "user", "testuser", "user name prefix; connection i logs in as prefix(i%users+1)")
	flag.StringVar(&c.pass, "pass", "pass", "password of every user")
	flag.IntVar(&c.parallel, "parallel", 50, "connections being set up at once")
	flag.BoolVar(&c.useTLS, "tls", false, "implicit TLS (certificate not verified)")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "wait this long after the last IDLE before measuring")
	flag.DurationVar(&c.hold, "hold", 0, "keep the connections open this long after measuring (for a heap profile)")
	flag.BoolVar(&c.wake, "wake", false, "append one message to USER1's INBOX and time the wake-up of its idling sessions")
	flag.StringVar(&c.name, "name", "server", "server name for the report")
	pid := flag.Int("pid", 0, "server `pid` whose process tree is measured (required)")
	jsonOut := flag.String("json", "", "write the result as JSON to this `file`")
	flag.Parse()
	if *pid <= 0 {
		log.Fatal("idleconns: -pid is required")
	}
	if err := raiseNofile(c.n + 100); err != nil {
		log.Fatalf("idleconns: %v", err)
	}
	res, err := run(c, *pid)
	if err != nil {
		log.Fatalf("idleconns: %v", err)
	}
	fmt.Printf("%s: %d idle connections (%d users, tls %v) opened in %.1f s, %d failed\n",
		res.Server, res.Connections, res.Users, res.TLS, res.OpenSeconds, res.Failed)
	fmt.Printf("%s: processes %d -> %d; RSS %d -> %d KiB; PSS %d -> %d KiB\n",
		res.Server, res.Processes[0], res.Processes[1], res.RSSBefore, res.RSSAfter, res.PSSBefore, res.PSSAfter)
	fmt.Printf("%s: per connection: RSS %.1f KiB, PSS %.1f KiB\n", res.Server, res.RSSPerConn, res.PSSPerConn)
	if c.wake {
		if res.WakeError != "" {
			fmt.Printf("%s: wake: %s\n", res.Server, res.WakeError)
		}
		fmt.Printf("%s: wake: %d of %d sessions saw EXISTS; APPEND %.1f ms; from APPEND sent: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			res.Server, res.Woken, res.WakeOf, res.AppendMS, res.WakeP50, res.WakeP99, res.WakeMax)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if res.Failed > 0 || (c.wake && (res.WakeError != "" || res.Woken < res.WakeOf)) {
		os.Exit(1)
	}
}

// raiseNofile raises the soft open-file limit to the hard one and checks
// that want descriptors fit.
func raiseNofile(want int) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
		}
	}
	if rl.Cur < uint64(want) {
		return fmt.Errorf("open-file limit %d is below the %d this run needs (ulimit -Hn)", rl.Cur, want)
	}
	return nil
}

// sourceAddr is the local address of connection i: 127.0.1.0, 127.0.1.1,
// ... one per connection, in 127.0.0.0/8 (all of it is loopback on Linux),
// so that ephemeral ports never run out and per-IP limits (Roost's
// login_max_preauth_per_ip, both servers' mail_max_userip_connections) do
// not apply. 127.0.0.0/24 is left alone.
func sourceAddr(i int) netip.Addr {
	k := i + 256
	return netip.AddrFrom4([4]byte{127, byte(k >> 16), byte(k >> 8), byte(k)})
}

// idleConn is one connection parked in IDLE.
type idleConn struct {
	nc   net.Conn
	r    *bufio.Reader
	user string
}

func run(c config, pid int) (*Result, error) {
	res := &Result{Server: c.name, Connections: c.n, Users: c.users, TLS: c.useTLS}
	before, err := treeMemory(pid)
	if err != nil {
		return nil, err
	}
	res.Processes[0], res.RSSBefore, res.PSSBefore = before.procs, before.rss, before.pss

	conns := make([]*idleConn, c.n)
	var failed atomic.Int64
	var firstErr sync.Once
	start := time.Now()
	sem := make(chan struct{}, c.parallel)
	var wg sync.WaitGroup
	var progress atomic.Int64
	for i := range c.n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			user := fmt.Sprintf("%s%d", c.user, i%c.users+1)
			ic, err := openIdle(c, sourceAddr(i), user)
			if err != nil {
				failed.Add(1)
				firstErr.Do(func() { log.Printf("connection %d (%s): %v", i, user, err) })
				return
			}
			conns[i] = ic
			if n := progress.Add(1); n%1000 == 0 {
				log.Printf("%d connections idling (%.1f s)", n, time.Since(start).Seconds())
			}
		}()
	}
	wg.Wait()
	res.OpenSeconds = time.Since(start).Seconds()
	res.Failed = int(failed.Load())
	if res.Failed == c.n {
		return res, errors.New("no connection could be opened")
	}
	time.Sleep(c.settle)
	after, err := treeMemory(pid)
	if err != nil {
		return nil, err
	}
	open := c.n - res.Failed
	res.Processes[1], res.RSSAfter, res.PSSAfter = after.procs, after.rss, after.pss
	res.RSSPerConn = float64(after.rss-before.rss) / float64(open)
	res.PSSPerConn = float64(after.pss-before.pss) / float64(open)
	if c.hold > 0 {
		log.Printf("holding %d connections for %v", open, c.hold)
		time.Sleep(c.hold)
	}
	if c.wake {
		wakeAll(c, conns, res)
	}
	for _, ic := range conns {
		if ic != nil {
			ic.nc.Close()
		}
	}
	return res, nil
}

func dial(c config, src netip.Addr) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	nc, err := d.Dial("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	if c.useTLS {
		tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, err
		}
		return tc, nil
	}
	return nc, nil
}

// openIdle connects from src, logs in as user, selects INBOX and starts
// IDLE; it returns once the server sent "+" for the IDLE.
func openIdle(c config, src netip.Addr, user string) (*idleConn, error) {
	nc, err := dial(c, src)
	if err != nil {
		return nil, err
	}
	ic := &idleConn{nc: nc, r: bufio.NewReaderSize(nc, 1024), user: user}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	nc.SetDeadline(time.Now().Add(2 * time.Minute))
	if line, err := ic.line(); err != nil {
		return nil, err
	} else if !strings.HasPrefix(line, "* OK") {
		return nil, fmt.Errorf("greeting: %q", line)
	}
	if _, err := ic.command("a", "LOGIN "+quote(user)+" "+quote(c.pass)); err != nil {
		return nil, err
	}
	if _, err := ic.command("b", "SELECT INBOX"); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(nc, "c IDLE\r\n"); err != nil {
		return nil, err
	}
	for {
		line, err := ic.line()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(line, "+") {
			break
		}
		if strings.HasPrefix(line, "c ") {
			return nil, fmt.Errorf("IDLE: %q", line)
		}
	}
	nc.SetDeadline(time.Time{})
	ok = true
	return ic, nil
}

func quote(s string) string { return strconv.Quote(s) }

func (ic *idleConn) line() (string, error) {
	l, err := ic.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(l, "\r\n"), nil
}

// command sends "tag cmd" and reads to the tagged reply, which must be OK.
// It returns the untagged lines. Literals in responses are not expected
// (LOGIN, SELECT, APPEND's replies have none).
func (ic *idleConn) command(tag, cmd string) ([]string, error) {
	if _, err := io.WriteString(ic.nc, tag+" "+cmd+"\r\n"); err != nil {
		return nil, err
	}
	var lines []string
	for {
		line, err := ic.line()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Fields(cmd)[0], err)
		}
		if strings.HasPrefix(line, tag+" ") {
			if !strings.HasPrefix(line[len(tag)+1:], "OK") {
				return nil, fmt.Errorf("%s: %q", strings.Fields(cmd)[0], line)
			}
			return lines, nil
		}
		lines = append(lines, line)
	}
}

// wakeAll appends one message to USER1's INBOX over a new connection and
// waits until every idling session of USER1 reported "* n EXISTS" (or 60
// s passed).
func wakeAll(c config, conns []*idleConn, res *Result) {
	user := fmt.Sprintf("%s%d", c.user, 1)
	var targets []*idleConn
	for _, ic := range conns {
		if ic != nil && ic.user == user {
			targets = append(targets, ic)
		}
	}
	res.WakeOf = len(targets)
	lat := make([]time.Duration, len(targets))
	var sent atomic.Pointer[time.Time]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var woken atomic.Int64
	ready := make(chan struct{})
	for i, ic := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ic.nc.SetReadDeadline(time.Now().Add(65 * time.Second))
			<-ready
			for {
				line, err := ic.line()
				if err != nil {
					return
				}
				// "* 12 EXISTS"
				if f := strings.Fields(line); len(f) == 3 && f[0] == "*" && f[2] == "EXISTS" {
					if t := sent.Load(); t != nil {
						lat[i] = time.Since(*t)
						woken.Add(1)
						return
					}
				}
			}
		}()
	}
	close(ready)
	ac, err := openSession(c, netip.MustParseAddr("127.0.0.2"), user)
	if err != nil {
		res.WakeError = "appending connection: " + err.Error()
		return
	}
	defer ac.nc.Close()
	msg := "From: idleconns@example.org\r\nTo: " + user + "@example.org\r\nSubject: wake up\r\n\r\nOne message for every idling session.\r\n"
	t0 := time.Now()
	sent.Store(&t0)
	if _, err := io.WriteString(ac.nc, fmt.Sprintf("w APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg)); err == nil {
		_, err = ac.readTagged("w")
		if err != nil {
			res.WakeError = "APPEND: " + err.Error()
		}
	} else {
		res.WakeError = "APPEND: " + err.Error()
	}
	res.AppendMS = ms(time.Since(t0))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, ic := range targets {
			ic.nc.SetReadDeadline(time.Unix(1, 0))
		}
		<-done
		res.WakeError = "not every session woke within 60 s"
	}
	res.Woken = int(woken.Load())
	var got []time.Duration
	for _, d := range lat {
		if d > 0 {
			got = append(got, d)
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if len(got) > 0 {
		res.WakeP50 = ms(got[len(got)/2])
		res.WakeP99 = ms(got[len(got)*99/100])
		res.WakeMax = ms(got[len(got)-1])
	}
}

// openSession connects and logs in (no SELECT).
func openSession(c config, src netip.Addr, user string) (*idleConn, error) {
	nc, err := dial(c, src)
	if err != nil {
		return nil, err
	}
	ic := &idleConn{nc: nc, r: bufio.NewReader(nc), user: user}
	nc.SetDeadline(time.Now().Add(time.Minute))
	if line, err := ic.line(); err != nil || !strings.HasPrefix(line, "* OK") {
		nc.Close()
		return nil, fmt.Errorf("greeting: %q %v", line, err)
	}
	if _, err := ic.command("a", "LOGIN "+quote(user)+" "+quote(c.pass)); err != nil {
		nc.Close()
		return nil, err
	}
	return ic, nil
}

func (ic *idleConn) readTagged(tag string) (string, error) {
	for {
		line, err := ic.line()
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(line, tag+" ") {
			if !strings.HasPrefix(line[len(tag)+1:], "OK") {
				return line, fmt.Errorf("%q", line)
			}
			return line, nil
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type memory struct {
	procs    int
	rss, pss int64 // KiB
}

// treeMemory sums VmRSS and Pss over pid and its descendants.
func treeMemory(pid int) (memory, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return memory{}, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var m memory
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		queue = append(queue, children[p]...)
		rss, err := field("/proc/"+strconv.Itoa(p)+"/status", "VmRSS:")
		if err != nil {
			if p == pid {
				return m, fmt.Errorf("server process %d: %w", pid, err)
			}
			continue // exited meanwhile
		}
		pss, err := field("/proc/"+strconv.Itoa(p)+"/smaps_rollup", "Pss:")
		if err != nil && p == pid {
			return m, fmt.Errorf("server process %d: %w", pid, err)
		}
		m.procs++
		m.rss += rss
		m.pss += pss
	}
	return m, nil
}

// field returns the KiB value of the line starting with name in a /proc
// file ("VmRSS:   1234 kB").
func field(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name) {
			f := strings.Fields(l[len(name):])
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s line", path, name)
}
