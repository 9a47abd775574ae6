package imapserver

// Transcript tests for QRESYNC (RFC 7162 3.2), with a second session
// making the changes. Message i of a fresh INBOX gets MODSEQ i+1.

import "testing"

func TestQResyncEnable(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 1)
	c := ts.login("alice")
	// SELECT (QRESYNC ...) before ENABLE QRESYNC is BAD (RFC 7162 3.2.5).
	c.do("a1 SELECT INBOX (QRESYNC (1 1))").bad()
	// ENABLE QRESYNC implies CONDSTORE (RFC 7162 3.2.3).
	c.do("a2 ENABLE QRESYNC").untagged("* ENABLED QRESYNC").ok()
	c.do("a3 ENABLE CONDSTORE QRESYNC").untagged("* ENABLED").ok()
	c.do("a4 SELECT INBOX").contains("* OK [HIGHESTMODSEQ 2] Highest").ok()
	// [CLOSED] comes before anything about the new mailbox (RFC 7162
	// 3.2.11).
	r := c.do("a5 EXAMINE INBOX").ok("READ-ONLY")
	if l := r.lines(); len(l) == 0 || l[0] != "* OK [CLOSED] Previous mailbox closed." {
		t.Fatalf("CLOSED is not first: %s", r)
	}
	// A failed SELECT with QRESYNC BAD keeps the mailbox selected.
	c2 := ts.login("alice")
	c2.do("b1 SELECT INBOX").ok()
	c2.do("b2 SELECT INBOX (QRESYNC (1 1))").bad()
	c2.do("b3 NOOP").ok()
	c2.do("b4 FETCH 1 (UID)").untagged("* 1 FETCH (UID 1)").ok()
}

// TestQResyncVanished: once QRESYNC is enabled, VANISHED replaces EXPUNGE
// everywhere (RFC 7162 3.2.10): our EXPUNGE and UID EXPUNGE, another
// session's expunge at NOOP and during IDLE, MOVE.
func TestQResyncVanished(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 8) // MODSEQ 2..9
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a1 ENABLE QRESYNC").ok()
	c.do("a2 SELECT INBOX").ok()
	c2.do("b1 SELECT INBOX").ok()

	c.do(`a3 STORE 2,4 +FLAGS.SILENT (\Deleted)`).untagged(
		"* 2 FETCH (UID 2 MODSEQ (10))", "* 4 FETCH (UID 4 MODSEQ (10))").ok()
	// The expunge takes MODSEQ 11; the tagged OK says so.
	c.do("a4 EXPUNGE").untagged("* VANISHED 2,4").tagged("OK [HIGHESTMODSEQ 11] Expunge completed.")
	c2.do("b2 NOOP").untagged("* 4 EXPUNGE", "* 2 EXPUNGE").ok() // not enabled there

	c2.do(`b3 UID STORE 5:6 +FLAGS.SILENT (\Deleted)`).ok()
	c2.do("b4 UID EXPUNGE 5:6").untagged("* 4 EXPUNGE", "* 3 EXPUNGE").ok()
	// VANISHED has no modseq: the tagged OK carries the HIGHESTMODSEQ
	// (as Dovecot answers; condstore.go noteModSeqReport).
	c.do("a5 NOOP").untagged("* VANISHED 5:6").tagged("OK [HIGHESTMODSEQ 13] Noop completed.")

	// Not during FETCH, STORE or SEARCH by sequence number (RFC 9051
	// 7.5.1, RFC 7162 3.2.10): VANISHED waits like EXPUNGE would.
	c2.do(`b5 STORE 1 +FLAGS.SILENT (\Deleted)`).ok()
	c2.do("b6 EXPUNGE").ok() // MODSEQ 15
	c.do("a6 FETCH 1 (UID)").untagged("* 1 FETCH (UID 1)").tagged("OK Fetch completed.")
	c.do("a7 UID FETCH 3 (UID)").untagged("* 2 FETCH (UID 3)", "* VANISHED 1").tagged("OK [HIGHESTMODSEQ 15] Fetch completed.")

	// IDLE.
	c.send("a8 IDLE\r\n")
	c.expect("+ idling")
	c2.do(`b7 UID STORE 3 +FLAGS.SILENT (\Deleted)`).ok()
	c.expect(`* 1 FETCH (UID 3 FLAGS (\Deleted \Recent) MODSEQ (16))`)
	c2.do("b8 UID EXPUNGE 3").ok()
	c.expect("* VANISHED 3")
	// In IDLE there is no tagged reply to carry it: untagged, as Dovecot.
	c.expect("* OK [HIGHESTMODSEQ 17] Highest")
	c.send("DONE\r\n")
	c.expect("a8 OK Idle completed.")

	// MOVE answers VANISHED for the moved messages (RFC 6851 4.4).
	r := c.do("a9 UID MOVE 7:8 Archive").lacks("* 1 EXPUNGE", "* 2 EXPUNGE").ok()
	if l := r.lines(); len(l) != 2 || l[1] != "* VANISHED 7:8" {
		t.Fatalf("MOVE: %s", r)
	}
	c.do("a10 STATUS INBOX (MESSAGES)").untagged("* STATUS INBOX (MESSAGES 0)").ok()
}

