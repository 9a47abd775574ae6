package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// writeMaildir writes a Dovecot Maildir INBOX whose dovecot-uidlist lists
// msgs as UIDs 1..n (UIDVALIDITY 1700000000), each a file "<base>:2,".
func writeMaildir(t *testing.T, root string, bases []string) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	var ul strings.Builder
	fmt.Fprintf(&ul, "3 V1700000000 N%d G0123456789abcdef\n", len(bases)+1)
	for i, b := range bases {
		fmt.Fprintf(&ul, "%d :%s\n", i+1, b)
		body := fmt.Sprintf("Message-ID: <%s@example.org>\nSubject: %s\n\nbody of %s\n", b, b, b)
		if err := os.WriteFile(filepath.Join(root, "cur", b+":2,"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dovecot-uidlist"), []byte(ul.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// subjects lists the Subject lines of every message in every mailbox,
// sorted ("Archive:m2").
func subjects(t *testing.T, acc mailstore.Account) []string {
	t.Helper()
	ctx := context.Background()
	mbs, err := acc.Mailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mb := range mbs {
		msgs, err := acc.Messages(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			body := readAll(t, acc, mb, m.UID)
			for _, l := range strings.Split(body, "\r\n") {
				if s, ok := strings.CutPrefix(l, "Subject: "); ok {
					out = append(out, mb.Name+":"+s)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestLedgerMaildirLiveReimport: import a Dovecot Maildir; then the user
// gets a delivery (which takes the UID Dovecot will give the next source
// message), moves an imported message to Archive and expunges another;
// Dovecot meanwhile receives two messages (UIDs 4 and 5 in its uidlist).
// The second import adds exactly those two: nothing skipped because its
// UID was taken, nothing moved or expunged comes back.
func TestLedgerMaildirLiveReimport(t *testing.T) {
	ctx := context.Background()
	acc := openAccount(t)
	root := t.TempDir()
	writeMaildir(t, root, []string{"m1", "m2", "m3"})
	st, err := ImportMaildir(ctx, acc, root, Options{})
	if err != nil || st.Messages != 3 {
		t.Fatalf("first import: %+v, %v", st, err)
	}

	// The user's side: a delivery takes UID 4; m2 moves to Archive; m3 is
	// expunged.
	if _, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: delivered\r\n\r\nlive\r\n")); err != nil || uid != 4 {
		t.Fatalf("delivery: UID %d, %v", uid, err)
	}
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	if _, err := acc.Move(ctx, inbox.ID, []mailstore.UID{2}, "Archive"); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{3}}); err != nil {
		t.Fatal(err)
	}

	// Dovecot's side: two new messages, UIDs 4 and 5.
	writeMaildir(t, root, []string{"m1", "m2", "m3", "m4", "m5"})
	st, err = ImportMaildir(ctx, acc, root, Options{})
	if err != nil || st.Messages != 2 || st.Skipped != 3 {
		t.Fatalf("second import: %+v, %v (want 2 stored, 3 skipped)", st, err)
	}
	want := []string{"Archive:m2", "INBOX:delivered", "INBOX:m1", "INBOX:m4", "INBOX:m5"}
	if got := subjects(t, acc); !slices.Equal(got, want) {
		t.Errorf("after the second import: %q, want %q", got, want)
	}
	// m4 could not keep UID 4 (the delivery has it) and took UIDNEXT, 5;
	// so m5 could not keep 5 either and took 6.
	inbox, _ = acc.Mailbox(ctx, "INBOX")
	msgs, _ := acc.Messages(ctx, inbox.ID)
	var uids []mailstore.UID
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	if want := []mailstore.UID{1, 4, 5, 6}; !slices.Equal(uids, want) {
		t.Errorf("INBOX UIDs %v, want %v", uids, want)
	}

	// A third run finds nothing new.
	st, err = ImportMaildir(ctx, acc, root, Options{})
	if err != nil || st.Messages != 0 || st.Skipped != 5 {
		t.Fatalf("third import: %+v, %v", st, err)
	}
}

// TestLedgerMboxRewritten: Dovecot rewrites an mbox (the first message
// expunged, so every offset moves) and appends one; the re-import
// recognizes the moved messages by Message-ID and size and adds only the
// new one. A second copy of a message (same Message-ID and size) in
// another mbox is still imported: it is not the first copy moved.
func TestLedgerMboxRewritten(t *testing.T) {
	ctx := context.Background()
	acc := openAccount(t)
	dir := t.TempDir()
	msg := func(id string) string {
		return fmt.Sprintf("From a@example.org Thu Jan  2 03:04:05 2020\nMessage-ID: <%s@example.org>\nSubject: %s\n\nbody %s\n\n", id, id, id)
	}
	inbox := filepath.Join(dir, "inbox")
	os.WriteFile(inbox, []byte(msg("a")+msg("b")+msg("c")), 0o600)
	st, err := ImportMbox(ctx, acc, dir, "", Options{})
	if err != nil || st.Messages != 3 {
		t.Fatalf("first import: %+v, %v", st, err)
	}

	os.WriteFile(inbox, []byte(msg("b")+msg("c")+msg("d")), 0o600)
	os.WriteFile(filepath.Join(dir, "Copies"), []byte(msg("b")), 0o600)
	st, err = ImportMbox(ctx, acc, dir, "", Options{})
	if err != nil || st.Messages != 2 || st.Skipped != 2 {
		t.Fatalf("second import: %+v, %v (want 2 stored, 2 skipped)", st, err)
	}
	want := []string{"Copies:b", "INBOX:a", "INBOX:b", "INBOX:c", "INBOX:d"}
	if got := subjects(t, acc); !slices.Equal(got, want) {
		t.Errorf("after the second import: %q, want %q", got, want)
	}
	// The moved messages were re-keyed: the next run skips by key alone.
	st, err = ImportMbox(ctx, acc, dir, "", Options{})
	if err != nil || st.Messages != 0 || st.Skipped != 4 || len(st.Warnings) != 0 {
		t.Fatalf("third import: %+v, %v", st, err)
	}
}

// TestLedgerMailboxWithOtherUIDValidity: mail delivered before the first
// import gave INBOX Roost's own UIDVALIDITY; the import adds the source's
// messages with new UIDs (and says so) instead of failing, and a re-run
// adds nothing.
func TestLedgerMailboxWithOtherUIDValidity(t *testing.T) {
	ctx := context.Background()
	acc := openAccount(t)
	if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: early\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeMaildir(t, root, []string{"m1", "m2"})
	st, err := ImportMaildir(ctx, acc, root, Options{})
	if err != nil || st.Messages != 2 || !strings.Contains(strings.Join(st.Warnings, "\n"), "INBOX: ") {
		t.Fatalf("import: %+v, %v", st, err)
	}
	if got, want := subjects(t, acc), []string{"INBOX:early", "INBOX:m1", "INBOX:m2"}; !slices.Equal(got, want) {
		t.Errorf("mail %q, want %q", got, want)
	}
	st, err = ImportMaildir(ctx, acc, root, Options{})
	if err != nil || st.Messages != 0 || st.Skipped != 2 {
		t.Fatalf("re-import: %+v, %v", st, err)
	}
}

// preLedger is an account as an import before the ledger saw it: an
// Importer without mailstore.ImportLedger.
type preLedger struct {
	mailstore.Account
	mailstore.Importer
}

// TestLedgerAdoptsPreLedgerImport: an account filled by an import that
// predates the ledger (it skipped by UID) is not imported twice by the
// first run with the ledger: the source messages below UIDNEXT are
// adopted into the ledger, the new ones stored, and later runs go by key.
func TestLedgerAdoptsPreLedgerImport(t *testing.T) {
	ctx := context.Background()
	acc := openAccount(t)
	old := preLedger{acc, acc.(mailstore.Importer)}

	root := t.TempDir()
	writeMaildir(t, root, []string{"m1", "m2", "m3"})
	if st, err := ImportMaildir(ctx, old, root, Options{}); err != nil || st.Messages != 3 {
		t.Fatalf("pre-ledger import: %+v, %v", st, err)
	}
	dir := t.TempDir()
	mb := "From a@example.org Thu Jan  2 03:04:05 2020\nX-IMAPbase: 1600000000 0000000002\nX-UID: 1\nSubject: x1\n\none\n\n" +
		"From a@example.org Thu Jan  2 03:04:05 2020\nX-UID: 2\nSubject: x2\n\ntwo\n"
	os.WriteFile(filepath.Join(dir, "Lists"), []byte(mb), 0o600)
	if st, err := ImportMbox(ctx, old, dir, "", Options{}); err != nil || st.Messages != 2 {
		t.Fatalf("pre-ledger mbox import: %+v, %v", st, err)
	}

	writeMaildir(t, root, []string{"m1", "m2", "m3", "m4"})
	st, err := ImportMaildir(ctx, acc, root, Options{})
	if err != nil || st.Messages != 1 || st.Skipped != 3 {
		t.Fatalf("first run with the ledger: %+v, %v (want 1 stored, 3 skipped)", st, err)
	}
	if st, err = ImportMbox(ctx, acc, dir, "", Options{}); err != nil || st.Messages != 0 || st.Skipped != 2 {
		t.Fatalf("first mbox run with the ledger: %+v, %v", st, err)
	}
	want := []string{"INBOX:m1", "INBOX:m2", "INBOX:m3", "INBOX:m4", "Lists:x1", "Lists:x2"}
	if got := subjects(t, acc); !slices.Equal(got, want) {
		t.Errorf("mail %q, want %q", got, want)
	}
	// From now on by key: a delivery taking the next UID does not hide m5.
	if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: d\r\n\r\nd\r\n")); err != nil {
		t.Fatal(err)
	}
	writeMaildir(t, root, []string{"m1", "m2", "m3", "m4", "m5"})
	if st, err = ImportMaildir(ctx, acc, root, Options{}); err != nil || st.Messages != 1 || st.Skipped != 4 {
		t.Fatalf("second run with the ledger: %+v, %v", st, err)
	}
}
