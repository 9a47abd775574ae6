package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentDeliveries runs many `deliver` processes at once (as an
// MTA does) while POP3 sessions read the mailbox: every delivery must
// succeed and every message be stored intact with its own UIDL.
func TestConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	const n = 24
	var msgs []corpusMsg
	for i := range n {
		name := fmt.Sprintf("concurrent-%02d", i)
		body := strings.Repeat(fmt.Sprintf("line %d of %s\r\n", i, name), 200+i*50)
		msgs = append(msgs, corpusMsg{name, []byte(header(name, name) + "Content-Type: text/plain\r\n\r\n" + body)})
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	outs := make([]string, n)
	for i, m := range msgs {
		wg.Go(func() { codes[i], outs[i] = s.deliverCode("alice", m.raw) })
	}
	// Readers during the deliveries, one session at a time: roost locks
	// the maildrop ([IN-USE] for a second session, RFC 1939).
	wg.Go(func() {
		for range 3 {
			s.poplib(popReq{Mode: "ssl", Action: "fetch"})
		}
	})
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("concurrent delivery %d: exit %d\n%s", i, c, outs[i])
		}
	}
	res := s.popFetch("ssl")
	checkByName(t, "poplib after concurrent deliveries", res.Msgs, msgs, wantExact)
	checkUniqueUIDLs(t, res)
}

// TestShutdownWithClients: SIGTERM stops the server promptly and cleanly
// while one client idles after login and another downloads 20 MB slowly.
func TestShutdownWithClients(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startServer(t, serverOpts{})
	s.deliver("alice", bigMessage().raw)

	// An idle, logged-in client (loopback: USER/PASS allowed without TLS),
	// as bob: alice's maildrop lock must stay free for the download.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.pop3Port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	expectOK := func(cmd string) {
		t.Helper()
		if cmd != "" {
			fmt.Fprintf(c, "%s\r\n", cmd)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("%q: %q, %v", cmd, line, err)
		}
	}
	expectOK("")
	expectOK("USER bob")
	expectOK("PASS " + bobPass)

	// A slow download (1 MB/s: 20 s if undisturbed).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dl := exec.CommandContext(ctx, curl, "-sS", "--limit-rate", "1M", "--cacert", caFile, "-u", "alice:"+alicePass,
		"-o", filepath.Join(s.dir, "slow-download"), fmt.Sprintf("pop3s://127.0.0.1:%d/1", s.pop3sPort))
	var dlErr bytes.Buffer
	dl.Stderr = &dlErr
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)

	start := time.Now()
	s.stop() // asserts exit 0 within 15 s
	t.Logf("server stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	err = dl.Wait()
	t.Logf("slow download ended: %v %s", err, strings.TrimSpace(dlErr.String()))
	// The server may finish the transfer or cut it after its shutdown
	// grace period; either is fine. Note: curl (7.88) exits 0 even when
	// the connection ends in the middle of a RETR, without the final ".".
	if fi, err := os.Stat(filepath.Join(s.dir, "slow-download")); err == nil {
		t.Logf("slow download: %d of %d bytes", fi.Size(), len(bigMessage().want()))
	}

	// The idle client was told or at least disconnected.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := r.ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("idle client still connected after the server stopped")
	} else {
		t.Logf("idle client got %q (%v)", rest, err)
	}
	s.start() // Cleanup stops it again
}
