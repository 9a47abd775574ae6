package imapserver

// Transcript tests for CONDSTORE and QRESYNC (RFC 7162), always with a
// second session making the changes. Message i of a fresh INBOX gets
// MODSEQ i+1 (the empty mailbox starts at HIGHESTMODSEQ 1); every later
// change takes the next modseq.

import (
	"strings"
	"testing"
)

// highestModSeq returns n of the "* OK [HIGHESTMODSEQ n]" line of r.
func highestModSeq(t *testing.T, r *response) string {
	t.Helper()
	for _, l := range r.lines() {
		if rest, ok := strings.CutPrefix(l, "* OK [HIGHESTMODSEQ "); ok {
			n, _, _ := strings.Cut(rest, "]")
			return n
		}
	}
	t.Fatalf("no HIGHESTMODSEQ in %s", r)
	return ""
}

// uidValidity returns n of the "* OK [UIDVALIDITY n]" line of r.
func uidValidity(t *testing.T, r *response) string {
	t.Helper()
	for _, l := range r.lines() {
		if rest, ok := strings.CutPrefix(l, "* OK [UIDVALIDITY "); ok {
			n, _, _ := strings.Cut(rest, "]")
			return n
		}
	}
	t.Fatalf("no UIDVALIDITY in %s", r)
	return ""
}

func deliverN(ts *testServer, n int) {
	for i := 1; i <= n; i++ {
		ts.deliver("alice", "INBOX", testMsg("m"+itoa(i)))
	}
}

func TestCondStoreNotEnabled(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 2)
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a1 SELECT INBOX").lacks("* OK [HIGHESTMODSEQ").ok()
	c2.do("b1 SELECT INBOX").ok()
	c2.do(`b2 STORE 1 +FLAGS.SILENT (\Flagged)`).untagged().ok()
	// Without CONDSTORE an unsolicited FETCH has no MODSEQ.
	c.do("a2 NOOP").untagged(`* 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`).ok()
	c.do(`a3 STORE 2 +FLAGS (\Seen)`).untagged(`* 2 FETCH (FLAGS (\Seen \Recent))`).ok()
}

// TestCondStoreEnablingCommands runs every CONDSTORE enabling command of
// RFC 7162 3.1 in a fresh session and checks that flag changes by another
// session then arrive with UID and MODSEQ.
func TestCondStoreEnablingCommands(t *testing.T) {
	cases := []struct {
		name string
		run  func(c *testClient) // ends with INBOX selected
	}{
		{"ENABLE", func(c *testClient) {
			c.do("e1 ENABLE CONDSTORE").untagged("* ENABLED CONDSTORE").ok()
			c.do("e2 SELECT INBOX").contains("* OK [HIGHESTMODSEQ 3] Highest").ok()
		}},
		{"SELECT (CONDSTORE)", func(c *testClient) {
			c.do("e1 SELECT INBOX (CONDSTORE)").contains("* OK [HIGHESTMODSEQ 3] Highest").ok()
		}},
		{"EXAMINE (CONDSTORE)", func(c *testClient) {
			c.do("e1 EXAMINE INBOX (CONDSTORE)").contains("* OK [HIGHESTMODSEQ 3] Highest").ok("READ-ONLY")
		}},
		{"FETCH MODSEQ", func(c *testClient) {
			c.do("e1 SELECT INBOX").lacks("* OK [HIGHESTMODSEQ").ok()
			c.do("e2 FETCH 1 (MODSEQ)").untagged("* OK [HIGHESTMODSEQ 3] Highest", "* 1 FETCH (MODSEQ (2))").ok()
			// Only the first enabling command announces it.
			c.do("e3 FETCH 2 (MODSEQ)").untagged("* 2 FETCH (MODSEQ (3))").ok()
		}},
		{"FETCH CHANGEDSINCE", func(c *testClient) {
			c.do("e1 SELECT INBOX").ok()
			// CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1).
			c.do("e2 FETCH 1:* (FLAGS) (CHANGEDSINCE 2)").untagged(
				"* OK [HIGHESTMODSEQ 3] Highest", `* 2 FETCH (FLAGS (\Recent) MODSEQ (3))`).ok()
		}},
		{"SEARCH MODSEQ", func(c *testClient) {
			c.do("e1 SELECT INBOX").ok()
			c.do("e2 SEARCH MODSEQ 3").untagged("* OK [HIGHESTMODSEQ 3] Highest", "* SEARCH 2 (MODSEQ 3)").ok()
		}},
		{"STORE UNCHANGEDSINCE", func(c *testClient) {
			c.do("e1 SELECT INBOX").ok()
			c.do(`e2 STORE 2 (UNCHANGEDSINCE 3) +FLAGS (\Answered)`).untagged(
				"* OK [HIGHESTMODSEQ 3] Highest", `* 2 FETCH (UID 2 FLAGS (\Answered \Recent) MODSEQ (4))`).ok()
		}},
		{"STATUS HIGHESTMODSEQ", func(c *testClient) {
			c.do("e1 STATUS INBOX (HIGHESTMODSEQ MESSAGES)").untagged("* STATUS INBOX (HIGHESTMODSEQ 3 MESSAGES 2)").ok()
			c.do("e2 SELECT INBOX").contains("* OK [HIGHESTMODSEQ 3] Highest").ok()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t)
			deliverN(ts, 2)
			c, c2 := ts.login("alice"), ts.login("alice")
			tc.run(c)
			c2.do("b1 SELECT INBOX").ok()
			r := c2.do(`b2 STORE 1 (UNCHANGEDSINCE 100) +FLAGS (\Flagged)`).ok()
			store := r.untaggedPrefix("* 1 FETCH (UID 1 FLAGS (")
			if len(store) != 1 {
				t.Fatalf("STORE: %s", r)
			}
			_, mod, _ := strings.Cut(store[0], " MODSEQ (")
			got := c.do("a1 NOOP").ok().untaggedPrefix("* 1 FETCH ")
			if len(got) != 1 || !strings.HasPrefix(got[0], `* 1 FETCH (UID 1 FLAGS (\Flagged`) || !strings.HasSuffix(got[0], " MODSEQ ("+mod) {
				t.Fatalf("unsolicited FETCH after %s: %q, want MODSEQ (%s", tc.name, got, mod)
			}
		})
	}
}

