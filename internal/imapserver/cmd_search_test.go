package imapserver

import (
	"bufio"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
)

// searchCorpus is delivered to alice's INBOX in this order (UIDs 1..6).
// Each message is built to separate keys from each other.
var searchCorpus = []struct {
	date  string // internal date, RFC 3339
	flags []string
	msg   string
}{
	{ // 1: plain ASCII; internal date late evening in -0800 (next day in UTC)
		"2024-03-10T23:30:00-08:00", []string{mailstore.FlagSeen},
		"From: Alice Example <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Lunch plans\r\n" +
			"Date: Sun, 10 Mar 2024 23:00:00 -0800\r\nMessage-ID: <1@example.org>\r\n\r\nLet's meet at noon.\r\n",
	},
	{ // 2: encoded-word subject, base64 UTF-8 text, base64 attachment
		"2024-03-12T10:00:00+01:00", []string{mailstore.FlagFlagged, mailstore.FlagAnswered},
		"From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de>\r\nTo: alice@example.org\r\n" +
			"Subject: =?UTF-8?B?w5xiZXIgU3RyYcOfZQ==?=\r\nDate: Tue, 12 Mar 2024 09:00:00 +0100\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
			"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"R3LDvMOfZSBhdXMgS8O2bG4K\r\n" + // "Grüße aus Köln\n"
			"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"c2VjcmV0d29yZA==\r\n" + // "secretword" in an attachment: not searched
			"--b1--\r\n",
	},
	{ // 3: quoted-printable ISO-8859-1, Cc/Bcc, keyword
		"2024-03-15T12:00:00Z", []string{mailstore.FlagDeleted, "$Work"},
		"From: carol@example.net\r\nTo: undisclosed-recipients:;\r\nCc: Carol Two <carol2@example.net>\r\n" +
			"Bcc: dave@example.com\r\nSubject: Coffee\r\nDate: Fri, 15 Mar 2024 11:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"Un caf=E9 au lait, s'il vous pla=EEt.\r\n",
	},
	{ // 4: embedded message/rfc822
		"2024-04-01T08:00:00Z", []string{mailstore.FlagDraft},
		"From: fwd@example.org\r\nTo: alice@example.org\r\nSubject: Fwd: inner\r\nDate: Mon, 1 Apr 2024 08:00:00 +0000\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b2\r\n\r\n" +
			"--b2\r\nContent-Type: text/plain\r\n\r\nsee below\r\n" +
			"--b2\r\nContent-Type: message/rfc822\r\n\r\n" +
			"From: inner@example.org\r\nSubject: Inner subject\r\n\r\ndeepword here\r\n" +
			"--b2--\r\n",
	},
	{ // 5: no Date field, extra header, empty body
		"2024-04-02T08:00:00Z", nil,
		"From: nodate@example.org\r\nX-Priority: 1\r\nSubject: no date\r\n\r\n",
	},
	{ // 6: big-ish
		"2024-04-03T08:00:00Z", []string{mailstore.FlagSeen},
		"From: big@example.org\r\nSubject: big one\r\nDate: Wed, 3 Apr 2024 08:00:00 +0000\r\n\r\n" + strings.Repeat("x", 5000) + "\r\nNEEDLE at the end\r\n",
	},
}

// lit8 is a non-synchronizing literal (RFC 7888) for 8-bit search strings,
// which IMAP4rev1 allows only in literals.
func lit8(s string) string { return "{" + strconv.Itoa(len(s)) + "+}\r\n" + s }

func deliverCorpus(t *testing.T, ts *testServer) {
	t.Helper()
	acct := ts.account("alice")
	for i, m := range searchCorpus {
		d, err := time.Parse(time.RFC3339, m.date)
		if err != nil {
			t.Fatal(err)
		}
		_, uid, err := acct.Append(context.Background(), "INBOX", mailstore.NewMessage{Flags: m.flags, InternalDate: d}, strings.NewReader(m.msg))
		if err != nil {
			t.Fatal(err)
		}
		if int(uid) != i+1 {
			t.Fatalf("uid %d for message %d", uid, i+1)
		}
	}
}

