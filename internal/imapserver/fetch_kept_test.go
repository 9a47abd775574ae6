package imapserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/bench/mailgen"
	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
)

// keptEdgeCases are headers where the kept lines must still filter like
// the file: folding, repeated fields, names in any case, blanks before
// the colon, continuation lines before the first field and after a line
// that is no field, bare LF, no blank line, no line end at all, and kept
// lines over mailstore.KeptLinesMax (answered from the file).
var keptEdgeCases = []string{
	"  leading continuation\r\nSubject: folded\r\n\tsecond line\r\n  third\r\nX-Other: o\r\n cont of other\r\nTO: a@example.org\r\nto: b@example.org\r\n\r\nbody\r\n",
	"Subject : blank before colon\r\nFrom:x@example.org\r\nnot a field\r\n cont of not a field\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n",
	"From: lf@example.org\nSubject: bare LF\nCc: c@example.org\n\nbody\n",
	"Subject: no blank line\r\nFrom: a@example.org\r\n",
	"Subject: no line end",
	"Message-ID: <x@y>\r\nReferences: " + strings.Repeat("<0123456789abcdef@example.org> ", 300) + "\r\nSubject: long refs\r\n\r\nx\r\n",
	"X-TUID: abcdefghijkl\r\nSubject: mbsync\r\nList-Id: <l.example.org>\r\nX-Priority: 1\r\n\r\nx\r\n",
	"\r\nSubject: empty header\r\n",
}

