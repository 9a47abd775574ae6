package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// wantTop is what TOP n k returns for m (RFC 1939): the header section,
// the empty line, and the first k lines of the body, each ending in CRLF.
func wantTop(m corpusMsg, k int) []byte {
	w := crlf(m.raw)
	i := bytes.Index(w, []byte("\r\n\r\n"))
	if i < 0 {
		return m.want() // no body
	}
	out := append([]byte{}, w[:i+4]...)
	body := w[i+4:]
	for ; k > 0 && len(body) > 0; k-- {
		line := body
		if j := bytes.Index(body, []byte("\r\n")); j >= 0 {
			line = body[:j+2]
		}
		out = append(out, line...)
		body = body[len(line):]
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// TestPoplibTop checks TOP with 0, 1, 3 and many lines on every corpus
// message (dot-stuffed lines, no final newline and no body included).
func TestPoplibTop(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()
	s.deliverCorpus(msgs)
	ks := []int{0, 1, 3, 100000}
	res := s.poplib(popReq{Mode: "ssl", Action: "top", TopLines: ks})
	for i, m := range msgs {
		for _, k := range ks {
			got, ok := res.Top[fmt.Sprintf("%d-%d", i+1, k)]
			if !ok {
				t.Errorf("TOP %d %d (%s): no answer", i+1, k, m.name)
				continue
			}
			if want := wantTop(m, k); !bytes.Equal(got, want) {
				t.Errorf("TOP %d %d (%s): %s", i+1, k, m.name, diffAt(got, want))
			}
		}
	}
}

// TestSessionSnapshot: a message delivered while a POP3 session is open is
// not part of that session (RFC 1939 maildrop): STAT does not change and
// DELE of every listed message + QUIT leaves the new message alone.
func TestSessionSnapshot(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()[:3]
	s.deliverCorpus(msgs)
	late := corpus()[4]
	f := filepath.Join(s.dir, "late.eml")
	if err := os.WriteFile(f, late.raw, 0o600); err != nil {
		t.Fatal(err)
	}
	deliver := s.deliverCmd(t.Context(), "alice").Args
	if !refServer {
		deliver[0] = roostBin
	}
	res := s.poplib(popReq{Mode: "stls", Action: "snapshot", Deliver: deliver, DeliverFile: f})
	if res.Stat[0] != len(msgs) || !slices.Equal(res.Stat, res.Stat2) {
		t.Errorf("STAT before/after a delivery during the session: %v / %v, want %d messages both times", res.Stat, res.Stat2, len(msgs))
	}
	if len(res.List) != len(msgs) || len(res.UIDL) != len(msgs) {
		t.Errorf("LIST/UIDL during the session list %d/%d messages, want %d", len(res.List), len(res.UIDL), len(msgs))
	}
	after := s.popFetch("ssl")
	checkPOP(t, "after DELE of the session's messages", after, []corpusMsg{late})
	if slices.Contains(slices.Collect(maps.Values(res.UIDL)), after.UIDL["1"]) {
		t.Errorf("the late message's UIDL %q was listed in the earlier session %v", after.UIDL["1"], res.UIDL)
	}
}