func TestSearchKeys(t *testing.T) {
	ts := newTestServer(t)
	deliverCorpus(t, ts)
	c := ts.login("alice")
	c.do("n ENABLE CONDSTORE").untagged("* ENABLED CONDSTORE").ok() // MODSEQ keys below would enable it
	c.do("s SELECT INBOX").status("OK")
	tests := []struct{ key, want string }{
		{"ALL", "1 2 3 4 5 6"},
		{"SEEN", "1 6"},
		{"UNSEEN", "2 3 4 5"},
		{"FLAGGED ANSWERED", "2"},
		{"UNFLAGGED", "1 3 4 5 6"},
		{"DELETED", "3"},
		{"UNDELETED", "1 2 4 5 6"},
		{"DRAFT", "4"},
		{"UNDRAFT", "1 2 3 5 6"},
		{"UNANSWERED", "1 3 4 5 6"},
		{"KEYWORD $work", "3"},
		{"UNKEYWORD $Work", "1 2 4 5 6"},
		{"NOT SEEN", "2 3 4 5"},
		{"OR DRAFT DELETED", "3 4"},
		{"OR (SEEN FLAGGED) (DRAFT)", "4"},
		{"(SEEN) (NOT FLAGGED)", "1 6"},
		{"1:3", "1 2 3"},
		{"2,4:*", "2 4 5 6"},
		{"*", "6"},
		{"UID 2:3", "2 3"},
		{"UID 5:*", "5 6"},
		{"UID 100:*", "6"}, // RFC 9051 6.4.9: n:* includes the last message
		{"UID 7", ""},
		{"LARGER 1000", "6"},
		{"SMALLER 100", "5"},
		// Internal dates in their own zones: message 1 is 10-Mar-2024 in -0800.
		{"ON 10-Mar-2024", "1"},
		{"BEFORE 12-Mar-2024", "1"},
		{"SINCE 12-Mar-2024 BEFORE 1-Apr-2024", "2 3"},
		{"NOT LARGER 1000", "1 2 3 4 5"},
		{"OR ON 10-Mar-2024 LARGER 1000", "1 6"},
		{"NOT (SINCE 12-Mar-2024 SMALLER 1000)", "1 6"},
		// Mixed: the store narrows by date/size, the rest per message.
		{"UNSEEN SINCE 12-Mar-2024", "2 3 4 5"},
		{"SEEN LARGER 1000", "6"},
		{"2:4 SINCE 12-Mar-2024 UNDELETED", "2 4"},
		{"BODY noon BEFORE 12-Mar-2024", "1"},
		{"SENTON 10-Mar-2024", "1"},
		{"SENTBEFORE 13-Mar-2024", "1 2"},
		{"SENTSINCE 1-Apr-2024", "4 5 6"}, // 5 has no Date field: its internal date counts
		{"SENTON 2-Apr-2024", "5"},
		{"FROM alice", "1"},
		{"FROM \"Alice Example\"", "1"},
		{"FROM " + lit8("jürgen"), "2"},         // RFC 2047 decoded
		{"SUBJECT " + lit8("über straße"), "2"}, // decoded, case-insensitive
		{"SUBJECT inner", "4"},                  // "Fwd: inner"; not the embedded one
		{"SUBJECT \"Inner subject\"", ""},       // only the top-level header
		{"TO alice@example.org", "2 4"},
		{"CC carol2", "3"},
		{"BCC dave", "3"},
		{"HEADER X-Priority \"\"", "5"},
		{"HEADER x-priority 1", "5"},
		{"HEADER Message-ID \"<1@\"", "1"},
		{"BODY noon", "1"},
		{"BODY " + lit8("GRÜSSE"), ""},          // no ß -> SS folding
		{"BODY " + lit8("GRÜßE aus köln"), "2"}, // base64 UTF-8 text part
		{"BODY secretword", ""},                 // attachments are not searched
		{"BODY " + lit8("café au lait"), "3"},   // quoted-printable ISO-8859-1
		{"BODY deepword", "4"},                  // embedded message body
		{"BODY \"inner subject\"", "4"},         // embedded message header
		{"BODY lunch", ""},                      // BODY is not the header
		{"TEXT lunch", "1"},                     // TEXT is header and body
		{"TEXT needle", "6"},
		{"BODY needle NOT SEEN", ""},
		{"OR BODY noon SUBJECT coffee", "1 3"},
		{"NOT BODY noon", "2 3 4 5 6"},
		{"CHARSET UTF-8 BODY " + lit8("köln"), "2"},
		{"CHARSET US-ASCII SUBJECT lunch", "1"},
		{"RECENT", "1 2 3 4 5 6"}, // IMAP4rev1: all recent to this first session
		{"NEW", "2 3 4 5"},
		{"OLD", ""},
		{"YOUNGER 60", ""},
		{"OLDER 60", "1 2 3 4 5 6"},
		{"MODSEQ 1", "1 2 3 4 5 6 (MODSEQ 7)"},
	}
	for _, tc := range tests {
		want := "* SEARCH"
		if tc.want != "" {
			want += " " + tc.want
		}
		c.do("t SEARCH " + tc.key).untagged(want).status("OK")
	}
	// UID SEARCH answers UIDs (here equal to sequence numbers).
	c.do("u UID SEARCH SEEN").untagged("* SEARCH 1 6").tagged("OK Search completed.")
	c.do("b SEARCH CHARSET KOI8-R BODY x").untagged().tagged("NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.")
}

