package e2e

import (
	"bytes"
	"testing"
)

// TestDeliverMboxFromLine: like dovecot-lda, `deliver` takes a leading
// mbox "From " line (as MTAs and MDAs such as procmail or Postfix's pipe
// with flag F write it) for the envelope and does not store it: left in,
// it would be the first "header" line of the stored message and break
// every client's header parsing. Checked against Dovecot 2.3's dovecot-lda
// (ROOST_E2E_SERVER=dovecot).
func TestDeliverMboxFromLine(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	m := corpus()[0]
	in := append([]byte("From sender@example.org  Thu Nov 26 08:00:00 2026\n"), lf(m.raw)...)
	s.deliver("alice", in)
	res := s.popFetch("ssl")
	if len(res.Msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(res.Msgs))
	}
	if got := res.Msgs[0]; !bytes.Equal(got, m.want()) {
		t.Errorf("message delivered with a leading mbox From_ line: %s", diffAt(got, m.want()))
	}
}
