package imapserver

import (
	"testing"
)

func TestCreate(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c2 := ts.login("alice") // a second session watching

	c.do("a1 CREATE Projects/2026/Q1").untagged().tagged("OK Create completed.")
	// Parents are created too (RFC 9051 6.3.4).
	c2.do(`b1 LIST "" Projects*`).untagged(
		`* LIST (\HasChildren) "/" Projects`,
		`* LIST (\HasChildren) "/" Projects/2026`,
		`* LIST (\HasNoChildren) "/" Projects/2026/Q1`,
	).ok()
	c.do("a2 CREATE Projects/2026/Q1").tagged("NO [ALREADYEXISTS] Mailbox already exists.")
	c.do("a3 CREATE inbox").tagged("NO [ALREADYEXISTS] Mailbox already exists.")
	c.do("a4 CREATE INBOX/Sub").ok()
	// A trailing separator declares the intent to create children
	// (RFC 9051 6.3.4): the name is created without it.
	c.do("a5 CREATE Later/").ok()
	c2.do(`b2 LIST "" Later*`).untagged(`* LIST (\HasNoChildren) "/" Later`).ok()
}

func TestCreateBadNames(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	for _, tc := range []struct{ cmd, want string }{
		{`a1 CREATE ".."`, `NO [CANNOT] Mailbox name has a ".." level.`},
		{`a2 CREATE "a/../b"`, `NO [CANNOT] Mailbox name has a ".." level.`},
		{`a3 CREATE "/lead"`, `NO [CANNOT] Mailbox name has an empty hierarchy level.`},
		{`a4 CREATE "a//b"`, `NO [CANNOT] Mailbox name has an empty hierarchy level.`},
		{`a5 CREATE "trail//"`, `NO [CANNOT] Mailbox name has an empty hierarchy level.`},
		{`a7 CREATE "a*b"`, `NO [CANNOT] Mailbox name contains a wildcard.`},
	} {
		c.do(tc.cmd).tagged(tc.want)
	}
	// Invalid modified UTF-7 is a syntax error (BAD) from the grammar.
	r := c.do(`a8 CREATE "&Jjo"`).bad()
	if r.text() == "" {
		t.Fatal("BAD without text")
	}
	c.do(`a9 CREATE "&-x&AOk-"`).ok() // "&x\u00e9" is fine
	c.do(`b1 LIST "" "&-*"`).untagged(`* LIST (\HasNoChildren) "/" &-x&AOk-`).ok()
	// A control character is a grammar error in a modified UTF-7 name,
	// and a store refusal in a UTF-8 one.
	c.do("b2 CREATE {3+}\r\na\x01b").bad()
	c.do("b3 ENABLE UTF8=ACCEPT").ok()
	c.do("b4 CREATE {3+}\r\na\x01b").tagged(`NO [CANNOT] Mailbox name contains a control character.`)
	c.do("b5 CREATE {4+}\r\na\xff\xfeb").bad() // not UTF-8
}

func TestCreateSpecialUse(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do(`a1 CREATE Important (USE (\Flagged))`).ok()
	c.do(`a2 LIST "" Important`).untagged(`* LIST (\HasNoChildren \Flagged) "/" Important`).ok()
	c.do(`a3 CREATE Weird (USE (\Bogus))`).no("USEATTR")
	c.do(`a4 CREATE Two (USE (\Sent \Trash))`).no("USEATTR")
	c.do(`a5 LIST "" Weird`).untagged().ok()
}

func TestDelete(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c2 := ts.login("alice")
	c.do("a1 CREATE Old/Child").ok()
	c.do("a2 DELETE Old").ok()
	// Children are kept; the parent shows as a non-selectable level.
	c2.do(`b1 LIST "" Old*`).untagged(
		`* LIST (\Noselect \HasChildren) "/" Old`,
		`* LIST (\HasNoChildren) "/" Old/Child`,
	).ok()
	c2.do(`b2 LIST (SUBSCRIBED RECURSIVEMATCH) "" "Old*" RETURN (CHILDREN)`).ok()
	c.do("a3 DELETE Old/Child").ok()
	c2.do(`b3 LIST "" Old*`).untagged().ok()
	c.do("a4 DELETE Old").tagged("NO [NONEXISTENT] Mailbox does not exist.")
	c.do("a5 DELETE inbox").no("NOPERM")
}