func TestSearchSequenceNumbersAfterExpunge(t *testing.T) {
	ts := newTestServer(t)
	deliverCorpus(t, ts)
	c := ts.login("alice")
	c.do("s SELECT INBOX").status("OK")
	c.do("e EXPUNGE").contains("* 3 EXPUNGE").status("OK")
	// Message 4 (UID 4) is now sequence number 3.
	c.do("t SEARCH DRAFT").untagged("* SEARCH 3")
	c.do("u UID SEARCH DRAFT").untagged("* SEARCH 4")
}

func TestESearch(t *testing.T) {
	ts := newTestServer(t)
	deliverCorpus(t, ts)
	c := ts.login("alice")
	c.do("n ENABLE CONDSTORE").untagged("* ENABLED CONDSTORE").ok() // MODSEQ keys below would enable it
	c.do("s SELECT INBOX").status("OK")
	c.do("a SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN").untagged(`* ESEARCH (TAG "a") MIN 2 MAX 5 ALL 2:5 COUNT 4`).status("OK")
	c.do("b UID SEARCH RETURN (ALL) OR SEEN DRAFT").untagged(`* ESEARCH (TAG "b") UID ALL 1,4,6`)
	c.do("c SEARCH RETURN () SEEN").untagged(`* ESEARCH (TAG "c") ALL 1,6`)
	c.do("d SEARCH RETURN (COUNT) UID 9").untagged(`* ESEARCH (TAG "d") COUNT 0`)
	c.do("e UID SEARCH RETURN (MIN MAX ALL) UID 9").untagged(`* ESEARCH (TAG "e") UID`)
	c.do("f SEARCH RETURN (MAX) MODSEQ 3").untagged(`* ESEARCH (TAG "f") MAX 6 MODSEQ 7`)

	// SAVE alone: no ESEARCH response; "$" then names the saved messages.
	c.do("g SEARCH RETURN (SAVE) OR DRAFT DELETED").untagged().status("OK")
	c.do("h SEARCH $").untagged("* SEARCH 3 4")
	c.do("i UID SEARCH UID $ SEEN").untagged("* SEARCH")
	c.do("j FETCH $ (UID)").untagged("* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)")
	// SAVE with MIN only saves the minimum (RFC 5182 2.1).
	c.do("k SEARCH RETURN (SAVE MIN) UNSEEN").untagged(`* ESEARCH (TAG "k") MIN 2`)
	c.do("l SEARCH $").untagged("* SEARCH 2")
	c.do("m SEARCH RETURN (SAVE MIN MAX) UNSEEN").untagged(`* ESEARCH (TAG "m") MIN 2 MAX 5`)
	c.do("n SEARCH $").untagged("* SEARCH 2 5")
	// A failing SEARCH with SAVE empties "$".
	c.do("o SEARCH RETURN (SAVE) CHARSET X-UNKNOWN ALL").status("NO", "BADCHARSET (UTF-8 US-ASCII)")
	c.do("p SEARCH $").untagged("* SEARCH")
}

func TestSearchRev2(t *testing.T) {
	ts := newTestServer(t)
	deliverCorpus(t, ts)
	c := ts.login("alice")
	c.do("e ENABLE IMAP4rev2").status("OK")
	c.do("s SELECT INBOX").status("OK")
	// RFC 9051 6.4.4: IMAP4rev2 always answers ESEARCH; no RETURN means ALL.
	c.do("a SEARCH SEEN").untagged(`* ESEARCH (TAG "a") ALL 1,6`).status("OK")
	c.do("b UID SEARCH DELETED").untagged(`* ESEARCH (TAG "b") UID ALL 3`)
	c.do("c SEARCH UID 99").untagged(`* ESEARCH (TAG "c")`)
	// 8-bit strings are fine as quoted strings after ENABLE IMAP4rev2.
	c.do(`d SEARCH BODY "Köln"`).untagged(`* ESEARCH (TAG "d") ALL 2`)
	// No \Recent in IMAP4rev2: FLAGS without it.
	c.do("f FETCH 5 (FLAGS)").untagged(`* 5 FETCH (FLAGS ())`)
}

