package lmtpserver

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes to an LMTP session (after the
// greeting) and checks that the server neither panics nor stops serving:
// every reply line is a 3-digit code, and a new connection still gets a
// greeting. LMTP is unauthenticated, so this is the surface any host that
// can reach the listener sees.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n",
		"LHLO x\r\nMAIL FROM:<> SIZE=10\r\nRCPT TO:<alice+tag@x>\r\nRCPT TO:<nobody@x>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n..dot\r\n.\r\n",
		"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nBDAT 5 LAST\r\nhello",
		"HELO x\r\nEHLO y\r\nMAIL FROM:<\x00>\r\nRCPT TO:\r\nDATA\r\n",
		"LHLO x\r\nMAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<ålice@exämple>\r\nRSET\r\nNOOP\r\nVRFY alice\r\n",
		strings.Repeat("A", 5000) + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		nc, err := net.DialTimeout("tcp", e.addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(3 * time.Second))
		go func() {
			nc.Write(in)
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
		}()
		out, _ := io.ReadAll(nc) // ends at close or at the deadline
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
			if line == "" {
				continue
			}
			if len(line) < 3 || line[0] < '2' || line[0] > '5' {
				t.Fatalf("reply line %q is not an SMTP reply; input %q", line, in)
			}
		}
		c, err := net.DialTimeout("tcp", e.addr, ioTimeout)
		if err != nil {
			t.Fatalf("server stopped accepting after %q: %v", in, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioTimeout))
		g := make([]byte, 4)
		if _, err := io.ReadFull(c, g); err != nil || string(g) != "220 " {
			t.Fatalf("no greeting after %q: %q %v", in, g, err)
		}
		if strings.Contains(e.logs.String(), "panic") {
			t.Fatalf("server panicked on %q:\n%s", in, e.logs.String())
		}
	})
}