func TestRename(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c2 := ts.login("alice")
	c.do("a1 CREATE A/B").ok()
	c.appendMsg("a2", "A/B", testMsg("one")).ok()
	uv := c.do("a3 STATUS A/B (UIDVALIDITY)").ok().lines()[0]
	c.do("a4 RENAME A Z").ok()
	c2.do(`b1 LIST "" *`).contains(`* LIST (\HasChildren) "/" Z`, `* LIST (\HasNoChildren) "/" Z/B`).
		lacks(`* LIST (\HasChildren) "/" A`).ok()
	// UIDVALIDITY survives a rename.
	c2.do("b2 STATUS Z/B (UIDVALIDITY)").untagged(replaceName(uv, `A/B`, `Z/B`)).ok()
	c.do("a5 RENAME Nope X").no("NONEXISTENT")
	c.do("a6 RENAME Z Sent").no("ALREADYEXISTS")

	// Renaming INBOX moves its messages and leaves it empty.
	c.appendMsg("a7", "INBOX", testMsg("in inbox")).ok()
	c.do("a8 RENAME INBOX Saved").ok()
	c2.do("b3 STATUS INBOX (MESSAGES)").untagged(`* STATUS INBOX (MESSAGES 0)`).ok()
	c2.do("b4 STATUS Saved (MESSAGES)").untagged(`* STATUS Saved (MESSAGES 1)`).ok()
}

func replaceName(line, from, to string) string {
	for i := 0; i+len(from) <= len(line); i++ {
		if line[i:i+len(from)] == from {
			return line[:i] + to + line[i+len(from):]
		}
	}
	return line
}

func TestSubscribe(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do("a1 CREATE Lists/Go").ok()
	c.do("a2 SUBSCRIBE Lists/Go").ok()
	c.do("a3 SUBSCRIBE Ghost").ok() // may name a mailbox that does not exist
	c.do(`a4 SUBSCRIBE "bad//name"`).no("CANNOT")
	c.do(`a5 LSUB "" *`).contains(`* LSUB () "/" Lists/Go`, `* LSUB () "/" Ghost`).ok()
	// LSUB with % shows an unsubscribed parent of a subscription as
	// \Noselect (RFC 3501 6.3.9).
	c.do(`a6 LSUB "" Lists`).untagged().ok()
	c.do(`a7 LSUB "" %`).contains(`* LSUB (\Noselect) "/" Lists`).lacks(`* LSUB () "/" Lists/Go`).ok()
	c.do(`a8 LIST (SUBSCRIBED) "" *`).contains(
		`* LIST (\HasNoChildren \Subscribed) "/" Lists/Go`,
		`* LIST (\NonExistent \Subscribed) "/" Ghost`,
	).lacks(`* LIST (\HasChildren) "/" Lists`).ok()
	c.do(`a9 LIST (SUBSCRIBED RECURSIVEMATCH) "" %`).contains(
		`* LIST (\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))`,
		`* LIST (\NonExistent \Subscribed) "/" Ghost`,
	).ok()
	c.do("b1 UNSUBSCRIBE Ghost").ok()
	c.do(`b2 LSUB "" *`).contains(`* LSUB () "/" Lists/Go`, `* LSUB () "/" INBOX`).lacks(`* LSUB () "/" Ghost`).ok()
	c.do("b3 UNSUBSCRIBE INBOX").ok()
	c.do(`b4 LIST "" * RETURN (SUBSCRIBED)`).contains(`* LIST (\HasNoChildren \Subscribed) "/" Lists/Go`,
		`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasChildren) "/" Lists`,
		`* LIST (\HasNoChildren \Subscribed \Sent) "/" Sent`).ok()
}

func TestNamespaceAndID(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	// RFC 2971: ID is valid in any state.
	c.do(`a1 ID ("name" "Thunderbird" "version" "128.0")`).untagged("* ID NIL").ok()
	c.do(`a2 ID NIL`).untagged("* ID NIL").ok()
	c.login("alice", alicePass)
	c.do("a3 NAMESPACE").untagged(`* NAMESPACE (("" "/")) NIL NIL`).tagged("OK Namespace completed.")
}

func TestEnable(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	// Unknown capabilities are ignored (RFC 5161 3.1).
	c.do("a1 ENABLE X-UNKNOWN CONDSTORE").untagged("* ENABLED CONDSTORE").ok()
	c.do("a2 ENABLE UTF8=ACCEPT").untagged("* ENABLED UTF8=ACCEPT").ok()
	// Only newly enabled ones are listed.
	c.do("a3 ENABLE UTF8=ACCEPT").untagged("* ENABLED").ok()
}

