package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// nodeOpts configures one roost node of a multi-node test.
type nodeOpts struct {
	// mailLocation is mail_location; "" is sqlite in the node's directory.
	mailLocation string
	// passdb is the passdb section's body; "" is the passwd-file with
	// alice and bob.
	passdb string
	// extra is appended to the configuration.
	extra string
}

// node is a roost server with IMAP, POP3 and LMTP on loopback ports.
type node struct {
	*server
	lmtpPort int
}

// startNode starts `roost serve` with IMAP (imap, imaps), POP3 and LMTP on
// free 127.0.0.1 ports. Several nodes may share one PostgreSQL database
// (o.mailLocation). Cleanup stops it with SIGTERM unless the test killed it.
func startNode(t *testing.T, o nodeOpts) *node {
	t.Helper()
	if refServer {
		t.Skip("roost's own multi-node and SQL setup; no Dovecot equivalent in the reference config")
	}
	s := &server{t: t, dir: t.TempDir()}
	n := &node{server: s}
	s.cfg = filepath.Join(s.dir, "roost.conf")
	s.users = filepath.Join(s.dir, "users")
	s.writeUsers()
	s.stopAtEnd("node", "")
	for attempt := 1; ; attempt++ {
		s.pop3Port, s.pop3sPort, s.imapPort, s.imapsPort, n.lmtpPort = freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
		if err := os.WriteFile(s.cfg, []byte(n.config(o)), 0o600); err != nil {
			t.Fatal(err)
		}
		err := s.tryStart()
		if err == nil {
			break
		}
		s.mu.Lock()
		inUse := strings.Contains(s.stderr.String(), "address already in use")
		s.mu.Unlock()
		if !inUse || attempt == 3 {
			t.Fatal(err)
		}
	}
	n.waitLMTP()
	return n
}

func (n *node) config(o nodeOpts) string {
	ml := o.mailLocation
	if ml == "" {
		ml = "sqlite:" + filepath.Join(n.dir, "mail")
	}
	passdb := o.passdb
	if passdb == "" {
		passdb = "driver = passwd-file\n  args = " + n.users
	}
	return fmt.Sprintf(`protocols = imap pop3 lmtp
listen = 127.0.0.1
mail_location = %s
default_internal_user = root
auth_penalty = no
auth_failure_delay = 0
ssl = yes
ssl_cert = <%s
ssl_key = <%s
passdb {
  %s
}
service imap-login {
  inet_listener imap {
    port = %d
  }
  inet_listener imaps {
    port = %d
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = %d
  }
  inet_listener pop3s {
    port = %d
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    port = %d
  }
}
%s`, ml, certFile, keyFile, passdb, n.imapPort, n.imapsPort, n.pop3Port, n.pop3sPort, n.lmtpPort, o.extra)
}

