package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestIMAPCondStoreQResync drives CONDSTORE and QRESYNC (RFC 7162) with a
// real client: go-imap v2 for what it implements (SELECT (CONDSTORE), FETCH
// MODSEQ and CHANGEDSINCE, STORE UNCHANGEDSINCE), raw transcripts for what
// it lacks (ENABLE CONDSTORE: it refuses to send it; QRESYNC). No Debian client uses either:
// isync 1.4 and offlineimap3 never send ENABLE, CONDSTORE or CHANGEDSINCE.
// A second connection makes the changes. With ROOST_E2E_SERVER=dovecot the
// same test runs against Dovecot 2.3: the behaviour checked here is what
// both servers answer.
func TestIMAPCondStoreQResync(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{imap: true})
	for i := 1; i <= 4; i++ {
		s.deliver("alice", syncMsg("cs", i).raw)
	}

	a, err := imapclient.DialTLS(fmt.Sprintf("127.0.0.1:%d", s.imapsPort), &imapclient.Options{TLSConfig: testTLSConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Login("alice", alicePass).Wait(); err != nil {
		t.Fatalf("go-imap login: %v", err)
	}
	if !a.Caps().Has(imap.CapCondStore) {
		t.Fatalf("CONDSTORE not advertised: %v", a.Caps())
	}
	// go-imap refuses ENABLE CONDSTORE (it enables only extensions whose
	// syntax it knows); SELECT (CONDSTORE) enables it too (RFC 7162 3.1).
	// ENABLE itself is checked on the raw session below.
	sel, err := a.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil {
		t.Fatalf("SELECT (CONDSTORE): %v", err)
	}
	h0 := sel.HighestModSeq
	if sel.NumMessages != 4 || h0 == 0 {
		t.Fatalf("SELECT (CONDSTORE): %d messages, HIGHESTMODSEQ %d", sel.NumMessages, h0)
	}
	all, err := a.Fetch(imap.SeqSetNum(1, 2, 3, 4), &imap.FetchOptions{UID: true, Flags: true, ModSeq: true}).Collect()
	if err != nil || len(all) != 4 {
		t.Fatalf("FETCH 1:4 (UID FLAGS MODSEQ): %d messages, %v", len(all), err)
	}
	uids := make([]imap.UID, 4)
	for i, m := range all {
		if m.ModSeq == 0 || m.ModSeq > h0 {
			t.Fatalf("message %d: MODSEQ %d, want 1..%d", m.SeqNum, m.ModSeq, h0)
		}
		uids[i] = m.UID
	}

	// Another session flags the second message.
	b := s.dialIMAP(t, true)
	b.login()
	if u := b.ok("ENABLE CONDSTORE"); !slices.Contains(u, "* ENABLED CONDSTORE") {
		t.Fatalf("ENABLE CONDSTORE: %q", u)
	}
	if u := b.ok("SELECT INBOX"); !slices.Contains(u, fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest", h0)) {
		t.Fatalf("SELECT after ENABLE CONDSTORE: no HIGHESTMODSEQ %d in %q", h0, u)
	}
	b.ok(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Flagged)`, uids[1]))

	// FETCH CHANGEDSINCE: only that message, with its new MODSEQ.
	if err := a.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	changed, err := a.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, Flags: true, ChangedSince: h0}).Collect()
	if err != nil {
		t.Fatalf("UID FETCH (CHANGEDSINCE %d): %v", h0, err)
	}
	if len(changed) != 1 || changed[0].UID != uids[1] || !slices.Contains(changed[0].Flags, imap.FlagFlagged) || changed[0].ModSeq <= h0 {
		t.Fatalf("UID FETCH (CHANGEDSINCE %d): want only UID %d, \\Flagged, MODSEQ > %d; got %s", h0, uids[1], h0, fetchString(changed))
	}
	m2 := changed[0].ModSeq

	// STORE UNCHANGEDSINCE older than the message's MODSEQ stores nothing
	// (the server answers OK [MODIFIED uid], RFC 7162 3.1.3); with its
	// current MODSEQ it stores and reports a newer MODSEQ.
	if _, err := a.Store(imap.UIDSetNum(uids[1]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}},
		&imap.StoreOptions{UnchangedSince: h0}).Collect(); err != nil {
		t.Fatalf("UID STORE (UNCHANGEDSINCE %d): %v", h0, err)
	}
	u := b.ok(fmt.Sprintf("UID FETCH %d (FLAGS)", uids[1]))
	if strings.Contains(strings.Join(u, "\n"), `\Seen`) {
		t.Fatalf("STORE UNCHANGEDSINCE %d changed a message modified at %d: %q", h0, m2, u)
	}
	stored, err := a.Store(imap.UIDSetNum(uids[1]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}},
		&imap.StoreOptions{UnchangedSince: m2}).Collect()
	if err != nil {
		t.Fatalf("UID STORE (UNCHANGEDSINCE %d): %v", m2, err)
	}
	if len(stored) != 1 || !slices.Contains(stored[0].Flags, imap.FlagSeen) || stored[0].ModSeq <= m2 {
		t.Fatalf("UID STORE (UNCHANGEDSINCE %d): want \\Seen and MODSEQ > %d, got %s", m2, m2, fetchString(stored))
	}
	if err := a.Logout().Wait(); err != nil {
		t.Errorf("go-imap logout: %v", err)
	}

	// QRESYNC (raw: go-imap has none). A client remembers UIDVALIDITY and
	// HIGHESTMODSEQ, goes offline; the other session answers one message,
	// expunges another.
	c := s.dialIMAP(t, true)
	c.login()
	if u := c.ok("ENABLE QRESYNC"); !slices.Contains(u, "* ENABLED QRESYNC") {
		t.Fatalf("ENABLE QRESYNC: %q", u)
	}
	var uidValidity, h1 uint64
	for _, l := range c.ok("SELECT INBOX") {
		fmt.Sscanf(l, "* OK [UIDVALIDITY %d]", &uidValidity)
		fmt.Sscanf(l, "* OK [HIGHESTMODSEQ %d]", &h1)
	}
	if uidValidity == 0 || h1 == 0 {
		t.Fatalf("SELECT after ENABLE QRESYNC: UIDVALIDITY %d HIGHESTMODSEQ %d", uidValidity, h1)
	}
	c.ok("LOGOUT")
	b.ok(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Answered)`, uids[2]))
	b.ok(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uids[0]))
	b.ok("EXPUNGE")

	// Reconnect: one round trip says exactly what changed.
	c = s.dialIMAP(t, true)
	c.login()
	c.ok("ENABLE QRESYNC")
	known := fmt.Sprintf("%d:%d", uids[0], uids[3])
	sel2 := c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d %s))", uidValidity, h1, known))
	checkResync(t, "SELECT (QRESYNC)", sel2, uids[0], uids[2], h1)
	if !slices.Contains(sel2, "* 3 EXISTS") {
		t.Fatalf("SELECT (QRESYNC): no 3 EXISTS in %q", sel2)
	}
	// The same from UID FETCH (CHANGEDSINCE ... VANISHED).
	f := c.ok(fmt.Sprintf("UID FETCH %s (FLAGS) (CHANGEDSINCE %d VANISHED)", known, h1))
	checkResync(t, "UID FETCH (CHANGEDSINCE VANISHED)", f, uids[0], uids[2], h1)
	// An expunge now comes as VANISHED, not EXPUNGE.
	b.ok(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uids[3]))
	b.ok("EXPUNGE")
	_, done := c.cmd("NOOP")
	if !strings.HasPrefix(done, "OK") {
		t.Fatalf("NOOP: %q", done)
	}
	if v := fmt.Sprintf("* VANISHED %d", uids[3]); !strings.Contains(c.log.String(), strconv.Quote(v)) {
		t.Fatalf("no %q after another session's expunge; transcript:\n%s", v, c.log.String())
	}
	c.ok("LOGOUT")
}

