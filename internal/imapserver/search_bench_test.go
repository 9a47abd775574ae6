package imapserver

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/roost-mail/roost/internal/bench/mailgen"
)

// BenchmarkWireSearchHeader: header SEARCH keys (what the webmail profile
// of roost bench sends) over loopback on an INBOX of 500 mailgen messages
// in the SQLite store: every message's top-level header is read
// (mailstore.HeaderReader, search.go).
func BenchmarkWireSearchHeader(b *testing.B) {
	ts := newTestServer(b)
	const n = 500
	for i := range n {
		body := bytes.ReplaceAll(mailgen.Generate(1, i).Body, []byte("\n"), []byte("\r\n"))
		ts.deliver("alice", "INBOX", string(body))
	}
	c := ts.login("alice")
	c.do("s SELECT INBOX").contains(fmt.Sprintf("* %d EXISTS", n))
	for _, q := range []string{"UID SEARCH SUBJECT report", "UID SEARCH FROM smith", "UID SEARCH HEADER Message-ID nomatch"} {
		b.Run(q[len("UID SEARCH "):], func(b *testing.B) {
			for b.Loop() {
				if got := wireDo(b, c, "q "+q); got != 1 {
					b.Fatalf("%d untagged lines, want one SEARCH", got)
				}
			}
		})
	}
}