// keptFieldLists are HEADER.FIELDS lists clients send, plus random ones.
func keptFieldLists() []string {
	lists := []string{
		"DATE FROM TO CC SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE",                                                                                                                                                                   // roost bench
		"From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To",                                                                                                                       // Thunderbird
		"date subject from content-type to cc reply-to message-id references in-reply-to X-K9mail-Identity Chat-Version",                                                                                                                           // K-9
		"DATE FROM TO SUBJECT CONTENT-TYPE CC REPLY-TO LIST-POST DISPOSITION-NOTIFICATION-TO X-PRIORITY CONTENT-TRANSFER-ENCODING BCC IN-REPLY-TO MAIL-FOLLOWUP-TO MAIL-REPLY-TO MESSAGE-ID REFERENCES RESENT-BCC RETURN-PATH SENDER X-DRAFT-INFO", // Roundcube
		"X-TUID", "MESSAGE-ID X-TUID", "subject", "sUbJeCt", "\"X-\u212a9mail-Identity\"", "List-Id List-Unsubscribe",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 30 {
		var names []string
		for _, n := range mailstore.KeptHeaderFields {
			if r.IntN(3) == 0 {
				if r.IntN(2) == 0 {
					n = strings.ToUpper(n)
				}
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			names = append(names, "Date")
		}
		lists = append(lists, strings.Join(names, " "))
	}
	return lists
}

// keptOpens counts Open and HeaderFields calls and passes the optional
// interface through.
type keptOpens struct {
	mailstore.Account
	hfr         mailstore.HeaderFieldsReader
	opens, hdrs int
}

func (c *keptOpens) Open(ctx context.Context, mbox mailstore.MailboxID, uid mailstore.UID) (mailstore.Body, error) {
	c.opens++
	return c.Account.Open(ctx, mbox, uid)
}

func (c *keptOpens) HeaderFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID, fn func(mailstore.UID, []byte) error) error {
	c.hdrs++
	return c.hfr.HeaderFields(ctx, mbox, uids, fn)
}

// fetchAllWith renders "FETCH 1:* (items)" of mbox through acct as
// cmdFetch does (one message after the other, batches of fetchBatch).
func fetchAllWith(t testing.TB, acct mailstore.Account, mbox mailstore.MailboxID, metas []mailstore.MessageMeta, items string) string {
	t.Helper()
	plan, err := newFetchPlan(parseFetchItems(t, items), true)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	ctx := context.Background()
	f := &fetcher{plan: plan, enc: imapwire.NewEncoder(bw), open: func(uid mailstore.UID) (mailstore.Body, error) {
		return acct.Open(ctx, mbox, uid)
	}}
	byUID := map[mailstore.UID]int{}
	uids := make([]mailstore.UID, len(metas))
	for i, m := range metas {
		uids[i], byUID[m.UID] = m.UID, i
	}
	msgsOf := func([]mailstore.UID) (func(mailstore.UID, *fetchMsg) bool, error) {
		return func(uid mailstore.UID, m *fetchMsg) bool {
			i := byUID[uid]
			*m = fetchMsg{seq: mailstore.SeqNum(i + 1), uid: uid, size: metas[i].Size, flags: metas[i].Flags}
			return true
		}, nil
	}
	if err := runFetch(ctx, f, acct, mbox, uids, msgsOf); err != nil {
		t.Fatalf("FETCH (%s): %v", items, err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestFetchKeptSamePaths: BODY[HEADER.FIELDS (...)] answered from the
// kept lines (mailstore.HeaderFieldsReader) is byte for byte the answer
// read from the message files, over the shared MIME corpus (real,
// malformed messages), the FETCH corpus, the edge cases above and 300
// generated messages (more than one batch), for client and random field
// lists, alone, with a partial, and beside ENVELOPE. Kept-field FETCHes
// open only the messages whose kept lines were too long; a field outside
// the kept set, HEADER.FIELDS.NOT or a part's header read the files.
func TestFetchKeptSamePaths(t *testing.T) {
	ts := newTestServer(t)
	files, _ := filepath.Glob("../../../shared/corpus/mime/*.raw")
	if len(files) < 20 {
		t.Fatalf("MIME corpus not found (%d files in ../shared/corpus/mime)", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ts.deliver("alice", "INBOX", string(raw))
	}
	for _, f := range fetchCorpus(t) {
		ts.deliver("alice", "INBOX", string(crlfFile(t, f)))
	}
	for _, m := range keptEdgeCases {
		ts.deliver("alice", "INBOX", m)
	}
	for i := range 300 {
		ts.deliver("alice", "INBOX", string(mailgen.CRLF(mailgen.Generate(7, i).Body)))
	}
	ctx := context.Background()
	acct := ts.account("alice")
	hfr, ok := acct.(mailstore.HeaderFieldsReader)
	if !ok {
		t.Fatalf("the test store (%T) keeps no header fields", acct)
	}
	mbox, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	all := make([]mailstore.UID, 0, mbox.UIDNext)
	for u := mailstore.UID(1); u < mbox.UIDNext; u++ {
		all = append(all, u)
	}
	metas, err := acct.Metas(ctx, mbox.ID, all)
	if err != nil {
		t.Fatal(err)
	}
	notKept := 0
	if err := hfr.HeaderFields(ctx, mbox.ID, all, func(uid mailstore.UID, kept []byte) error {
		if kept == nil {
			notKept++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if notKept == 0 || notKept > 3 {
		t.Fatalf("%d messages without kept lines, want the long References one (and few others)", notKept)
	}
	lists := keptFieldLists()
	for _, l := range lists {
		for _, items := range []string{
			"UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (" + l + ")]",
			"BODY.PEEK[HEADER.FIELDS (" + l + ")]<3.40>",
			"ENVELOPE BODY.PEEK[HEADER.FIELDS (" + l + ")] BODY.PEEK[HEADER.FIELDS (DATE)]",
		} {
			want := fetchAllWith(t, plainAccount{acct}, mbox.ID, metas, items)
			ko := &keptOpens{Account: acct, hfr: hfr}
			got := fetchAllWith(t, ko, mbox.ID, metas, items)
			if got != want {
				t.Fatalf("FETCH (%s): kept lines and files differ:\n%s", items, firstDiff(got, want))
			}
			if ko.opens != notKept || ko.hdrs != (len(metas)+fetchBatch-1)/fetchBatch {
				t.Errorf("FETCH (%s): %d messages opened (want %d), %d HeaderFields calls", items, ko.opens, notKept, ko.hdrs)
			}
		}
	}
	// Outside the kept set: every message is read from its file.
	for _, items := range []string{
		"BODY.PEEK[HEADER.FIELDS (SUBJECT RECEIVED)]",
		"BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)]",
		"BODY.PEEK[1.HEADER.FIELDS (SUBJECT)]",
		"BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.HEADER",
	} {
		want := fetchAllWith(t, plainAccount{acct}, mbox.ID, metas, items)
		ko := &keptOpens{Account: acct, hfr: hfr}
		if got := fetchAllWith(t, ko, mbox.ID, metas, items); got != want {
			t.Fatalf("FETCH (%s): paths differ:\n%s", items, firstDiff(got, want))
		}
		if ko.opens != len(metas) || ko.hdrs != 0 {
			t.Errorf("FETCH (%s): %d of %d messages opened, %d HeaderFields calls", items, ko.opens, len(metas), ko.hdrs)
		}
	}
}

// firstDiff shows where two FETCH outputs part.
func firstDiff(got, want string) string {
	gl, wl := strings.SplitAfter(got, "\n"), strings.SplitAfter(want, "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, gl[i], wl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(gl), len(wl))
}

// TestFetchKeptHeaderFields: the message-list FETCH of a client, as a
// session sees it, from the kept lines; a non-PEEK BODY[HEADER.FIELDS]
// still sets \Seen; a message expunged by another session is NIL.
func TestFetchKeptHeaderFields(t *testing.T) {
	ts := newTestServer(t)
	ts.deliver("alice", "INBOX", "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: Bob <bob@example.org>\r\nReceived: x\r\nSubject: Hello\r\n there\r\nX-TUID: 0123abcd\r\n\r\nbody\r\n")
	ts.deliver("alice", "INBOX", "subject: second\r\nTo: alice@example.org\r\n\r\nb\r\n")
	c := ts.login("alice")
	c.do("s SELECT INBOX").contains("* 2 EXISTS").ok()
	c.do("f UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])").untagged(
		"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (DATE FROM SUBJECT)] {93}\r\n"+
			"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: Bob <bob@example.org>\r\nSubject: Hello\r\n there\r\n\r\n)",
		"* 2 FETCH (UID 2 BODY[HEADER.FIELDS (DATE FROM SUBJECT)] {19}\r\nsubject: second\r\n\r\n)",
	).ok()
	c.do("g FETCH 1 (BODY.PEEK[HEADER.FIELDS (x-tuid)])").untagged(
		"* 1 FETCH (BODY[HEADER.FIELDS (X-TUID)] {20}\r\nX-TUID: 0123abcd\r\n\r\n)",
	).ok()
	c.do("h FETCH 2 (BODY[HEADER.FIELDS (CC)])").untagged(
		"* 2 FETCH (FLAGS (\\Seen \\Recent) BODY[HEADER.FIELDS (CC)] {2}\r\n\r\n)",
	).ok()
	other := ts.login("alice")
	other.do("s SELECT INBOX").ok()
	other.do("d UID STORE 1 +FLAGS.SILENT (\\Deleted)").ok()
	other.do("e EXPUNGE").ok()
	c.do("n UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])").untagged(
		"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] NIL)",
		"* 1 EXPUNGE",
	).ok("EXPUNGEISSUED")
}

// BenchmarkFetchHeaderFields200 renders the message-list FETCH of 200
// generated messages from the kept lines and, as before them, from the
// message files.
func BenchmarkFetchHeaderFields200(b *testing.B) {
	ts := newTestServer(b)
	for i := range 200 {
		ts.deliver("alice", "INBOX", string(mailgen.CRLF(mailgen.Generate(7, i).Body)))
	}
	ctx := context.Background()
	acct := ts.account("alice")
	mbox, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	all := make([]mailstore.UID, 200)
	for i := range all {
		all[i] = mailstore.UID(i + 1)
	}
	metas, err := acct.Metas(ctx, mbox.ID, all)
	if err != nil {
		b.Fatal(err)
	}
	const items = "UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM TO CC SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE)]"
	for _, bc := range []struct {
		name string
		acct mailstore.Account
	}{{"kept", acct}, {"files", plainAccount{acct}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				fetchAllWith(b, bc.acct, mbox.ID, metas, items)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/fetch-200")
		})
	}
}
