package imapserver

// NOTIFY (RFC 5465) transcripts: session a sets NOTIFY, session b (or the
// store, as LMTP would) makes the changes.

import (
	"strings"
	"testing"
)

func TestNotifyCapability(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	r := c.do("a1 CAPABILITY").ok()
	if !strings.Contains(" "+r.lines()[0]+" ", " NOTIFY ") {
		t.Fatalf("NOTIFY not advertised: %v", r.lines())
	}
}

// statusLine expects "* STATUS name (MESSAGES m UIDNEXT u UIDVALIDITY v
// UNSEEN n)", whatever v is.
func expectStatus(c *testClient, name, messages, uidNext, unseen string) {
	c.t.Helper()
	l := c.expectPrefix("* STATUS " + name + " (MESSAGES " + messages + " UIDNEXT " + uidNext + " UIDVALIDITY ")
	if !strings.HasSuffix(l, " UNSEEN "+unseen+")") {
		c.t.Fatalf("got %q, want UNSEEN %s", l, unseen)
	}
}

// TestNotifyIdle is the brief's transcript: while IDLE, changes to other
// mailboxes come as STATUS and LIST, changes to the selected one as
// EXISTS + FETCH with the requested attributes.
func TestNotifyIdle(t *testing.T) {
	ts := newTestServer(t)
	a, b := ts.login("alice"), ts.login("alice")
	a.do("a1 SELECT INBOX").ok()
	a.do("a2 NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) " +
		"(PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))").untagged().ok()
	a.send("a3 IDLE\r\n")
	a.expect("+ idling")

	b.appendMsg("b1", "Drafts", testMsg("draft")).ok()
	expectStatus(a, "Drafts", "1", "2", "1")
	b.do("b2 CREATE Foo").ok()
	a.expect(`* LIST () "/" Foo`)
	b.do("b3 RENAME Foo Bar").ok()
	a.expect(`* LIST () "/" Bar ("OLDNAME" (Foo))`)
	b.do("b4 SUBSCRIBE Bar").ok()
	a.expect(`* LIST (\Subscribed) "/" Bar`)
	b.do("b5 UNSUBSCRIBE Bar").ok()
	a.expect(`* LIST () "/" Bar`)
	b.do("b6 DELETE Bar").ok()
	a.expect(`* LIST (\NonExistent) "/" Bar`)

	// The selected mailbox: EXISTS, then the MessageNew FETCH; no STATUS.
	ts.deliver("alice", "INBOX", testMsg("new"))
	a.expect("* 1 EXISTS")
	a.expect("* 1 RECENT")
	a.expect(`* 1 FETCH (UID 1 FLAGS (\Recent))`)
	b.do("b7 SELECT INBOX").ok()
	b.do(`b8 STORE 1 +FLAGS (\Flagged)`).ok()
	a.expect(`* 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`)
	b.do(`b9 STORE 1 +FLAGS.SILENT (\Deleted)`).ok()
	a.expect(`* 1 FETCH (UID 1 FLAGS (\Deleted \Flagged \Recent))`)
	b.do("b10 EXPUNGE").ok()
	a.expect("* 1 EXPUNGE")
	a.send("DONE\r\n")
	a.expect("a3 OK Idle completed.")
	a.do("a4 NOOP").untagged().ok()
}

// TestNotifyBetweenCommands: without IDLE, notifications arrive while the
// client is quiet; NOTIFY NONE stops them.
func TestNotifyBetweenCommands(t *testing.T) {
	ts := newTestServer(t)
	a, b := ts.login("alice"), ts.login("alice")
	a.do("a1 NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName))").ok()
	ts.deliver("alice", "Junk", testMsg("spam"))
	expectStatus(a, "Junk", "1", "2", "1")
	b.do("b1 CREATE Quiet").ok()
	a.expect(`* LIST () "/" Quiet`)
	// Subscriptions were not asked for.
	b.do("b2 SUBSCRIBE Quiet").ok()
	a.do("a2 NOOP").untagged().ok()

	a.do("a3 NOTIFY NONE").untagged().ok()
	b.do("b3 CREATE Later").ok()
	ts.deliver("alice", "Junk", testMsg("more spam"))
	a.do("a4 NOOP").untagged().ok()
}