// TestSearchTwoSessions: a flag change by another session is searched by
// what this session's view knows until its next sync point, then by the
// new state (the view is the source for flag keys).
func TestSearchTwoSessions(t *testing.T) {
	ts := newTestServer(t)
	deliverCorpus(t, ts)
	a := ts.login("alice")
	b := ts.login("alice")
	a.do("s SELECT INBOX").status("OK")
	b.do("s SELECT INBOX").status("OK")
	b.do("x STORE 5 +FLAGS (\\Seen)").status("OK")
	a.do("n NOOP").contains(`* 5 FETCH (UID 5 FLAGS (\Seen \Recent))`)
	a.do("a SEARCH UNSEEN").untagged("* SEARCH 2 3 4")
}

// BenchmarkSearchBody1000 runs SEARCH BODY (a word in the last of 1000
// messages of about 3 KB, so every text part is read and decoded) through
// a real session and store.
func BenchmarkSearchBody1000(b *testing.B) {
	ts := newTestServer(b)
	acct := ts.account("alice")
	para := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 50)
	for i := range 1000 {
		body := para
		if i == 999 {
			body += "needleword"
		}
		msg := "From: a@example.org\r\nSubject: m" + strconv.Itoa(i) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
		if _, _, err := acct.Append(context.Background(), "INBOX", mailstore.NewMessage{}, strings.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
	c := ts.login("alice")
	c.do("s SELECT INBOX").status("OK")
	b.ResetTimer()
	for range b.N {
		c.do("a SEARCH BODY needleword").untagged("* SEARCH 1000")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/search")
}

// hideMetaSearch hides the store's mailstore.MetaSearcher (the embedded
// interface carries only Account's methods).
type hideMetaSearch struct{ mailstore.Account }

// TestSearchMetaInStore: date and size keys answered by the store in SQL
// (mailstore.MetaSearcher, search.go searchMeta), alone or narrowing a
// conjunction with other keys (splitMetaCond), give exactly what
// evaluating every message's metadata gives, for every message of the
// search corpus, including after an expunge by another session that the
// view has not reported (the message matches nothing either way).
func TestSearchMetaInStore(t *testing.T) {
	ts := newTestServer(t)
	deliverCorpus(t, ts)
	acct := ts.account("alice")
	if _, ok := acct.(mailstore.MetaSearcher); !ok {
		t.Fatalf("%T does not implement mailstore.MetaSearcher", acct)
	}
	c := ts.login("alice")
	c.do("s SELECT INBOX").ok()
	ctx := context.Background()
	mb, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	mv, err := acct.View(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := newSelectedView(mb, true, mv, false, 0)
	keys := []string{"ALL", "LARGER 1000", "SMALLER 100", "LARGER 0", "ON 10-Mar-2024", "BEFORE 12-Mar-2024",
		"SINCE 12-Mar-2024", "SINCE 12-Mar-2024 BEFORE 1-Apr-2024", "NOT LARGER 1000", "OR ON 10-Mar-2024 LARGER 1000",
		"NOT (SINCE 12-Mar-2024 SMALLER 1000)", "OR (BEFORE 1-Jan-2000) (SINCE 1-Jan-2100)",
		"UNSEEN SINCE 12-Mar-2024", "2:4 SINCE 12-Mar-2024 UNDELETED", "BODY noon BEFORE 12-Mar-2024", "DELETED LARGER 10"}
	check := func(when string) {
		t.Helper()
		for _, key := range keys {
			line := "t UID SEARCH " + key + "\r\n"
			dec := imapwire.NewDecoder(bufio.NewReader(strings.NewReader(line)), imapwire.DecoderOptions{Continue: func() error { return nil }})
			cmd, err := imap.ReadCommand(dec, imap.ParseOptions{})
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			k := cmd.Args.(*imap.SearchCmd).Key
			if _, ok := metaCond(k); !ok {
				if _, _, ok := splitMetaCond(k); !ok {
					t.Fatalf("%s: not answered by the store", key)
				}
			}
			env := &searchEnv{v: v, now: time.Now()}
			got, err := env.search(ctx, acct, mb.ID, k)
			if err != nil {
				t.Fatal(err)
			}
			env = &searchEnv{v: v, now: time.Now()}
			want, err := env.search(ctx, hideMetaSearch{acct}, mb.ID, k)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: store %v, per message %v", when, key, got, want)
			}
		}
	}
	check("fresh view:")
	c.do(`s2 UID STORE 6 +FLAGS.SILENT (\Deleted)`).ok()
	c.do("s3 UID EXPUNGE 6").ok()
	check("after an unreported expunge:")
}
