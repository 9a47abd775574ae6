package imapserver

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/auth"
)

// FuzzSession feeds arbitrary bytes to a fresh session and to a logged-in
// one. The session must never panic and must end once the client closes
// its side (it never hangs).
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"a1 CAPABILITY\r\n",
		"a1 LOGIN alice " + quote(alicePass) + "\r\na2 LIST \"\" *\r\n",
		"a1 AUTHENTICATE PLAIN\r\n" + b64("\x00alice\x00"+alicePass) + "\r\n",
		"a1 AUTHENTICATE PLAIN =\r\n*\r\n",
		"a1 LOGIN {5}\r\nalice {3+}\r\nabc\r\n",
		"a1 APPEND INBOX (\\Seen) {5+}\r\nhello\r\n",
		"a1 APPEND INBOX {3+}\r\nabc {3+}\r\ndef\r\n",
		"a1 CREATE \"&Jjo-/x\" (USE (\\Drafts))\r\na2 RENAME \"&Jjo-\" y\r\n",
		"a1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (% * INBOX) RETURN (STATUS (MESSAGES SIZE) CHILDREN)\r\n",
		"a1 LSUB \"\" %\r\na2 SUBSCRIBE x\r\na3 UNSUBSCRIBE x\r\n",
		"a1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT APPENDLIMIT)\r\n",
		"a1 ENABLE IMAP4rev2 UTF8=ACCEPT\r\na2 ID (\"name\" \"x\")\r\na3 NAMESPACE\r\n",
		"a1 SELECT INBOX\r\na2 NOOP\r\na3 LOGOUT\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"a1 STARTTLS\r\n",
		"\x00\xff\r\n}{\r\n",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	ts := newTestServer(f, withAuth(func(o *auth.Options) { o.DisablePlaintextAuth = false }))
	f.Fuzz(func(t *testing.T, input string, loggedIn bool) {
		c := ts.socketPair(t)
		if loggedIn {
			c.login("alice", alicePass)
		}
		tc := c.conn.(*net.UnixConn)
		// Write while reading: a large input answered line by line would
		// otherwise fill both sockets' buffers.
		done := make(chan struct{})
		go func() {
			defer close(done)
			tc.SetWriteDeadline(time.Now().Add(ioTimeout))
			// The server may close first (BYE); a failed write is fine.
			tc.Write([]byte(input))
			tc.CloseWrite()
		}()
		tc.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err := io.Copy(io.Discard, c.r)
		<-done
		tc.Close()
		if err != nil && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("session did not end: %v", err)
		}
		if ts.logs.panics.Load() > 0 {
			t.Fatalf("panic:\n%s", ts.logs.String())
		}
	})
}
