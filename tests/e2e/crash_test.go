package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKill9ServerAfterDeliver: once `deliver` has exited 0 the message is
// durable, even if the server is killed with SIGKILL right away.
func TestKill9ServerAfterDeliver(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	all := corpus()
	var msgs []corpusMsg
	for _, i := range []int{0, 2, 4} { // plain, multipart-mixed (200 KB), 8-bit UTF-8
		m := all[i]
		s.deliver("alice", m.raw)
		s.kill9()
		s.start()
		msgs = append(msgs, m)
		checkPOP(t, fmt.Sprintf("after kill -9 #%d", len(msgs)), s.popFetch("ssl"), msgs)
	}
	// Deletions acknowledged by QUIT's +OK survive a kill -9 right after.
	s.poplib(popReq{Mode: "ssl", Action: "dele", Numbers: []int{1, 3}, Quit: true})
	s.kill9()
	s.start()
	checkPOP(t, "after DELE 1 3, QUIT and kill -9", s.popFetch("ssl"), msgs[1:2])
}

// crashMessage is a multi-megabyte message unlike bigMessage (distinct
// content, so a partial copy of one cannot pass for the other).
func crashMessage() corpusMsg {
	data := randBytes(77, 3<<20)
	return corpusMsg{"crash-3mb", []byte(header("crash-3mb", "Killed while delivering") +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		b64Lines(data))}
}

// TestKill9DuringDeliver kills `deliver` with SIGKILL at many points: while
// it is still reading the message, and at increasing delays after the whole
// message was written and stdin closed (so some kills land while it
// stores, fsyncs and commits). The server is killed too and restarted.
// Afterwards every message in the mailbox is complete: a delivery that
// exited 0 is there, a killed one is either there complete or not at all,
// one killed mid-message is not there; and the store still takes mail.
func TestKill9DuringDeliver(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	base := corpus()[0]
	s.deliver("alice", base.raw)
	crash := crashMessage()

	acked, maybe := 0, 0
	// Killed mid-message: the message cannot be complete, so nothing new.
	for _, frac := range []int{4, 2} {
		s.deliverKilled(crash.raw[:len(crash.raw)/frac], false, 0)
	}
	for _, ms := range []int{0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 60, 150} {
		if s.deliverKilled(crash.raw, true, time.Duration(ms)*time.Millisecond) {
			acked++
		} else {
			maybe++
		}
	}
	t.Logf("deliveries: %d exited 0 before the kill, %d killed after writing the whole message", acked, maybe)
	s.kill9()
	s.start()

	res := s.popFetch("ssl")
	if len(res.Msgs) == 0 || !bytes.Equal(res.Msgs[0], base.want()) {
		t.Fatalf("first message lost or changed after the kills (%d messages)", len(res.Msgs))
	}
	complete := 0
	for i, m := range res.Msgs[1:] {
		if bytes.Equal(m, crash.want()) {
			complete++
			continue
		}
		t.Errorf("message %d is not a complete copy of the message being delivered: %s", i+2, diffAt(m, crash.want()))
	}
	if complete < acked || complete > acked+maybe {
		t.Errorf("%d complete copies stored; want between %d (acknowledged) and %d", complete, acked, acked+maybe)
	}
	checkUniqueUIDLs(t, res)

	// The store still works: a new delivery is stored and readable.
	after := corpus()[1]
	s.deliver("alice", after.raw)
	res2 := s.popFetch("stls")
	if n := len(res2.Msgs); n != len(res.Msgs)+1 || !bytes.Equal(res2.Msgs[n-1], after.want()) {
		t.Errorf("delivery after the crashes: %d messages (want %d), last one intact: %t",
			n, len(res.Msgs)+1, n > 0 && bytes.Equal(res2.Msgs[n-1], after.want()))
	}
	checkUniqueUIDLs(t, res2)
}

func checkUniqueUIDLs(t *testing.T, res popRes) {
	t.Helper()
	seen := map[string]string{}
	for n, u := range res.UIDL {
		if o, dup := seen[u]; dup {
			t.Errorf("messages %s and %s share UIDL %q", o, n, u)
		}
		seen[u] = n
	}
}

// deliverKilled starts a delivery to alice, writes msg to it, closes stdin
// if closeIn, waits delay and kills it with SIGKILL. It reports whether the
// delivery had already exited 0 (acknowledged) before the kill; any other
// exit before the kill fails the test.
func (s *server) deliverKilled(msg []byte, closeIn bool, delay time.Duration) bool {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := s.deliverCmd(ctx, "alice")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write(msg); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("writing to deliver: %v\n%s", err, stderr.Bytes())
	}
	if closeIn {
		in.Close()
	}
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL) // a no-op if it has exited (not yet reaped)
	err = cmd.Wait()
	if !closeIn {
		in.Close()
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		if !closeIn {
			t.Fatalf("deliver exited 0 before its input was complete")
		}
		return true
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return false
		}
		t.Fatalf("deliver failed before it was killed: %v\n%s", err, strings.TrimSpace(stderr.String()))
	default:
		t.Fatalf("deliver: %v", err)
	}
	return false
}

// TestKill9KeepsFlags: under the default mail_fsync = optimized, flag
// changes are committed without fsync, which only a power loss or OS crash
// can undo: a STORE and the implicit \Seen of FETCH BODY[] acknowledged
// just before a kill -9 of the server are there after the restart.
func TestKill9KeepsFlags(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{imap: true})
	all := corpus()
	s.deliver("alice", all[0].raw)
	s.deliver("alice", all[2].raw)

	c := s.dialIMAP(t, true)
	c.login()
	c.ok("SELECT INBOX")
	// S: * 1 FETCH (UID 1 FLAGS (\Flagged $Important))
	c.ok(`UID STORE 1 +FLAGS.SILENT (\Flagged $Important)`)
	// The body FETCH sets \Seen (RFC 9051 6.4.5) and reports it.
	if u := c.ok("UID FETCH 2 BODY[]"); !strings.Contains(strings.Join(u, "\n"), `\Seen`) {
		t.Fatalf("FETCH BODY[] did not report \\Seen:\n%s", strings.Join(u, "\n"))
	}
	s.kill9()
	s.start()

	c = s.dialIMAP(t, true)
	c.login()
	c.ok("EXAMINE INBOX")
	got := strings.Join(c.ok("UID FETCH 1:2 (UID FLAGS)"), "\n")
	for uid, want := range map[string]string{"1": `$Important \Flagged`, "2": `\Seen`} {
		m := regexp.MustCompile(`UID ` + uid + ` FLAGS \(([^)]*)\)`).FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("after kill -9: no FLAGS for UID %s in\n%s", uid, got)
		}
		// \Recent (IMAP4rev1) is per session and not stored; order is free.
		flags := slices.DeleteFunc(strings.Fields(m[1]), func(f string) bool { return f == `\Recent` })
		slices.Sort(flags)
		if strings.Join(flags, " ") != want {
			t.Errorf("after kill -9: UID %s has FLAGS (%s), want (%s)", uid, m[1], want)
		}
	}
}
