package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestOpensslSClient runs a scripted POP3 session through openssl s_client,
// with STARTTLS (-starttls pop3) and with implicit TLS, verifying the
// certificate and host name. The commands are pipelined: s_client sends
// all of stdin as soon as the handshake is done.
func TestOpensslSClient(t *testing.T) {
	t.Parallel()
	openssl := requireTool(t, "openssl", "openssl")
	s := startServer(t, serverOpts{})
	m := corpus()[0]
	s.deliver("alice", m.raw)
	size := len(m.want())

	for _, c := range []struct {
		name string
		args []string
		// +OK lines expected: s_client consumes the greeting and the STLS
		// reply itself with -starttls; with implicit TLS the greeting is
		// printed.
		wantOK int
	}{
		{"starttls", []string{"-connect", fmt.Sprintf("127.0.0.1:%d", s.pop3Port), "-starttls", "pop3"}, 4},
		{"pop3s", []string{"-connect", fmt.Sprintf("127.0.0.1:%d", s.pop3sPort)}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"s_client"}, c.args...)
			args = append(args, "-quiet", "-crlf", "-ign_eof", "-CAfile", caFile,
				"-verify_return_error", "-verify_hostname", "localhost")
			in := "USER alice\nPASS " + alicePass + "\nSTAT\nQUIT\n"
			out, stderr, code := runCmd(t, []byte(in), openssl, args...)
			if code != 0 {
				t.Fatalf("openssl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, stderr)
			}
			lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n"), "\n")
			ok := 0
			for _, l := range lines {
				switch {
				case strings.HasPrefix(l, "+OK"):
					ok++
				case strings.HasPrefix(l, "-ERR"):
					t.Errorf("error reply: %q", l)
				}
			}
			if ok != c.wantOK {
				t.Errorf("%d +OK replies, want %d; output:\n%s", ok, c.wantOK, out)
			}
			wantStat := fmt.Sprintf("+OK 1 %d", size)
			found := false
			for _, l := range lines {
				if l == wantStat || strings.HasPrefix(l, wantStat+" ") {
					found = true
				}
			}
			if !found {
				t.Errorf("no STAT reply %q in output:\n%s", wantStat, out)
			}
		})
	}
}
