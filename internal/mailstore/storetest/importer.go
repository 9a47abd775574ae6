package storetest

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// RunImporter checks a backend's mailstore.Importer: chosen UIDVALIDITY and
// UIDs, UIDNEXT only going up, refusals that keep repeated imports from
// duplicating mail, and the UIDVALIDITY of unused default mailboxes being
// taken over. open must return a new, empty store; the test closes it.
func RunImporter(t *testing.T, open func(t *testing.T) mailstore.Store) {
	ctx := context.Background()
	st := open(t)
	defer st.Close()
	acc, err := st.Account(ctx, "importer")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	imp, ok := acc.(mailstore.Importer)
	if !ok {
		t.Fatal("account does not implement mailstore.Importer")
	}

	// INBOX exists (default mailbox, never used): it takes the UIDVALIDITY.
	mb, err := imp.ImportMailbox(ctx, "INBOX", 1000, 7)
	if err != nil {
		t.Fatal(err)
	}
	if mb.UIDValidity != 1000 || mb.UIDNext != 7 {
		t.Fatalf("INBOX after import: UIDVALIDITY %d UIDNEXT %d, want 1000 7", mb.UIDValidity, mb.UIDNext)
	}
	date := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	body := "Subject: a\r\n\r\nhello\r\n"
	if _, err := imp.AppendUID(ctx, "INBOX", 3, mailstore.NewMessage{Flags: []string{`\Seen`, "Junk"}, InternalDate: date}, strings.NewReader(body)); err == nil {
		t.Fatal("AppendUID below UIDNEXT succeeded")
	} else {
		wantKind(t, err, mailstore.KindExists, "AppendUID below UIDNEXT")
	}
	// The body must not be read when the UID is refused.
	cr := &countingReader{r: strings.NewReader(body)}
	if _, err := imp.AppendUID(ctx, "INBOX", 6, mailstore.NewMessage{}, cr); err == nil || cr.n != 0 {
		t.Fatalf("AppendUID below UIDNEXT: err %v, read %d bytes", err, cr.n)
	}
	mb, err = imp.AppendUID(ctx, "INBOX", 9, mailstore.NewMessage{Flags: []string{`\Seen`, "Junk"}, InternalDate: date}, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if mb.UIDNext != 10 {
		t.Fatalf("UIDNEXT after AppendUID 9 = %d, want 10", mb.UIDNext)
	}
	if _, err := imp.AppendUID(ctx, "INBOX", 9, mailstore.NewMessage{}, strings.NewReader(body)); mailstore.KindOf(err) != mailstore.KindExists {
		t.Fatalf("repeated AppendUID 9: %v, want KindExists", err)
	}
	// A plain Append continues after the imported UIDs.
	_, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(body))
	if err != nil || uid != 10 {
		t.Fatalf("Append after import: uid %d, %v; want 10", uid, err)
	}
	msgs, err := acc.Messages(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].UID != 9 || !msgs[0].HasFlag(`\Seen`) || !msgs[0].HasFlag("Junk") ||
		!msgs[0].InternalDate.Equal(date) || msgs[0].Size != int64(len(body)) {
		t.Fatalf("messages after import: %+v", msgs)
	}
	b, err := acc.Open(ctx, mb.ID, 9)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(b)
	b.Close()
	if string(got) != body {
		t.Fatalf("body %q, want %q", got, body)
	}

	// Same UIDVALIDITY again: fine, UIDNEXT never goes down.
	mb, err = imp.ImportMailbox(ctx, "INBOX", 1000, 2)
	if err != nil || mb.UIDNext != 11 {
		t.Fatalf("re-import INBOX: %+v, %v", mb, err)
	}
	// Another UIDVALIDITY on a mailbox holding mail: refused.
	_, err = imp.ImportMailbox(ctx, "INBOX", 2000, 1)
	wantKind(t, err, mailstore.KindExists, "import over a used mailbox")

	// A new mailbox with parents; its UIDVALIDITY taken from an unused
	// default mailbox (Drafts), which gets a fresh one.
	drafts, err := acc.Mailbox(ctx, "Drafts")
	if err != nil {
		t.Fatal(err)
	}
	mb, err = imp.ImportMailbox(ctx, "Old/2019", drafts.UIDValidity, 1)
	if err != nil {
		t.Fatal(err)
	}
	if mb.UIDValidity != drafts.UIDValidity || mb.Name != "Old/2019" {
		t.Fatalf("Old/2019: %+v", mb)
	}
	drafts2, err := acc.Mailbox(ctx, "Drafts")
	if err != nil {
		t.Fatal(err)
	}
	if drafts2.UIDValidity == drafts.UIDValidity {
		t.Fatal("Drafts kept a UIDVALIDITY given to another mailbox")
	}
	if _, err := acc.Mailbox(ctx, "Old"); err != nil {
		t.Fatalf("parent Old: %v", err)
	}
	// A UIDVALIDITY held by a used mailbox cannot be taken.
	_, err = imp.ImportMailbox(ctx, "Other", 1000, 1)
	wantKind(t, err, mailstore.KindExists, "import with a used mailbox's UIDVALIDITY")
	// New mailboxes get a UIDVALIDITY above every imported one.
	nb, err := acc.CreateMailbox(ctx, "Fresh", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []mailstore.UIDValidity{1000, drafts.UIDValidity, drafts2.UIDValidity} {
		if nb.UIDValidity <= v {
			t.Fatalf("new mailbox UIDVALIDITY %d not above %d", nb.UIDValidity, v)
		}
	}
}
