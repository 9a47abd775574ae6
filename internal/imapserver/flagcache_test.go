package imapserver

import "testing"

// TestWithFlagCache runs the transcript tests that involve flags, SEARCH,
// STORE, expunges and other sessions again with the flag cache filled by
// every FETCH of flags and every flag-only SEARCH (flagcache.go; it is
// otherwise used only from minFlagCache messages on).
func TestWithFlagCache(t *testing.T) {
	old := minFlagCache
	minFlagCache = 1
	defer func() { minFlagCache = old }()
	for name, fn := range map[string]func(*testing.T){
		"SearchKeys":                        TestSearchKeys,
		"SearchSequenceNumbersAfterExpunge": TestSearchSequenceNumbersAfterExpunge,
		"ESearch":                           TestESearch,
		"SearchRev2":                        TestSearchRev2,
		"SearchTwoSessions":                 TestSearchTwoSessions,
		"CondStoreStore":                    TestCondStoreStore,
		"CondStoreFetchChangedSince":        TestCondStoreFetchChangedSince,
		"CondStoreSearch":                   TestCondStoreSearch,
		"CondStoreCopyExpunge":              TestCondStoreCopyExpunge,
		"CondStoreIdle":                     TestCondStoreIdle,
		"QResyncVanished":                   TestQResyncVanished,
		"QResyncReconnect":                  TestQResyncReconnect,
		"QResyncHighestModSeqReports":       TestQResyncHighestModSeqReports,
		"SearchMetaInStore":                 TestSearchMetaInStore,
		"FetchItems":                        TestFetchItems,
		"FetchSetsSeen":                     TestFetchSetsSeen,
		"FetchExpungedByOther":              TestFetchExpungedByOther,
	} {
		t.Run(name, fn)
	}
}

// TestSharedFlagIndex: sessions of one process share a flag index per
// mailbox (flagindex.go). The first whole-mailbox flag read scans the
// mailbox; a later session's read brings the index up to date from the
// modseq log (flag change, expunge, delivery by others) without a scan
// and answers exactly the store's state; the index goes away when the
// last session holding it leaves the mailbox.
func TestSharedFlagIndex(t *testing.T) {
	old := minFlagCache
	minFlagCache = 1
	defer func() { minFlagCache = old }()
	ts := newTestServer(t)
	deliverN(ts, 4) // UIDs 1..4, MODSEQ 2..5
	idx := &ts.srv.flagIdx
	a, b, c := ts.login("alice"), ts.login("alice"), ts.login("alice")
	a.do("a1 ENABLE IMAP4rev2").ok()
	c.do("c1 ENABLE IMAP4rev2").ok()
	a.do("a2 SELECT INBOX").ok()
	a.do("a3 UID FETCH 1:* (FLAGS)").untagged(
		"* 1 FETCH (UID 1 FLAGS ())", "* 2 FETCH (UID 2 FLAGS ())", "* 3 FETCH (UID 3 FLAGS ())", "* 4 FETCH (UID 4 FLAGS ())").ok()
	if n, s := idx.len(), idx.scans.Load(); n != 1 || s != 1 {
		t.Fatalf("after the first read: %d indexes, %d scans; want 1, 1", n, s)
	}

	// Another session changes the mailbox: a flag, an expunge, a new
	// message.
	b.do("b1 SELECT INBOX").ok()
	b.do(`b2 UID STORE 2 +FLAGS.SILENT (\Flagged $Work)`).ok()
	b.do(`b3 UID STORE 3 +FLAGS.SILENT (\Deleted)`).ok()
	b.do("b4 EXPUNGE").ok()
	deliverN(ts, 1) // UID 5

	// A new session's read comes from the shared index, updated.
	c.do("c2 SELECT INBOX").ok()
	c.do("c3 UID FETCH 1:* (FLAGS)").untagged(
		"* 1 FETCH (UID 1 FLAGS ())", `* 2 FETCH (UID 2 FLAGS ($Work \Flagged))`, "* 3 FETCH (UID 4 FLAGS ())",
		"* 4 FETCH (UID 5 FLAGS ())").ok()
	c.do(`c4 UID SEARCH FLAGGED`).untagged("* ESEARCH (TAG \"c4\") UID ALL 2").ok()
	if n, s := idx.len(), idx.scans.Load(); n != 1 || s != 1 {
		t.Fatalf("after the second session's read: %d indexes, %d scans; want 1, 1 (no new scan)", n, s)
	}
	// The first session still reports the changes at its sync point,
	// and its own cache stays its own.
	a.do("a4 NOOP").untagged("* 3 EXPUNGE", `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted.`,
		`* 2 FETCH (UID 2 FLAGS ($Work \Flagged))`, "* 4 EXISTS").ok()
	a.do("a5 UID SEARCH FLAGGED").untagged("* ESEARCH (TAG \"a5\") UID ALL 2").ok()

	// The index lives while a session with a filled cache has the mailbox
	// selected.
	a.do("a6 UNSELECT").ok()
	if n := idx.len(); n != 1 {
		t.Fatalf("one session left: %d indexes, want 1", n)
	}
	c.do("c5 LOGOUT")
	ts.waitEnded(1)
	if n := idx.len(); n != 0 {
		t.Fatalf("no session left: %d indexes, want 0", n)
	}
	// A new read builds it again: a second scan.
	a.do("a7 SELECT INBOX").ok()
	a.do("a8 UID SEARCH UNSEEN").untagged("* ESEARCH (TAG \"a8\") UID ALL 1:2,4:5").ok()
	if n, s := idx.len(), idx.scans.Load(); n != 1 || s != 2 {
		t.Fatalf("after all left and a new read: %d indexes, %d scans; want 1, 2", n, s)
	}
}