// TestCondStoreStore follows RFC 7162 3.1.3 (examples adapted to our
// UIDs and modseqs): UNCHANGEDSINCE passes, fails with MODIFIED when
// another session changed a message meanwhile, and always fails with 0.
func TestCondStoreStore(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 5) // UIDs 1..5, MODSEQ 2..6
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a0 ENABLE CONDSTORE").ok()
	c.do("a1 SELECT INBOX").contains("* OK [HIGHESTMODSEQ 6] Highest").ok()
	c2.do("b1 SELECT INBOX (CONDSTORE)").ok()

	// Example 3: all pass; .SILENT still reports the new MODSEQ. One STORE
	// is one change: its messages share the new MODSEQ.
	c.do(`a2 UID STORE 4,2,5 (UNCHANGEDSINCE 6) +FLAGS.SILENT (\Deleted)`).untagged(
		"* 2 FETCH (UID 2 MODSEQ (7))",
		"* 4 FETCH (UID 4 MODSEQ (7))",
		"* 5 FETCH (UID 5 MODSEQ (7))",
	).tagged("OK Store completed.")
	// Another session changes message 3 (and learns of 2, 4, 5).
	c2.do(`b2 STORE 3 +FLAGS (\Answered)`).contains(
		`* 3 FETCH (UID 3 FLAGS (\Answered) MODSEQ (8))`,
		`* 2 FETCH (UID 2 FLAGS (\Deleted) MODSEQ (7))`,
	).ok()
	// Example 4: message 3 changed after 7 and fails; the sync point
	// reports its new flags (with MODSEQ) after the command's own FETCH.
	c.do(`a3 STORE 1,3 (UNCHANGEDSINCE 7) +FLAGS.SILENT (\Seen)`).untagged(
		"* 1 FETCH (UID 1 MODSEQ (9))",
		`* 3 FETCH (UID 3 FLAGS (\Answered \Recent) MODSEQ (8))`,
	).tagged("OK [MODIFIED 3] Conditional STORE failed.")
	// UID STORE names the failures by UID.
	c.do(`a4 UID STORE 1:3 (UNCHANGEDSINCE 7) -FLAGS (\Deleted)`).untagged(
		`* 2 FETCH (UID 2 FLAGS (\Recent) MODSEQ (10))`,
	).tagged("OK [MODIFIED 1,3] Conditional STORE failed.")
	// UNCHANGEDSINCE 0 always fails and changes nothing (RFC 7162 3.1.3).
	c.do(`a5 STORE 1:5 (UNCHANGEDSINCE 0) +FLAGS (\Flagged)`).untagged().
		tagged("OK [MODIFIED 1:5] Conditional STORE failed.")
	c2.do("b4 SEARCH FLAGGED").untagged("* SEARCH",
		`* 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ (9))`,
		`* 2 FETCH (UID 2 FLAGS () MODSEQ (10))`).ok()
	c.do("a6 STATUS INBOX (HIGHESTMODSEQ)").untagged("* STATUS INBOX (HIGHESTMODSEQ 10)").ok()
}

func TestCondStoreFetchChangedSince(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 4) // MODSEQ 2..5
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a1 SELECT INBOX (CONDSTORE)").ok()
	c2.do("b1 SELECT INBOX").ok()
	c2.do(`b2 STORE 2 +FLAGS (\Seen)`).ok()      // MODSEQ 6
	ts.deliver("alice", "INBOX", testMsg("new")) // UID 5, MODSEQ 7
	c.do("a2 NOOP").untagged(
		`* 2 FETCH (UID 2 FLAGS (\Seen \Recent) MODSEQ (6))`,
		"* 5 EXISTS", "* 5 RECENT",
	).ok()
	// Only messages with MODSEQ above 5; MODSEQ is implied.
	c.do("a3 FETCH 1:* (FLAGS) (CHANGEDSINCE 5)").untagged(
		`* 2 FETCH (FLAGS (\Seen \Recent) MODSEQ (6))`,
		`* 5 FETCH (FLAGS (\Recent) MODSEQ (7))`,
	).ok()
	c.do("a4 UID FETCH 1:4 (FLAGS) (CHANGEDSINCE 5)").untagged(
		`* 2 FETCH (UID 2 FLAGS (\Seen \Recent) MODSEQ (6))`,
	).ok()
	c.do("a5 FETCH 1:* (UID) (CHANGEDSINCE 7)").untagged().ok()
	// VANISHED needs QRESYNC.
	c.do("a6 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)").bad()
}

