package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// largeBody is a CRLF message of about size octets with a base64-looking
// body, the same for every call with the same size.
func largeBody(size int) []byte {
	r := rand.New(rand.NewPCG(uint64(size), 3))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := []byte("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: large attachment\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for len(b) < size {
		for range 76 {
			b = append(b, alphabet[r.IntN(len(alphabet))])
		}
		b = append(b, '\r', '\n')
	}
	return b
}

// TestIMAPLargeBodies: large bodies fetched by real clients come out
// byte-exact over plain IMAP (where Roost sends them with sendfile, from
// 64 KiB on) and over IMAPS (copied through TLS): curl and Python's
// imaplib, whole messages, partial ranges, the body text, and two large
// messages in one FETCH.
func TestIMAPLargeBodies(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startServer(t, serverOpts{imap: true})
	big, huge := largeBody(300<<10), largeBody(3<<20)
	s.deliver("alice", big)
	s.deliver("alice", huge)

	for _, u := range []string{fmt.Sprintf("imap://127.0.0.1:%d", s.imapPort), fmt.Sprintf("imaps://localhost:%d", s.imapsPort)} {
		for i, m := range [][]byte{big, huge} {
			args := []string{"-sS", "--cacert", caFile, "--resolve", fmt.Sprintf("localhost:%d:127.0.0.1", s.imapsPort),
				"-u", "alice:" + alicePass, fmt.Sprintf("%s/INBOX;UID=%d", u, i+1)}
			out, errb, code := runCmd(t, nil, curl, args...)
			if code != 0 {
				t.Fatalf("curl %s: exit %d\n%s", strings.Join(args, " "), code, errb)
			}
			if !bytes.Equal(out, m) {
				t.Errorf("curl %s: %s", args[len(args)-1], diffAt(out, m))
			}
		}
	}

	hdrEnd := bytes.Index(huge, []byte("\r\n\r\n")) + 4
	for _, mode := range []string{"plain", "ssl"} {
		c := s.imaplib(t, mode, "")
		c.ok("login", "alice", alicePass)
		c.ok("select", "INBOX", true)
		d := c.ok("fetch", "2", "(BODY.PEEK[])")
		if b := literalOf(t, d, "BODY[]"); !bytes.Equal(b, huge) {
			t.Errorf("%s BODY[]: %s", mode, diffAt(b, huge))
		}
		d = c.ok("fetch", "2", "(BODY.PEEK[]<1000.2000000>)")
		if b := literalOf(t, d, "BODY[]<1000>"); !bytes.Equal(b, huge[1000:2001000]) {
			t.Errorf("%s BODY[]<1000.2000000>: %s", mode, diffAt(b, huge[1000:2001000]))
		}
		d = c.ok("fetch", "2", "(BODY.PEEK[TEXT])")
		if b := literalOf(t, d, "BODY[TEXT]"); !bytes.Equal(b, huge[hdrEnd:]) {
			t.Errorf("%s BODY[TEXT]: %s", mode, diffAt(b, huge[hdrEnd:]))
		}
		d = c.ok("fetch", "1:2", "(BODY.PEEK[])")
		var got [][]byte
		for _, it := range d {
			if it.Tuple {
				got = append(got, it.Literal)
			}
		}
		if len(got) != 2 || !bytes.Equal(got[0], big) || !bytes.Equal(got[1], huge) {
			t.Errorf("%s FETCH 1:2 BODY[]: %d literals, not the two messages", mode, len(got))
		}
		c.logout()
	}
}