func TestUTF7MailboxNames(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c2 := ts.login("alice")
	// A IMAP4rev1 client names "Entwürfe" in modified UTF-7.
	c.do(`a1 CREATE "Entw&APw-rfe"`).ok()
	c.do(`a2 LIST "" "Entw*"`).untagged(`* LIST (\HasNoChildren) "/" Entw&APw-rfe`).ok()
	c.do(`a3 STATUS Entw&APw-rfe (MESSAGES)`).untagged(`* STATUS Entw&APw-rfe (MESSAGES 0)`).ok()
	c.do(`a4 CREATE "Caf&AOk-/&ZeVnLIqe-"`).ok() // "Café/日本語"

	// After ENABLE UTF8=ACCEPT names are UTF-8 both ways (RFC 6855 3).
	c2.do("b1 ENABLE UTF8=ACCEPT").ok()
	c2.do(`b2 LIST "" "Entw*"`).untagged(`* LIST (\HasNoChildren) "/" "Entwürfe"`).ok()
	c2.do(`b3 LIST "" "Caf*"`).untagged(
		`* LIST (\HasChildren) "/" "Café"`,
		`* LIST (\HasNoChildren) "/" "Café/日本語"`,
	).ok()
	c2.do(`b4 CREATE "Übersicht"`).ok()
	c.do(`a5 LIST "" "&ANw-*"`).untagged(`* LIST (\HasNoChildren) "/" &ANw-bersicht`).ok()
	// The store keeps UTF-8.
	if _, err := ts.account("alice").Mailbox(t.Context(), "Entwürfe"); err != nil {
		t.Fatalf("stored name: %v", err)
	}
}

func TestStatus(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.AppendLimit = 50000 }))
	c := ts.login("alice")
	c2 := ts.login("alice")
	m1, m2 := testMsg("one"), testMsg("two")
	c.do("a1 APPEND Drafts (\\Seen) {" + itoa(len(m1)) + "+}\r\n" + m1).ok()
	c.do("a2 APPEND Drafts (\\Deleted) {" + itoa(len(m2)) + "+}\r\n" + m2).ok()
	st, err := ts.account("alice").Status(t.Context(), "Drafts")
	if err != nil {
		t.Fatal(err)
	}
	c2.do("b1 STATUS Drafts (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT APPENDLIMIT)").untagged(
		`* STATUS Drafts (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ` + itoa(int(st.UIDValidity)) + ` UNSEEN 1 DELETED 1 SIZE ` +
			itoa(len(m1)+len(m2)) + ` RECENT 2 APPENDLIMIT 50000)`).ok()
	c2.do("b2 STATUS Nope (MESSAGES)").tagged("NO [NONEXISTENT] Mailbox does not exist.")
	c2.do("b3 STATUS Drafts (HIGHESTMODSEQ)").untagged(`* STATUS Drafts (HIGHESTMODSEQ 3)`).ok()
	c2.do("b4 STATUS Drafts (HIGHESTMODSEQ FOO)").bad()
}

func TestStatusRecent(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do("a1 STATUS INBOX (MESSAGES RECENT)").untagged("* STATUS INBOX (MESSAGES 0 RECENT 0)").ok()
	ts.deliver("alice", "INBOX", testMsg("one"))
	ts.deliver("alice", "INBOX", testMsg("two"))
	c.do("a2 STATUS INBOX (MESSAGES RECENT)").untagged("* STATUS INBOX (MESSAGES 2 RECENT 2)").ok()
	// EXAMINE does not take \Recent (RFC 3501 6.3.2); SELECT does.
	c2 := ts.login("alice")
	c2.do("b1 EXAMINE INBOX").ok()
	c.do("a3 STATUS INBOX (RECENT)").untagged("* STATUS INBOX (RECENT 2)").ok()
	c2.do("b2 SELECT INBOX").ok()
	c.do("a4 STATUS INBOX (RECENT)").untagged("* STATUS INBOX (RECENT 0)").ok()
	ts.deliver("alice", "INBOX", testMsg("three"))
	c.do(`a5 LIST "" INBOX RETURN (STATUS (RECENT))`).contains("* STATUS INBOX (RECENT 1)").ok()
}
