package app

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/testutil"
)

// With every auth logging setting at its default, no password, hash or
// SASL payload appears in any log line at any level, after good and bad
// logins through every mechanism of IMAP and POP3 (issue 5).
func TestNoSecretsInLogs(t *testing.T) {
	const (
		goodPass = "Corr3ct-Horse-Battery"
		badPass  = "Wr0ng-Guess-Staple"
	)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte("alice:{PLAIN}"+goodPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	imapPort, pop3Port := freePort(t), freePort(t)
	conf := fmt.Sprintf("protocols = imap pop3\nlisten = 127.0.0.1\nmail_location = sqlite:%s/mail\nssl = no\n"+
		"auth_mechanisms = plain login\nauth_failure_delay = 0\nauth_penalty = no\n"+
		"passdb {\n driver = passwd-file\n args = %s/users\n}\n"+
		"service imap-login {\n inet_listener imap {\n port = %d\n }\n inet_listener imaps {\n port = 0\n }\n}\n"+
		"service pop3-login {\n inet_listener pop3 {\n port = %d\n }\n inet_listener pop3s {\n port = 0\n }\n}\n",
		dir, dir, imapPort, pop3Port)
	cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.LogBuffer{}
	a, err := Start(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	// Each session: the lines to send, one at a time, reading one reply
	// line (or more, until a tagged/status line) after each.
	imapSessions := [][]string{
		{"a LOGIN alice " + badPass, "b LOGIN alice " + goodPass, "c LOGOUT"},
		{"a LOGIN nobody " + badPass, "z LOGOUT"},
		{"a AUTHENTICATE PLAIN " + b64("\x00alice\x00"+badPass), "b AUTHENTICATE PLAIN " + b64("\x00alice\x00"+goodPass), "z LOGOUT"},
		{"a AUTHENTICATE PLAIN", b64("\x00alice\x00" + badPass), "z LOGOUT"},
		{"a AUTHENTICATE LOGIN", b64("alice"), b64(badPass), "b AUTHENTICATE LOGIN", b64("alice"), b64(goodPass), "z LOGOUT"},
		{"a AUTHENTICATE PLAIN " + b64("garbage-"+badPass), "z LOGOUT"},
	}
	pop3Sessions := [][]string{
		{"USER alice", "PASS " + badPass, "USER alice", "PASS " + goodPass, "QUIT"},
		{"AUTH PLAIN " + b64("\x00alice\x00"+badPass), "AUTH PLAIN " + b64("\x00alice\x00"+goodPass), "QUIT"},
		{"AUTH LOGIN", b64("alice"), b64(badPass), "QUIT"},
	}
	run := func(port int, lines []string) {
		t.Helper()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil { // greeting
			t.Fatal(err)
		}
		for _, l := range lines {
			fmt.Fprintf(c, "%s\r\n", l)
			for {
				reply, err := r.ReadString('\n')
				if err != nil {
					return // the server may close after LOGOUT/QUIT or failures
				}
				if !strings.HasPrefix(reply, "* ") {
					break
				}
			}
		}
	}
	for _, s := range imapSessions {
		run(imapPort, s)
	}
	for _, s := range pop3Sessions {
		run(pop3Port, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.Shutdown(ctx)

	out := logs.String()
	if !strings.Contains(out, "imap login") || !strings.Contains(out, "alice") {
		t.Fatalf("the logins did not reach the log; the scan would prove nothing:\n%s", out)
	}
	for _, secret := range []string{goodPass, badPass, b64("\x00alice\x00" + goodPass), b64("\x00alice\x00" + badPass), b64(goodPass), b64(badPass), "garbage-"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
