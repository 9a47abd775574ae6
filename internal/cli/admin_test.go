package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore"
)

// adminListeners configures IMAP and POP3 on free loopback ports (port 0
// disables a listener, as in Dovecot).
func adminListeners(t *testing.T) string {
	t.Helper()
	port := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	return fmt.Sprintf("service imap-login {\n  inet_listener imap {\n    port = %d\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n"+
		"service pop3-login {\n  inet_listener pop3 {\n    port = %d\n  }\n  inet_listener pop3s {\n    port = 0\n  }\n}\n", port(), port())
}

// startApp runs the server in-process on the test configuration (IMAP and
// POP3 on loopback, ephemeral ports).
func startApp(t *testing.T) (*app.App, string) {
	t.Helper()
	path, _ := testConfig(t, adminListeners(t))
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), "protocols = pop3", "protocols = imap pop3", 1)), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return a, path
}

// lineConn is a line-oriented protocol client.
type lineConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialLines(t *testing.T, addr net.Addr) *lineConn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &lineConn{t, c, bufio.NewReader(c)}
}

func (l *lineConn) line() string {
	l.t.Helper()
	s, err := l.r.ReadString('\n')
	if err != nil {
		l.t.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimRight(s, "\r\n")
}

func (l *lineConn) send(s string) {
	l.t.Helper()
	if _, err := l.c.Write([]byte(s + "\r\n")); err != nil {
		l.t.Fatal(err)
	}
}

// imap sends a tagged command and returns the untagged lines; the tagged
// reply must be OK.
func (l *lineConn) imap(tag, cmd string) []string {
	l.t.Helper()
	l.send(tag + " " + cmd)
	var untagged []string
	for {
		s := l.line()
		if strings.HasPrefix(s, tag+" ") {
			if !strings.HasPrefix(s, tag+" OK") {
				l.t.Fatalf("%s: %s", cmd, s)
			}
			return untagged
		}
		untagged = append(untagged, s)
	}
}

// pop3 sends a command and checks the reply starts with +OK.
func (l *lineConn) pop3(cmd string) string {
	l.t.Helper()
	l.send(cmd)
	s := l.line()
	if !strings.HasPrefix(s, "+OK") {
		l.t.Fatalf("%s: %s", cmd, s)
	}
	return s
}

func appendMsgs(t *testing.T, st mailstore.Store, msgs ...mailstore.NewMessage) {
	t.Helper()
	ctx := context.Background()
	acct, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	for i, m := range msgs {
		body := fmt.Sprintf("From: bob@example.org\r\nSubject: message %d\r\n\r\nhello\r\n", i+1)
		if _, _, err := acct.Append(ctx, "INBOX", m, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, stderr := run(t, "", args...)
	if code != 0 {
		t.Fatalf("roost %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return out
}

func TestAdminRunningServer(t *testing.T) {
	a, cfg := startApp(t)
	if st, err := os.Stat(a.AdminSocket()); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v %v", st, err)
	}
	old := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	appendMsgs(t, a.Store(),
		mailstore.NewMessage{Flags: []string{mailstore.FlagSeen}, InternalDate: old},                    // 1: expunged
		mailstore.NewMessage{InternalDate: old},                                                         // 2: unseen
		mailstore.NewMessage{Flags: []string{mailstore.FlagSeen}, InternalDate: time.Now()},             // 3: new
		mailstore.NewMessage{Flags: []string{mailstore.FlagSeen, `\Flagged`}, InternalDate: old},        // 4: expunged
		mailstore.NewMessage{Flags: []string{mailstore.FlagSeen}, InternalDate: old.AddDate(1, 0, 100)}, // 5: 2026-08
	)

	im := dialLines(t, a.Addr("imap"))
	im.line() // greeting
	im.imap("a1", "LOGIN alice secret")
	im.imap("a2", "SELECT INBOX")
	po := dialLines(t, a.Addr("pop3"))
	po.line()
	po.pop3("USER alice")
	po.pop3("PASS secret")

	// who shows both sessions with their fields.
	var who []admin.Session
	if err := json.Unmarshal([]byte(runOK(t, "who", "-c", cfg, "--json")), &who); err != nil {
		t.Fatal(err)
	}
	if len(who) != 2 {
		t.Fatalf("who: %+v", who)
	}
	byProto := map[string]admin.Session{}
	for _, s := range who {
		byProto[s.Protocol] = s
	}
	if s := byProto["imap"]; s.User != "alice" || s.Remote != "127.0.0.1" || s.Mailbox != "INBOX" || time.Since(s.Since) > time.Minute {
		t.Errorf("imap session %+v", s)
	}
	if s := byProto["pop3"]; s.User != "alice" || s.Remote != "127.0.0.1" || s.Mailbox != "" || s.Since.IsZero() {
		t.Errorf("pop3 session %+v", s)
	}
	if out := runOK(t, "who", "-c", cfg); !strings.Contains(out, "USER") || !strings.Contains(out, "alice") || !strings.Contains(out, "INBOX") {
		t.Errorf("who table:\n%s", out)
	}

	// A mailbox created with the CLI is in the connected client's LIST.
	runOK(t, "mailbox", "create", "-c", cfg, "-u", "alice", "Projects/Roost")
	if got := strings.Join(im.imap("a3", `LIST "" "Projects/*"`), "\n"); !strings.Contains(got, "Projects/Roost") {
		t.Errorf("LIST after mailbox create: %q", got)
	}
	runOK(t, "mailbox", "rename", "-c", cfg, "-u", "alice", "Projects/Roost", "Projects/Nest")
	if got := strings.Join(im.imap("a4", `LIST "" "Projects/*"`), "\n"); !strings.Contains(got, "Projects/Nest") || strings.Contains(got, "Roost") {
		t.Errorf("LIST after mailbox rename: %q", got)
	}
	var list []admin.MailboxInfo
	json.Unmarshal([]byte(runOK(t, "mailbox", "list", "-c", cfg, "-u", "alice", "--json")), &list)
	found := false
	for _, m := range list {
		if m.Name == "INBOX" && m.Messages == 5 && m.Unseen == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("mailbox list --json: %+v", list)
	}

	// expunge removes exactly the matching messages; the selected session
	// hears of it at its next NOOP (sequence numbers 4 then 1).
	out := runOK(t, "expunge", "-c", cfg, "-u", "alice", "-m", "INBOX", "--json", "SEEN", "BEFORE", "1-Jan-2026")
	var ex admin.ExpungeResult
	if err := json.Unmarshal([]byte(out), &ex); err != nil || fmt.Sprint(ex.Expunged) != "[1 4]" {
		t.Fatalf("expunge: %s %v", out, err)
	}
	if got := strings.Join(im.imap("a5", "NOOP"), "\n"); !strings.Contains(got, "* 4 EXPUNGE") || !strings.Contains(got, "* 1 EXPUNGE") {
		t.Errorf("NOOP after expunge: %q", got)
	}
	if got := strings.Join(im.imap("a6", "UID SEARCH ALL"), "\n"); got != "* SEARCH 2 3 5" {
		t.Errorf("UID SEARCH after expunge: %q", got)
	}
	if out := runOK(t, "mailbox", "status", "-c", cfg, "-u", "alice", "INBOX"); !strings.HasPrefix(out, "messages=3 unseen=1 ") || !strings.Contains(out, "uidnext=6") {
		t.Errorf("mailbox status: %q", out)
	}

	// kick: the IMAP client reads BYE, the POP3 client -ERR; POP3's DELE is
	// not carried out.
	po.pop3("DELE 1")
	out = runOK(t, "kick", "-c", cfg, "-u", "alice")
	if !strings.Contains(out, "kicked 2 session") {
		t.Errorf("kick: %q", out)
	}
	if s := im.line(); s != "* BYE Kicked by administrator" {
		t.Errorf("IMAP after kick: %q", s)
	}
	if s := po.line(); !strings.HasPrefix(s, "-ERR") || !strings.Contains(s, "Kicked by administrator") {
		t.Errorf("POP3 after kick: %q", s)
	}
	for _, c := range []*lineConn{im, po} {
		if s, err := c.r.ReadString('\n'); err == nil {
			t.Errorf("connection still open after kick: %q", s)
		}
	}
	if out := runOK(t, "mailbox", "status", "-c", cfg, "-u", "alice", "INBOX"); !strings.HasPrefix(out, "messages=3 ") {
		t.Errorf("POP3 kick deleted mail: %q", out)
	}
	if out := runOK(t, "who", "-c", cfg, "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("who after kick: %s", out)
	}

	// Errors and exit codes through the socket.
	for _, c := range []struct {
		code int
		args []string
	}{
		{exitNoUser, []string{"mailbox", "list", "-c", cfg, "-u", "mallory"}},
		{exitFailure, []string{"mailbox", "status", "-c", cfg, "-u", "alice", "Nope"}},
		{exitFailure, []string{"mailbox", "create", "-c", cfg, "-u", "alice", "INBOX"}},
		{exitFailure, []string{"mailbox", "delete", "-c", cfg, "-u", "alice", "INBOX"}},
		{exitUsage, []string{"expunge", "-c", cfg, "-u", "alice", "-m", "INBOX", "BEFORE", "tomorrow"}},
		{exitUsage, []string{"mailbox", "status", "-c", cfg, "INBOX"}},
	} {
		if code, _, stderr := run(t, "", c.args...); code != c.code || stderr == "" {
			t.Errorf("roost %s: exit %d (%q), want %d", strings.Join(c.args, " "), code, stderr, c.code)
		}
	}
}

// Without a running server, who and kick fail with 69 and the store
// commands open the store themselves.
func TestAdminNoServer(t *testing.T) {
	cfg, dir := testConfig(t, "")
	for _, args := range [][]string{{"who", "-c", cfg}, {"kick", "-c", cfg, "-u", "alice"}} {
		code, _, stderr := run(t, "", args...)
		if code != exitUnavailable || !strings.Contains(stderr, "server not running") {
			t.Errorf("roost %s: exit %d %q, want 69", args[0], code, stderr)
		}
	}
	runOK(t, "mailbox", "create", "-c", cfg, "-u", "alice", "-s", `\Archive`, "Old")
	var list []admin.MailboxInfo
	json.Unmarshal([]byte(runOK(t, "mailbox", "list", "-c", cfg, "-u", "alice", "--json")), &list)
	special := ""
	for _, m := range list {
		if m.Name == "Old" {
			special = m.SpecialUse
		}
	}
	if special != `\Archive` {
		t.Errorf("created mailbox: %+v", list)
	}
	if out := runOK(t, "mailbox", "list", "-c", cfg, "-u", "alice"); !strings.HasPrefix(out, "INBOX\n") || !strings.Contains(out, "\nOld\n") {
		t.Errorf("mailbox list: %q", out)
	}
	runOK(t, "mailbox", "delete", "-c", cfg, "-u", "alice", "Old")
	if code, _, _ := run(t, "", "mailbox", "status", "-c", cfg, "-u", "alice", "Old"); code != exitFailure {
		t.Errorf("status of deleted mailbox: exit %d", code)
	}
	if code, _, _ := run(t, "", "mailbox", "list", "-c", cfg, "-u", "nobody"); code != exitNoUser {
		t.Errorf("unknown user: exit %d, want 67", code)
	}
	if out := runOK(t, "expunge", "-c", cfg, "-u", "alice", "-m", "INBOX", "ALL"); !strings.Contains(out, "expunged 0 message") {
		t.Errorf("expunge: %q", out)
	}
	for _, args := range [][]string{
		{"mailbox", "list", "-c", cfg},
		{"mailbox", "rename", "-c", cfg, "-u", "alice", "A"},
		{"expunge", "-c", cfg, "-u", "alice", "SEEN"},
		{"expunge", "-c", cfg, "-u", "alice", "-m", "INBOX"},
	} {
		if code, _, _ := run(t, "", args...); code != exitUsage {
			t.Errorf("roost %s: exit %d, want 64", strings.Join(args, " "), code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mail", admin.SocketName)); !os.IsNotExist(err) {
		t.Errorf("socket exists without a server: %v", err)
	}
}

func TestSearchQueryWords(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{`SEEN SUBJECT "a b"`}, `SEEN SUBJECT "a b"`},
		{[]string{"SEEN", "BEFORE", "1-Jan-2026"}, "SEEN BEFORE 1-Jan-2026"},
		{[]string{"SUBJECT", `say "hi" now`}, `SUBJECT "say \"hi\" now"`},
		{[]string{"(", "SEEN", ")", "FROM", ""}, `( SEEN ) FROM ""`},
	} {
		if got := searchQuery(c.args); got != c.want {
			t.Errorf("searchQuery(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}