// waitLMTP waits until the LMTP port accepts.
func (n *node) waitLMTP() {
	n.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.lmtpPort), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("lmtp port %d: %v", n.lmtpPort, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- two nodes on one PostgreSQL database (issue 9 items 5 and 6)

// startPair starts two nodes on one fresh PostgreSQL database, each with
// its own base_dir (admin socket).
func startPair(t *testing.T) (a, b *node, dsn string) {
	t.Helper()
	dsn = pgtest.DSN(t)
	a = startNode(t, nodeOpts{mailLocation: "postgres:" + dsn, extra: "base_dir = " + t.TempDir() + "\n"})
	b = startNode(t, nodeOpts{mailLocation: "postgres:" + dsn, extra: "base_dir = " + t.TempDir() + "\n"})
	return a, b, dsn
}

// lmtpClient is a minimal LMTP client (RFC 2033) for load: one connection,
// many transactions, one recipient each.
type lmtpClient struct {
	conn net.Conn
	tp   *textproto.Conn
}

func dialLMTPLoad(port int) (*lmtpClient, error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &lmtpClient{conn: conn, tp: textproto.NewConn(conn)}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := c.tp.ReadResponse(220); err != nil {
		conn.Close()
		return nil, err
	}
	if _, _, err := c.cmd(250, "LHLO twonode.test"); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *lmtpClient) cmd(code int, format string, args ...any) (int, string, error) {
	id, err := c.tp.Cmd(format, args...)
	if err != nil {
		return 0, "", err
	}
	c.tp.StartResponse(id)
	defer c.tp.EndResponse(id)
	return c.tp.ReadResponse(code)
}

// deliver sends one message to rcpt and returns nil only on a 250 for the
// recipient after DATA: the message is acknowledged.
func (c *lmtpClient) deliver(rcpt, msg string) error {
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := c.cmd(250, "MAIL FROM:<load@twonode.test>"); err != nil {
		return err
	}
	if _, _, err := c.cmd(250, "RCPT TO:<%s>", rcpt); err != nil {
		return err
	}
	if _, _, err := c.cmd(354, "DATA"); err != nil {
		return err
	}
	w := c.tp.DotWriter()
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	_, _, err := c.tp.ReadResponse(250)
	return err
}

func (c *lmtpClient) close() {
	c.conn.SetDeadline(time.Now().Add(2 * time.Second))
	c.cmd(221, "QUIT")
	c.conn.Close()
}

// fetchSubjects returns, per UID in INBOX, the Subject of each message,
// through a fresh IMAP session on n.
func fetchSubjects(t *testing.T, n *node) (uids []uint32, subjects map[uint32]string) {
	t.Helper()
	c := n.dialIMAP(t, true)
	c.login()
	c.ok("SELECT INBOX")
	u := c.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	subjects = map[uint32]string{}
	uidRe := regexp.MustCompile(`UID (\d+)`)
	subjRe := regexp.MustCompile(`Subject: (\S+)`)
	for _, l := range u {
		if !strings.HasPrefix(l, "* ") || !strings.Contains(l, " FETCH ") {
			continue
		}
		um, sm := uidRe.FindStringSubmatch(l), subjRe.FindStringSubmatch(l)
		if um == nil || sm == nil {
			t.Fatalf("FETCH line without UID or Subject: %q", l)
		}
		v, _ := strconv.ParseUint(um[1], 10, 32)
		uids = append(uids, uint32(v))
		subjects[uint32(v)] = sm[1]
	}
	c.ok("LOGOUT")
	return uids, subjects
}

// TestTwoNodesIdle: a session idling on node A is told of APPENDs and flag
// changes made through node B within a second (NOTIFY after commit,
// LISTEN on every node).
func TestTwoNodesIdle(t *testing.T) {
	a, b, _ := startPair(t)
	ca := a.dialIMAP(t, true)
	ca.login()
	ca.ok("SELECT INBOX")
	ca.send("idle1 IDLE\r\n")
	if l := ca.readLine(10 * time.Second); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	cb := b.dialIMAP(t, true)
	cb.login()
	var worst time.Duration
	for i := 1; i <= 5; i++ {
		msg := fmt.Sprintf("Subject: from-node-b-%d\r\n\r\nbody %d\r\n", i, i)
		cb.ok(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg))
		start := time.Now()
		ca.waitFor(regexp.MustCompile(fmt.Sprintf(`^\* %d EXISTS$`, i)), 5*time.Second)
		took := time.Since(start)
		worst = max(worst, took)
		if took > time.Second {
			t.Errorf("APPEND %d on node B reached the IDLE session on node A after %v, want within 1s", i, took)
		}
	}
	cb.ok("SELECT INBOX")
	cb.ok(`STORE 2 +FLAGS (\Flagged)`)
	start := time.Now()
	ca.waitFor(regexp.MustCompile(`^\* 2 FETCH \(.*FLAGS \([^)]*\\Flagged`), 5*time.Second)
	if took := time.Since(start); took > time.Second {
		t.Errorf("STORE on node B reached node A after %v", took)
	}
	cb.ok(`STORE 1 +FLAGS (\Deleted)`)
	cb.ok("EXPUNGE")
	ca.waitFor(regexp.MustCompile(`^\* 1 EXPUNGE$`), 5*time.Second)
	ca.send("DONE\r\n")
	if l, _ := ca.waitFor(regexp.MustCompile(`^idle1 `), 10*time.Second); !strings.HasPrefix(l, "idle1 OK") {
		t.Fatalf("IDLE DONE: %q", l)
	}
	t.Logf("slowest APPEND from node B to the IDLE session on node A: %v", worst)
}