// TestNotifyFilters: INBOXES, SUBTREE, MAILBOXES and SUBSCRIBED pick the
// right mailboxes.
func TestNotifyFilters(t *testing.T) {
	ts := newTestServer(t)
	a, b := ts.login("alice"), ts.login("alice")
	for _, m := range []string{"Lists", "Lists/a", "Listsx", "misc", "misc/sub", "Other"} {
		b.do("b CREATE " + m).ok()
	}
	deliverAll := func() {
		for _, m := range []string{"INBOX", "Lists", "Lists/a", "Listsx", "misc", "misc/sub", "Other"} {
			ts.deliver("alice", m, testMsg("to "+m))
		}
	}
	statusNames := func(r *response) string {
		var names []string
		for _, l := range r.untaggedPrefix("* STATUS ") {
			names = append(names, strings.Fields(l)[2])
		}
		return strings.Join(names, " ")
	}

	a.do("a1 NOTIFY SET (INBOXES (MessageNew MessageExpunge)) (SUBTREE Lists (MessageNew MessageExpunge)) " +
		"(MAILBOXES (misc) (MessageNew MessageExpunge MailboxName))").ok()
	// Stop the between-command delivery from racing the NOOP below: IDLE
	// is not running and every change is committed before the NOOP.
	deliverAll()
	b.do("b CREATE NotWatched").ok()
	r := a.do("a2 NOOP").ok()
	for len(r.untaggedPrefix("* STATUS ")) < 4 {
		r.untag = append(r.untag, a.do("a3 NOOP").ok().lines()...)
	}
	if got := statusNames(r); got != "INBOX Lists Lists/a misc" {
		t.Fatalf("STATUS for %q, want INBOX Lists Lists/a misc\n%s", got, r)
	}
	r.lacks("* LIST")

	b.do(`b SUBSCRIBE Other`).ok()
	a.do("a4 NOTIFY SET (SUBSCRIBED (MessageNew MessageExpunge))").ok()
	deliverAll()
	r = a.do("a5 NOOP").ok()
	for len(r.untaggedPrefix("* STATUS ")) < 2 {
		r.untag = append(r.untag, a.do("a6 NOOP").ok().lines()...)
	}
	// INBOX is subscribed from the start.
	if got := statusNames(r); got != "INBOX Other" {
		t.Fatalf("STATUS for %q, want INBOX Other\n%s", got, r)
	}
}

// TestNotifyStatusIndicator: NOTIFY SET STATUS reports every watched
// mailbox but the selected one at once; HIGHESTMODSEQ once CONDSTORE is on.
func TestNotifyStatusIndicator(t *testing.T) {
	ts := newTestServer(t)
	a := ts.login("alice")
	a.do("a1 ENABLE CONDSTORE").ok()
	a.do("a2 SELECT INBOX").ok()
	r := a.do("a3 NOTIFY SET STATUS (SELECTED-DELAYED NONE) (MAILBOXES (INBOX Sent Trash) (MessageNew MessageExpunge))").ok()
	if len(r.lines()) != 2 || !strings.HasPrefix(r.lines()[0], "* STATUS Sent (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ") ||
		!strings.HasSuffix(r.lines()[0], " UNSEEN 0 HIGHESTMODSEQ 1)") || !strings.HasPrefix(r.lines()[1], "* STATUS Trash ") {
		t.Fatalf("%s", r)
	}
}

// TestNotifyMessageEvents: a filter without FlagChange ignores flag
// changes in other mailboxes but reports expunges.
func TestNotifyMessageEvents(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver("alice", "Sent", testMsg("sent"))
	a, b := ts.login("alice"), ts.login("alice")
	a.do("a1 NOTIFY SET (MAILBOXES Sent (MessageNew MessageExpunge))").ok()
	b.do("b1 SELECT Sent").ok()
	b.do(`b2 STORE 1 +FLAGS (\Seen)`).ok()
	a.do("a2 NOOP").untagged().ok()
	b.do(`b3 STORE 1 +FLAGS (\Deleted)`).ok()
	b.do("b4 EXPUNGE").ok()
	expectStatus(a, "Sent", "0", "2", "0")

	a.do("a3 NOTIFY SET (MAILBOXES Sent (FlagChange))").ok()
	b.appendMsg("b5", "Sent", testMsg("again")).ok()
	a.do("a4 NOOP").untagged().ok()
	b.do(`b6 UID STORE 2 +FLAGS (\Seen)`).ok()
	expectStatus(a, "Sent", "1", "3", "0")
}