var fetchFlagsRe = regexp.MustCompile(`FLAGS \(([^)]*)\)`)

// checkResync checks a QRESYNC answer: "* VANISHED (EARLIER) gone" and one
// FETCH, for UID answered, with \Answered and a MODSEQ above since; no
// other FETCH or VANISHED.
func checkResync(t *testing.T, what string, lines []string, gone, answered imap.UID, since uint64) {
	t.Helper()
	var vanished, fetches []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "* VANISHED"):
			vanished = append(vanished, l)
		case strings.Contains(l, " FETCH ("):
			fetches = append(fetches, l)
		}
	}
	if want := fmt.Sprintf("* VANISHED (EARLIER) %d", gone); len(vanished) != 1 || vanished[0] != want {
		t.Fatalf("%s: VANISHED %q, want %q; answer %q", what, vanished, want, lines)
	}
	if len(fetches) != 1 || !strings.Contains(fetches[0], fmt.Sprintf("UID %d ", answered)) {
		t.Fatalf("%s: FETCH %q, want one for UID %d; answer %q", what, fetches, answered, lines)
	}
	fl := fetchFlagsRe.FindStringSubmatch(fetches[0])
	if fl == nil || !slices.Contains(strings.Fields(fl[1]), `\Answered`) {
		t.Fatalf("%s: %q lacks \\Answered", what, fetches[0])
	}
	var ms uint64
	if i := strings.Index(fetches[0], "MODSEQ ("); i < 0 {
		t.Fatalf("%s: %q has no MODSEQ", what, fetches[0])
	} else if fmt.Sscan(fetches[0][i+len("MODSEQ ("):], &ms); ms <= since {
		t.Fatalf("%s: %q: MODSEQ not above %d", what, fetches[0], since)
	}
}

func fetchString(ms []*imapclient.FetchMessageBuffer) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "[seq %d UID %d FLAGS %v MODSEQ %d] ", m.SeqNum, m.UID, m.Flags, m.ModSeq)
	}
	return b.String()
}