// TestTwoNodesConcurrentLMTP: 2 x 100 LMTP deliveries to one mailbox,
// through both nodes at once (four connections each): every acknowledged
// message is there exactly once, UIDs are unique, and each connection's
// messages got increasing UIDs in the order they were acknowledged.
func TestTwoNodesConcurrentLMTP(t *testing.T) {
	a, b, _ := startPair(t)
	const perNode, conns = 100, 4
	type sent struct {
		subject string
		conn    int
		seq     int
	}
	var mu sync.Mutex
	var acked []sent
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	for ni, n := range []*node{a, b} {
		for ci := range conns {
			id := ni*conns + ci
			wg.Go(func() {
				c, err := dialLMTPLoad(n.lmtpPort)
				if err != nil {
					errs <- err
					return
				}
				defer c.close()
				for k := range perNode / conns {
					subj := fmt.Sprintf("n%d-c%d-m%d", ni, id, k)
					if err := c.deliver("alice@example.com", "Subject: "+subj+"\r\n\r\nload\r\n"); err != nil {
						errs <- fmt.Errorf("%s: %w", subj, err)
						return
					}
					mu.Lock()
					acked = append(acked, sent{subj, id, k})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(acked) != 2*perNode {
		t.Fatalf("%d deliveries acknowledged, want %d", len(acked), 2*perNode)
	}
	for _, n := range []*node{a, b} {
		uids, subjects := fetchSubjects(t, n)
		if len(uids) != 2*perNode {
			t.Fatalf("INBOX has %d messages, want %d", len(uids), 2*perNode)
		}
		count := map[string]int{}
		for i, u := range uids {
			if i > 0 && u <= uids[i-1] {
				t.Fatalf("UIDs not strictly increasing in sequence order: %d after %d", u, uids[i-1])
			}
			count[subjects[u]]++
		}
		uidOf := map[string]uint32{}
		for u, s := range subjects {
			uidOf[s] = u
		}
		last := map[int]uint32{}
		for _, s := range acked {
			if count[s.subject] != 1 {
				t.Errorf("acknowledged message %s is there %d times", s.subject, count[s.subject])
			}
			if u := uidOf[s.subject]; u <= last[s.conn] {
				t.Errorf("connection %d: %s got UID %d, not above the previous one's %d", s.conn, s.subject, u, last[s.conn])
			} else {
				last[s.conn] = u
			}
		}
	}
}

// TestTwoNodesKill9: deliveries and an IMAP session run through node A
// and node B; node A is killed with SIGKILL in the middle. Senders of A
// retry what was not acknowledged through B (as an MTA fails over), the
// IMAP client reconnects to B. Every message acknowledged with 250 is in
// the mailbox exactly once; a message whose attempt on A failed is there
// at least once (its first copy may have been committed before the kill:
// LMTP, like SMTP, is at-least-once when the reply is lost).
func TestTwoNodesKill9(t *testing.T) {
	a, b, _ := startPair(t)
	idle := a.dialIMAP(t, true)
	idle.login()
	idle.ok("SELECT INBOX")
	idle.send("idle1 IDLE\r\n")
	if l := idle.readLine(10 * time.Second); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}

	const perSender = 40
	var mu sync.Mutex
	ackedOnce := map[string]bool{} // acknowledged by the first node tried
	retried := map[string]bool{}   // first attempt failed, acknowledged by B
	var wg sync.WaitGroup
	var deliveredA atomic.Int32
	killed := make(chan struct{})
	sender := func(name string, first *node) {
		defer wg.Done()
		c, err := dialLMTPLoad(first.lmtpPort)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		onB := first == b
		for k := range perSender {
			subj := fmt.Sprintf("%s-m%d", name, k)
			msg := "Subject: " + subj + "\r\n\r\nkill test\r\n"
			err := c.deliver("alice@example.com", msg)
			if err == nil {
				mu.Lock()
				ackedOnce[subj] = true
				mu.Unlock()
				if !onB {
					deliveredA.Add(1)
				}
				continue
			}
			if onB {
				t.Errorf("%s: delivery through node B failed: %v", subj, err)
				return
			}
			// Node A is gone: fail over to B and retry this message.
			c.conn.Close()
			<-killed
			if c, err = dialLMTPLoad(b.lmtpPort); err != nil {
				t.Errorf("%s: failover to node B: %v", name, err)
				return
			}
			onB = true
			if err := c.deliver("alice@example.com", msg); err != nil {
				t.Errorf("%s: retry through node B: %v", subj, err)
				return
			}
			mu.Lock()
			retried[subj] = true
			mu.Unlock()
		}
		c.close()
	}
	for i := range 3 {
		wg.Add(2)
		go sender(fmt.Sprintf("a%d", i), a)
		go sender(fmt.Sprintf("b%d", i), b)
	}
	// Kill node A once it has acknowledged some of its share.
	deadline := time.Now().Add(30 * time.Second)
	for deliveredA.Load() < 3*perSender/3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	a.kill9()
	close(killed)
	wg.Wait()
	if t.Failed() {
		return
	}
	// The IMAP client notices its connection is gone and reconnects to B.
	if _, err := idle.tryReadLine(10 * time.Second); err == nil {
		for {
			if _, err := idle.tryReadLine(10 * time.Second); err != nil {
				break
			}
		}
	}
	uids, subjects := fetchSubjects(t, b)
	count := map[string]int{}
	for _, u := range uids {
		count[subjects[u]]++
	}
	for s := range ackedOnce {
		if count[s] != 1 {
			t.Errorf("message %s, acknowledged with 250, is there %d times", s, count[s])
		}
	}
	for s := range retried {
		if count[s] < 1 || count[s] > 2 {
			t.Errorf("message %s, retried on node B after node A died, is there %d times", s, count[s])
		}
	}
	if len(ackedOnce)+len(retried) != 6*perSender {
		t.Errorf("%d messages acknowledged in all, want %d", len(ackedOnce)+len(retried), 6*perSender)
	}
	t.Logf("node A killed after %d of its deliveries; %d messages retried on node B; %d in the mailbox",
		deliveredA.Load(), len(retried), len(uids))
}

// popConn is a raw POP3 connection (plaintext on loopback is secure by
// Dovecot's rule).
type popConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialPOP3(t *testing.T, n *node) *popConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.pop3Port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &popConn{t: t, c: c, r: bufio.NewReader(c)}
	if g := p.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("POP3 greeting %q", g)
	}
	return p
}

func (p *popConn) line() string {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("POP3 read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

func (p *popConn) cmd(s string) string {
	p.t.Helper()
	fmt.Fprintf(p.c, "%s\r\n", s)
	return p.line()
}

// TestTwoNodesPOP3Lock: POP3 allows one session per maildrop across
// nodes: while alice is in a POP3 session on node A, a login on node B
// gets -ERR [IN-USE]; after QUIT on A, B may log in. A node killed with
// SIGKILL releases its sessions' locks (they belong to its database
// connections).
func TestTwoNodesPOP3Lock(t *testing.T) {
	a, b, _ := startPair(t)
	pa := dialPOP3(t, a)
	pa.cmd("USER alice")
	if r := pa.cmd("PASS " + alicePass); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("node A PASS: %q", r)
	}
	pb := dialPOP3(t, b)
	pb.cmd("USER alice")
	if r := pb.cmd("PASS " + alicePass); r != "-ERR [IN-USE] Mailbox is locked by another POP3 session." {
		t.Fatalf("node B PASS while node A holds the maildrop: %q", r)
	}
	if r := pa.cmd("QUIT"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("node A QUIT: %q", r)
	}
	pb = dialPOP3(t, b)
	pb.cmd("USER alice")
	if r := pb.cmd("PASS " + alicePass); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("node B PASS after node A's QUIT: %q", r)
	}
	// Now B holds it; A refuses, then B's node dies and A may log in.
	pa = dialPOP3(t, a)
	pa.cmd("USER alice")
	if r := pa.cmd("PASS " + alicePass); !strings.HasPrefix(r, "-ERR [IN-USE]") {
		t.Fatalf("node A PASS while node B holds the maildrop: %q", r)
	}
	b.kill9()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pa = dialPOP3(t, a)
		pa.cmd("USER alice")
		r := pa.cmd("PASS " + alicePass)
		if strings.HasPrefix(r, "+OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node A PASS after node B was killed: %q", r)
		}
		pa.c.Close()
		time.Sleep(200 * time.Millisecond)
	}
	pa.cmd("QUIT")
}