// TestNotifySelectedExpunge: with SELECTED an expunge is reported even
// after a FETCH by sequence number; with SELECTED-DELAYED it waits.
func TestNotifySelectedExpunge(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 3)
	a, b := ts.login("alice"), ts.login("alice")
	a.do("a1 SELECT INBOX").ok()
	b.do("b1 SELECT INBOX").ok()

	a.do("a2 NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge))").ok()
	b.do(`b2 STORE 3 +FLAGS.SILENT (\Deleted)`).ok()
	b.do("b3 EXPUNGE").ok()
	a.do("a3 FETCH 1 (UID)").lacks("* 3 EXPUNGE").ok()
	a.do("a4 NOOP").contains("* 3 EXPUNGE").ok()

	a.do("a5 NOTIFY SET (SELECTED (MessageNew MessageExpunge))").ok()
	b.do(`b4 STORE 2 +FLAGS.SILENT (\Deleted)`).ok()
	b.do("b5 EXPUNGE").ok()
	// Delivered at once, between commands or with the FETCH.
	a.expect(`* 2 FETCH (UID 2 FLAGS (\Deleted \Recent))`)
	a.expect("* 2 EXPUNGE")
	a.do("a6 FETCH 1 (UID)").untagged("* 1 FETCH (UID 1)").ok()
}

func TestNotifyErrors(t *testing.T) {
	ts := newTestServer(t)
	a, b := ts.login("alice"), ts.login("alice")
	a.do("a1 NOTIFY SET (PERSONAL (MailboxName))").ok()
	a.do("a2 NOTIFY SET (PERSONAL (MessageNew MessageExpunge AnnotationChange))").no(badEventCode)
	a.do("a3 NOTIFY SET (SELECTED (MessageNew MessageExpunge XFuture))").no(badEventCode)
	a.do("a4 NOTIFY SET (SELECTED (MessageNew))").bad()
	a.do("a5 NOTIFY SET (SELECTED (MessageNew (RFC822) MessageExpunge))").bad()
	a.do("a6 NOTIFY SET (INBOXES (MessageNew (UID) MessageExpunge))").bad()
	a.do("a7 NOTIFY BOGUS").bad()
	many := make([]string, maxNotifyNames+1)
	for i := range many {
		many[i] = "m" + itoa(i)
	}
	a.do("a8 NOTIFY SET (MAILBOXES (" + strings.Join(many, " ") + ") (MessageNew MessageExpunge))").no("NOTIFICATIONOVERFLOW")
	// The failed commands left the first NOTIFY SET in force.
	b.do("b1 CREATE Still").ok()
	a.expect(`* LIST () "/" Still`)

	c := ts.dial()
	c.do("c1 NOTIFY NONE").bad()
}

// TestNotifySelectedQResync: with NOTIFY SELECTED and QRESYNC, an expunge
// by another session arrives between commands as VANISHED followed by an
// untagged HIGHESTMODSEQ (no tagged reply can carry it; condstore.go
// writeModSeqReport), and the next command's tagged OK has no code.
func TestNotifySelectedQResync(t *testing.T) {
	ts := newTestServer(t)
	deliverN(ts, 3) // MODSEQ 2..4
	a, b := ts.login("alice"), ts.login("alice")
	a.do("a1 ENABLE QRESYNC").ok()
	a.do("a2 SELECT INBOX").ok()
	b.do("b1 SELECT INBOX").ok()
	a.do("a3 NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange))").ok()
	b.do(`b2 UID STORE 2 +FLAGS.SILENT (\Deleted)`).ok() // MODSEQ 5
	a.expect(`* 2 FETCH (UID 2 FLAGS (\Deleted \Recent) MODSEQ (5))`)
	b.do("b3 UID EXPUNGE 2").ok() // MODSEQ 6
	a.expect("* VANISHED 2")
	a.expect("* OK [HIGHESTMODSEQ 6] Highest")
	a.do("a4 NOOP").untagged().tagged("OK Noop completed.")
}