func TestCondStoreSearch(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 4) // MODSEQ 2..5
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a1 SELECT INBOX").ok()
	c2.do("b1 SELECT INBOX").ok()
	c2.do(`b2 STORE 3 +FLAGS (\Flagged)`).ok() // MODSEQ 6
	c.do("a2 NOOP").ok()
	// RFC 7162 3.1.5: (MODSEQ n) is the highest MODSEQ of the matches.
	c.do("a3 SEARCH MODSEQ 4").untagged("* OK [HIGHESTMODSEQ 6] Highest", "* SEARCH 3 4 (MODSEQ 6)").ok()
	c.do(`a4 UID SEARCH MODSEQ "/flags/\\draft" all 3 NOT FLAGGED`).untagged("* SEARCH 2 4 (MODSEQ 5)").ok()
	c.do("a5 SEARCH MODSEQ 7").untagged("* SEARCH").ok()
	// RFC 7162 3.1.10 with ESEARCH (RFC 4731).
	c.do("a6 SEARCH RETURN (COUNT) MODSEQ 3").untagged(`* ESEARCH (TAG "a6") COUNT 3 MODSEQ 6`).ok()
	c.do("a7 UID SEARCH RETURN (MIN MAX) MODSEQ 5").untagged(`* ESEARCH (TAG "a7") UID MIN 3 MAX 4 MODSEQ 6`).ok()
}

// TestCondStoreCopyExpunge: RFC 7162 3.2.10 / 3.1: an expunge raises
// HIGHESTMODSEQ, and copies get new MODSEQs in the destination.
func TestCondStoreCopyExpunge(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 3) // MODSEQ 2..4
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a1 SELECT INBOX (CONDSTORE)").contains("* OK [HIGHESTMODSEQ 4] Highest").ok()
	c2.do("b1 STATUS Archive (HIGHESTMODSEQ)").untagged("* STATUS Archive (HIGHESTMODSEQ 1)").ok()
	c.do("a2 COPY 1:2 Archive").ok("COPYUID *")
	// One COPY is one change in the destination.
	c2.do("b2 EXAMINE Archive (CONDSTORE)").contains("* OK [HIGHESTMODSEQ 2] Highest").ok()
	c2.do("b3 FETCH 1:* (MODSEQ)").untagged("* 1 FETCH (MODSEQ (2))", "* 2 FETCH (MODSEQ (2))").ok()

	c.do(`a3 STORE 3 +FLAGS.SILENT (\Deleted)`).untagged("* 3 FETCH (UID 3 MODSEQ (5))").ok()
	c.do("a4 EXPUNGE").untagged("* 3 EXPUNGE").tagged("OK Expunge completed.")
	c.do("a5 STATUS INBOX (HIGHESTMODSEQ MESSAGES)").untagged("* STATUS INBOX (HIGHESTMODSEQ 6 MESSAGES 2)").ok()
	// MOVE: the source's HIGHESTMODSEQ rises by the expunge, the
	// destination's by the new messages.
	c.do("a6 MOVE 1 Archive").contains("* 1 EXPUNGE").ok()
	c2.do("b4 NOOP").untagged("* 3 EXISTS", "* 3 RECENT").ok()
	c2.do("b5 FETCH 3 (UID MODSEQ)").untagged("* 3 FETCH (UID 3 MODSEQ (3))").ok()
	c.do("a7 STATUS INBOX (HIGHESTMODSEQ)").untagged("* STATUS INBOX (HIGHESTMODSEQ 7)").ok()
}

// TestCondStoreIdle: an IDLE update for a flag change carries MODSEQ.
func TestCondStoreIdle(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 2)
	c, c2 := ts.login("alice"), ts.login("alice")
	c.do("a1 ENABLE CONDSTORE").ok()
	c.do("a2 SELECT INBOX").ok()
	c2.do("b1 SELECT INBOX").ok()
	c.send("a3 IDLE\r\n")
	c.expect("+ idling")
	c2.do(`b2 STORE 2 +FLAGS (\Flagged)`).ok() // MODSEQ 4
	c.expect(`* 2 FETCH (UID 2 FLAGS (\Flagged \Recent) MODSEQ (4))`)
	ts.deliver("alice", "INBOX", testMsg("new")) // MODSEQ 5
	c.expect("* 3 EXISTS")
	c.expect("* 3 RECENT")
	c.send("DONE\r\n")
	c.expect("a3 OK Idle completed.")
	c.do("a4 FETCH 3 (MODSEQ)").untagged("* 3 FETCH (MODSEQ (5))").ok()
}
