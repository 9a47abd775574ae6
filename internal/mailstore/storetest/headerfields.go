package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// headerFieldsCorpus: kept and other fields, folding, names in any case,
// a continuation after a line that is no field, no blank line, no line
// end, and a message whose kept lines exceed mailstore.KeptLinesMax (the
// last one: none kept).
var headerFieldsCorpus = []string{
	"Received: from x\r\n\tby y\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nFROM: Bob <bob@example.org>\r\nSubject: folded\r\n  twice\r\nX-Spam: no\r\nto: a@example.org\r\nTo: b@example.org\r\n\r\nbody\r\n",
	"not a field\r\n continued\r\nX-TUID: abc\r\nMessage-ID: <m@example.org>\r\n\r\n",
	"Subject: no blank line\r\nCc: c@example.org\r\n",
	"Subject: no line end",
	"X-Only: other fields\r\n\r\nSubject: in the body\r\n",
	"Subject: long\r\nReferences: " + strings.Repeat("<0123456789abcdef@example.org> ", mailstore.KeptLinesMax/30) + "\r\n\r\nx\r\n",
}

// testHeaderFields checks the optional mailstore.HeaderFieldsReader with
// testKeptReader: for each message, appended or imported, the kept lines
// it gives equal mailstore.KeptLinesOf of the header read back through
// Open (nil for the message whose kept lines are too long); UIDs not
// asked for, expunged or in another mailbox are skipped; a copy has its
// original's lines; an unknown mailbox is KindNotFound; an error from fn
// stops the read and comes back as it is. A backend without the interface
// passes by not having it.
func testHeaderFields(t *testing.T, s *suite) {
	acc := s.account("alice")
	hfr, ok := acc.(mailstore.HeaderFieldsReader)
	if !ok {
		t.Log("backend does not implement mailstore.HeaderFieldsReader (optional)")
		return
	}
	testKeptReader(t, s, acc, keptReader[[]byte]{
		method:    "HeaderFields",
		corpus:    headerFieldsCorpus,
		importKey: "hf",
		read: func(mbox mailstore.MailboxID, uids []mailstore.UID, fn func(mailstore.UID, []byte) error) error {
			return hfr.HeaderFields(s.ctx, mbox, uids, func(uid mailstore.UID, kept []byte) error {
				return fn(uid, slices.Clone(kept))
			})
		},
		fromHeader: mailstore.KeptLinesOf,
		equal:      func(a, b []byte) bool { return (a == nil) == (b == nil) && string(a) == string(b) },
		present:    func(kept []byte) bool { return kept != nil },
		spot: func(got map[mailstore.UID][]byte, all []mailstore.UID) {
			// Spot checks of what KeptLinesOf keeps (the comparison with
			// fromHeader would pass with any function applied on both
			// sides).
			if g := string(got[all[0]]); g != "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFROM: Bob <bob@example.org>\r\nSubject: folded\r\n  twice\r\nto: a@example.org\r\nTo: b@example.org\r\n\r\n" {
				t.Errorf("first message kept %q", g)
			}
			if g := got[all[len(headerFieldsCorpus)-1]]; g != nil {
				t.Errorf("kept lines over the cap: kept %d octets, want none", len(g))
			}
			if g := string(got[all[4]]); g != "\r\n" {
				t.Errorf("no kept field: %q, want the blank line alone", g)
			}
		},
	})
}