// TestQResyncReconnect is the scenario QRESYNC exists for: A notes
// UIDVALIDITY and HIGHESTMODSEQ and logs out; B changes flags, expunges,
// and mail arrives; A reselects with QRESYNC and gets exactly the
// difference (RFC 7162 3.2.5): VANISHED (EARLIER) for the expunged UIDs,
// FETCH for the changed and new messages.
func TestQResyncReconnect(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 6) // UIDs 1..6, MODSEQ 2..7
	a := ts.login("alice")
	a.do("a1 ENABLE QRESYNC").ok()
	r := a.do("a2 SELECT INBOX").ok()
	v, m := uidValidity(t, r), highestModSeq(t, r)
	if m != "7" {
		t.Fatalf("HIGHESTMODSEQ %s, want 7", m)
	}
	a.do("a3 LOGOUT").ok()

	b := ts.login("alice")
	b.do("b1 SELECT INBOX").ok()
	b.do(`b2 STORE 2 +FLAGS (\Flagged)`).ok()          // MODSEQ 8
	b.do(`b3 STORE 3,5 +FLAGS.SILENT (\Deleted)`).ok() // 9
	b.do("b4 EXPUNGE").ok()                            // 10
	b.do(`b5 STORE 1 +FLAGS (\Seen)`).ok()             // 11
	ts.deliver("alice", "INBOX", testMsg("new"))       // UID 7, MODSEQ 12
	// An expunge before A's modseq is not reported again.

	a = ts.login("alice")
	a.do("a1 ENABLE QRESYNC").ok()
	want := []string{
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)] Flags permitted.`,
		"* 5 EXISTS",
		"* 1 RECENT",
		"* OK [UNSEEN 2] First unseen.",
		"* OK [UIDVALIDITY " + v + "] UIDs valid.",
		"* OK [UIDNEXT 8] Predicted next UID.",
		"* OK [HIGHESTMODSEQ 12] Highest",
		"* VANISHED (EARLIER) 3,5",
		`* 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ (11))`,
		`* 2 FETCH (UID 2 FLAGS (\Flagged) MODSEQ (8))`,
		`* 5 FETCH (UID 7 FLAGS (\Recent) MODSEQ (12))`,
	}
	a.do("a2 SELECT INBOX (QRESYNC (" + v + " " + m + "))").untagged(want...).tagged("OK [READ-WRITE] Select completed.")

	// known-uids restricts VANISHED (EARLIER); FETCHes are not restricted.
	a.do("a3 EXAMINE INBOX (QRESYNC ("+v+" "+m+" 1:4))").contains(
		"* OK [CLOSED] Previous mailbox closed.", "* VANISHED (EARLIER) 3",
		`* 5 FETCH (UID 7 FLAGS () MODSEQ (12))`).lacks("* VANISHED (EARLIER) 3,5").ok()
	// A modseq after the changes: nothing to report.
	a.do("a4 EXAMINE INBOX (QRESYNC ("+v+" 12 1:7))").lacks("* VANISHED", "* 1 FETCH", "* 5 FETCH").ok()
	// Another UIDVALIDITY: the client must resync from scratch; nothing
	// is reported.
	a.do("a5 EXAMINE INBOX (QRESYNC (1 "+m+"))").lacks("* VANISHED", "* 1 FETCH").ok()
	// seq-match-data (RFC 7162 3.2.5.2): the client's sequence number 3
	// for UID 4 is ours too, so nothing below UID 4 vanished unknown to
	// it: UID 3 is left out, 5 is reported.
	a.do("a6 EXAMINE INBOX (QRESYNC (" + v + " " + m + " 1:7 (3 4)))").contains("* VANISHED (EARLIER) 5").ok()
	// A client that still numbers UID 4 as 4 learns about UID 3.
	a.do("a7 EXAMINE INBOX (QRESYNC (" + v + " " + m + " 1:7 (2,4 2,4)))").contains("* VANISHED (EARLIER) 3,5").ok()
}

// TestQResyncFetchVanished: UID FETCH ... (CHANGEDSINCE n VANISHED) (RFC
// 7162 3.2.6).
func TestQResyncFetchVanished(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 5) // MODSEQ 2..6
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a1 ENABLE QRESYNC").ok()
	c.do("a2 SELECT INBOX").ok()
	c2.do("b1 SELECT INBOX").ok()
	c2.do(`b2 STORE 2,4 +FLAGS.SILENT (\Deleted)`).ok()
	c2.do("b3 EXPUNGE").ok()                    // MODSEQ 8
	c2.do(`b4 UID STORE 3 +FLAGS (\Seen)`).ok() // MODSEQ 9
	c.do("a3 NOOP").ok()
	c.do("a4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)").untagged(
		"* VANISHED (EARLIER) 2,4",
		`* 2 FETCH (UID 3 FLAGS (\Seen \Recent) MODSEQ (9))`,
	).ok()
	// Only UIDs of the set.
	c.do("a5 UID FETCH 3:5 (FLAGS) (CHANGEDSINCE 6 VANISHED)").untagged(
		"* VANISHED (EARLIER) 4",
		`* 2 FETCH (UID 3 FLAGS (\Seen \Recent) MODSEQ (9))`,
	).ok()
	c.do("a6 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 9 VANISHED)").untagged().ok()
	// VANISHED needs UID FETCH (grammar).
	c.do("a7 FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)").bad()
	// Expunged by the other session but not yet reported to this one:
	// not EARLIER; the sync point after the command reports it.
	c2.do(`b5 STORE 1 +FLAGS.SILENT (\Deleted)`).ok()
	c2.do("b6 EXPUNGE").ok()
	c.do("a8 UID FETCH 1:* (UID) (CHANGEDSINCE 9 VANISHED)").untagged(
		"* VANISHED 1",
	).ok()
}

// TestQResyncHighestModSeqReports: when updates leave the client unable
// to work out the mailbox's HIGHESTMODSEQ from what it got, the tagged OK
// (or, in IDLE, an untagged OK) carries it (RFC 7162 3.2.10). The
// transcript follows what Dovecot 2.3 answered to the same sequence
// (docs/imap-condstore.md): VANISHED or EXISTS -> code; flag updates
// alone -> none (their FETCH MODSEQ says it); expunges held back during a
// FETCH by sequence number while a FETCH showed a newer MODSEQ -> the last
// complete modseq; a CONDSTORE-only session -> never.
func TestQResyncHighestModSeqReports(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 8) // UIDs 1..8, MODSEQ 2..9
	q, cs, b := ts.login("alice"), ts.login("alice"), ts.login("alice")
	q.do("q1 ENABLE QRESYNC").ok()
	q.do("q2 SELECT INBOX").contains("* OK [HIGHESTMODSEQ 9] Highest").ok()
	cs.do("c1 ENABLE CONDSTORE").ok()
	cs.do("c2 SELECT INBOX").contains("* OK [HIGHESTMODSEQ 9] Highest").ok()
	b.do("b1 SELECT INBOX").ok()

	// Nothing changed: no code.
	q.do("q3 NOOP").tagged("OK Noop completed.")
	// A flag change: its FETCH carries MODSEQ 10, no code.
	b.do(`b2 STORE 1 +FLAGS.SILENT (\Flagged)`).ok()
	q.do("q4 NOOP").untagged(`* 1 FETCH (UID 1 FLAGS (\Flagged \Recent) MODSEQ (10))`).tagged("OK Noop completed.")
	// An expunge (MODSEQ 12): VANISHED, then the code, on NOOP and CHECK.
	b.do(`b3 STORE 2 +FLAGS.SILENT (\Deleted)`).ok()
	b.do("b4 EXPUNGE").ok()
	q.do("q5 NOOP").untagged("* VANISHED 2").tagged("OK [HIGHESTMODSEQ 12] Noop completed.")
	q.do("q6 NOOP").tagged("OK Noop completed.")     // told once
	b.do(`b5 STORE 2 +FLAGS.SILENT (\Deleted)`).ok() // UID 3
	b.do("b6 EXPUNGE").ok()                          // MODSEQ 14
	q.do("q7 CHECK").untagged("* VANISHED 3").tagged("OK [HIGHESTMODSEQ 14] Check completed.")
	// A new message: EXISTS has no modseq either.
	deliverN(ts, 1) // UID 9, MODSEQ 15
	q.do("q8 NOOP").untagged("* 7 EXISTS", "* 7 RECENT").tagged("OK [HIGHESTMODSEQ 15] Noop completed.")

	// FETCH by sequence number holds an expunge (MODSEQ 17) back while it
	// shows a flag change made after it (MODSEQ 18): the code repeats the
	// last complete modseq, so a client that took 18 from the FETCH does
	// not skip the expunge on its next resync.
	b.do(`b7 UID STORE 4 +FLAGS.SILENT (\Deleted)`).ok() // MODSEQ 16
	b.do("b8 EXPUNGE").ok()                              // MODSEQ 17
	b.do(`b9 UID STORE 5 +FLAGS.SILENT (\Seen)`).ok()    // MODSEQ 18
	q.do("q9 FETCH 1 (UID)").untagged("* 1 FETCH (UID 1)", `* 3 FETCH (UID 5 FLAGS (\Seen \Recent) MODSEQ (18))`).
		tagged("OK [HIGHESTMODSEQ 15] Fetch completed.")
	q.do("q10 NOOP").untagged("* VANISHED 4").tagged("OK [HIGHESTMODSEQ 18] Noop completed.")

	// In IDLE: untagged, right after the VANISHED.
	q.send("q11 IDLE\r\n")
	q.expect("+ idling")
	b.do(`b10 UID STORE 6 +FLAGS.SILENT (\Deleted)`).ok() // MODSEQ 19
	q.expect(`* 3 FETCH (UID 6 FLAGS (\Deleted \Recent) MODSEQ (19))`)
	b.do("b11 UID EXPUNGE 6").ok() // MODSEQ 20
	q.expect("* VANISHED 6")
	q.expect("* OK [HIGHESTMODSEQ 20] Highest")
	q.send("DONE\r\n")
	q.expect("q11 OK Idle completed.")

	// CONDSTORE without QRESYNC: EXPUNGE responses, never a code.
	r := cs.do("c3 NOOP").lacks("* OK [HIGHESTMODSEQ").tagged("OK Noop completed.")
	if len(r.untaggedPrefix("* ")) == 0 {
		t.Fatalf("CONDSTORE session saw no updates: %s", r)
	}
}
