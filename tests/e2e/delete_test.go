package e2e

import (
	"bytes"
	"maps"
	"strconv"
	"testing"
)

// TestFetchmailDeletes: fetchmail without keep retrieves and deletes; a new
// session then sees an empty maildrop, and a second run finds nothing.
func TestFetchmailDeletes(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()[:4]
	s.deliverCorpus(msgs)
	checkByName(t, "fetchmail/stls nokeep", s.fetchmailRun("stls", false), msgs, wantExact)
	if res := s.popFetch("ssl"); res.Stat[0] != 0 || res.Stat[1] != 0 {
		t.Errorf("after fetchmail nokeep: STAT = %v, want [0 0]", res.Stat)
	}
	if got := s.fetchmailRun("ssl", false); len(got) != 0 {
		t.Errorf("second fetchmail run retrieved %d messages, want 0", len(got))
	}
}

// TestGetmailDeletes: getmail with delete = true empties the maildrop.
func TestGetmailDeletes(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()[:3]
	s.deliverCorpus(msgs)
	checkByNameNorm(t, "getmail/ssl delete", s.getmailRun(true, true), msgs, wantGetmail, unfoldHeaders)
	if res := s.popFetch("stls"); res.Stat[0] != 0 {
		t.Errorf("after getmail delete: STAT = %v, want [0 0]", res.Stat)
	}
}

// TestDeleNeedsQuit: DELE marks a message; only QUIT (the UPDATE state)
// removes it. A dropped connection removes nothing.
func TestDeleNeedsQuit(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()[:3]
	s.deliverCorpus(msgs)
	before := s.popFetch("ssl")
	checkPOP(t, "before", before, msgs)

	s.poplib(popReq{Mode: "stls", Action: "dele", Numbers: []int{1, 3}, Quit: false})
	after := s.popFetch("ssl")
	checkPOP(t, "after DELE without QUIT", after, msgs)
	if !maps.Equal(before.UIDL, after.UIDL) {
		t.Errorf("UIDLs changed after a dropped session: %v -> %v", before.UIDL, after.UIDL)
	}

	s.poplib(popReq{Mode: "stls", Action: "dele", Numbers: []int{1, 3}, Quit: true})
	left := s.popFetch("ssl")
	checkPOP(t, "after DELE 1 3 + QUIT", left, []corpusMsg{msgs[1]})
	if left.UIDL["1"] != before.UIDL["2"] {
		t.Errorf("UIDL of the surviving message: %q, was %q", left.UIDL["1"], before.UIDL["2"])
	}
}

// TestUIDLStableAcrossRestart: UIDLs survive a restart of the server, and
// deleting a message changes neither the others' UIDLs nor their content.
func TestUIDLStableAcrossRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	msgs := corpus()
	s.deliverCorpus(msgs)
	before := s.popFetch("ssl")
	checkPOP(t, "before restart", before, msgs)

	s.restart()
	after := s.popFetch("ssl")
	checkPOP(t, "after restart", after, msgs)
	if !maps.Equal(before.UIDL, after.UIDL) {
		t.Errorf("UIDLs changed across a restart:\nbefore %v\nafter  %v", before.UIDL, after.UIDL)
	}

	s.poplib(popReq{Mode: "ssl", Action: "dele", Numbers: []int{1}, Quit: true})
	s.restart()
	s.deliver("alice", []byte("Subject: new\r\nX-Corpus-Id: new\r\n\r\nnew\r\n"))
	final := s.popFetch("ssl")
	if len(final.Msgs) != len(msgs) {
		t.Fatalf("after DELE 1, restart and one delivery: %d messages, want %d", len(final.Msgs), len(msgs))
	}
	for i := 1; i < len(msgs); i++ {
		if got, want := final.UIDL[strconv.Itoa(i)], before.UIDL[strconv.Itoa(i+1)]; got != want {
			t.Errorf("%s: UIDL %q after deleting message 1 and restarting, was %q", msgs[i].name, got, want)
		}
		if !bytes.Equal(final.Msgs[i-1], msgs[i].want()) {
			t.Errorf("%s differs after restart: %s", msgs[i].name, diffAt(final.Msgs[i-1], msgs[i].want()))
		}
	}
	newUIDL := final.UIDL[strconv.Itoa(len(msgs))]
	for n, u := range before.UIDL {
		if u == newUIDL {
			t.Errorf("new message reuses UIDL %q of former message %s", u, n)
		}
	}
}
