package storetest

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// RunImportLedger checks a backend's mailstore.ImportLedger: the source
// keys recorded with imported messages, which make a repeated import
// (imapsync-style, or migrate after an interruption) skip what it already
// copied. open must return a new, empty store whose size limit is
// MaxMessageSize; the suite closes it.
func RunImportLedger(t *testing.T, open func(t *testing.T) mailstore.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, st mailstore.Store)
	}{
		{"ImportLedger", testImportLedger},
		{"AdoptImport", testAdoptImport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			defer st.Close()
			tc.fn(t, st)
		})
	}
}

func ledgerItem(uid mailstore.UID, key, mid, body string) mailstore.ImportItem {
	return mailstore.ImportItem{UID: uid, Src: mailstore.ImportSource{Key: key, MessageID: mid},
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
}

// testImportLedger: ImportMessage and ImportMessages record each message's
// source key with the message, in one transaction; a key seen before is
// KindExists without storing; source UIDs are kept when not below UIDNEXT
// and replaced by UIDNEXT otherwise, in order; a message over the size
// limit fails alone; records are found by Message-ID and can be re-keyed.
func testImportLedger(t *testing.T, st mailstore.Store) {
	ctx := context.Background()
	defer st.Close()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	l, ok := acc.(mailstore.ImportLedger)
	if !ok {
		t.Fatal("account does not implement mailstore.ImportLedger")
	}

	if _, uid, err := l.ImportMessage(ctx, "INBOX", 3, mailstore.ImportSource{Key: "k3", MessageID: "<a@x>"},
		mailstore.NewMessage{}, strings.NewReader("Subject: a\r\n\r\na\r\n")); err != nil || uid != 3 {
		t.Fatalf("ImportMessage: UID %d, %v", uid, err)
	}
	// A delivery takes UID 4.
	if _, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: d\r\n\r\nd\r\n")); err != nil || uid != 4 {
		t.Fatalf("Append: UID %d, %v", uid, err)
	}
	big := "Subject: big\r\n\r\n" + strings.Repeat("x", MaxMessageSize)
	res, err := l.ImportMessages(ctx, "INBOX", []mailstore.ImportItem{
		ledgerItem(3, "k3", "<a@x>", "Subject: a\r\n\r\na\r\n"),  // imported before
		ledgerItem(4, "k4", "<b@x>", "Subject: b\r\n\r\nb\r\n"),  // UID taken: gets 5
		ledgerItem(5, "k5", "", "Subject: c\r\n\r\nc\r\n"),       // 5 is taken now: gets 6
		ledgerItem(9, "k9", "", big),                             // too big
		ledgerItem(9, "k9b", "<b@x>", "Subject: e\r\n\r\ne\r\n"), // keeps 9
	})
	if err != nil {
		t.Fatal(err)
	}
	wantUIDs := []mailstore.UID{0, 5, 6, 0, 9}
	wantKinds := []mailstore.Kind{mailstore.KindExists, 0, 0, mailstore.KindTooBig, 0}
	for i, r := range res {
		if r.UID != wantUIDs[i] || r.Err != nil && mailstore.KindOf(r.Err) != wantKinds[i] || r.Err == nil && wantKinds[i] != 0 {
			t.Errorf("item %d: %+v, want UID %d kind %v", i, r, wantUIDs[i], wantKinds[i])
		}
	}
	mb, _ := acc.Mailbox(ctx, "INBOX")
	if mb.UIDNext != 10 {
		t.Errorf("UIDNEXT %d, want 10", mb.UIDNext)
	}
	s, _ := acc.Status(ctx, "INBOX")
	if s.Messages != 5 {
		t.Errorf("%d messages, want 5", s.Messages)
	}
	for _, k := range []string{"k3", "k4", "k5", "k9b"} {
		if ok, err := l.Imported(ctx, k); !ok || err != nil {
			t.Errorf("Imported(%s) = %v, %v", k, ok, err)
		}
	}
	if ok, _ := l.Imported(ctx, "k9"); ok {
		t.Error("the refused message is in the ledger")
	}
	recs, err := l.ImportedByMessageID(ctx, "<b@x>")
	if err != nil || len(recs) != 2 {
		t.Fatalf("ImportedByMessageID: %+v, %v", recs, err)
	}
	if err := l.RekeyImport(ctx, "k4", "k4-new"); err != nil {
		t.Fatal(err)
	}
	if err := l.RekeyImport(ctx, "k4", "k4-other"); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Errorf("re-key of a gone key: %v", err)
	}
	if err := l.RekeyImport(ctx, "k5", "k4-new"); mailstore.KindOf(err) != mailstore.KindExists {
		t.Errorf("re-key onto a taken key: %v", err)
	}
	// Moving or expunging the message leaves the record: it was imported.
	if _, err := acc.Expunge(ctx, mb.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{5}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.ImportMessage(ctx, "INBOX", 0, mailstore.ImportSource{Key: "k4-new"}, mailstore.NewMessage{},
		strings.NewReader("x")); mailstore.KindOf(err) != mailstore.KindExists {
		t.Errorf("re-import of an expunged message: %v, want KindExists", err)
	}
}

// testAdoptImport: a mailbox filled by an import without the ledger is
// not "imported"; adopting a UID records its key (with the stored size),
// after which the mailbox is, and the key is refused a second time.
func testAdoptImport(t *testing.T, st mailstore.Store) {
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	l, ok := acc.(mailstore.ImportLedger)
	if !ok {
		t.Fatal("account does not implement mailstore.ImportLedger")
	}
	body := "Subject: old\r\n\r\nold import\r\n"
	if _, err := acc.(mailstore.Importer).AppendUID(ctx, "INBOX", 7, mailstore.NewMessage{}, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.MailboxImported(ctx, "INBOX"); ok || err != nil {
		t.Fatalf("MailboxImported before adoption: %v, %v", ok, err)
	}
	src := mailstore.ImportSource{Key: "maildir:old", MessageID: "<old@x>"}
	if err := l.AdoptImport(ctx, "INBOX", 7, src); err != nil {
		t.Fatal(err)
	}
	if ok, err := l.MailboxImported(ctx, "INBOX"); !ok || err != nil {
		t.Fatalf("MailboxImported after adoption: %v, %v", ok, err)
	}
	recs, err := l.ImportedByMessageID(ctx, "<old@x>")
	if err != nil || len(recs) != 1 || recs[0].UID != 7 || recs[0].Size != int64(len(body)) {
		t.Fatalf("record: %+v, %v", recs, err)
	}
	if err := l.AdoptImport(ctx, "INBOX", 7, src); mailstore.KindOf(err) != mailstore.KindExists {
		t.Fatalf("second adoption: %v, want KindExists", err)
	}
	if _, err := l.MailboxImported(ctx, "Nope"); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Fatalf("MailboxImported of no mailbox: %v", err)
	}
}
