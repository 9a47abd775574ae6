package migrate

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// A hand-written mbox as Dovecot writes it: hidden headers, Content-Length,
// ">From " lines (kept as they are: Dovecot does not unquote), a body
// line "From " that is not a From_ line (no blank line before, no date),
// LF line ends.
const sampleMbox = `From MAILER-DAEMON Thu Nov 26 09:05:52 2026
Subject: first
X-IMAPbase: 1700000000 8 Work
Status: RO
X-Status: AF
X-Keywords: Work
X-UID: 3
Content-Length: 48

body line
>From quoted once
>>From quoted twice

From a@b Thu Jan  2 03:04:05 2020
Subject: second
Status: O
X-UID: 7

x
From here on, not a separator
end
`

func readAll(t *testing.T, acc mailstore.Account, mb mailstore.Mailbox, uid mailstore.UID) string {
	t.Helper()
	b, err := acc.Open(context.Background(), mb.ID, uid)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, _ := io.ReadAll(b)
	return string(got)
}

func TestMboxImport(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox")
	os.WriteFile(path, []byte(sampleMbox), 0o600)
	acc := openAccount(t)
	stats, err := ImportMbox(ctx, acc, path, "", Options{})
	if err != nil || stats.Messages != 2 {
		t.Fatalf("import: %+v, %v", stats, err)
	}
	mb, _ := acc.Mailbox(ctx, "INBOX")
	if mb.UIDValidity != 1700000000 || mb.UIDNext != 9 {
		t.Fatalf("INBOX %+v", mb)
	}
	msgs, _ := acc.Messages(ctx, mb.ID)
	if len(msgs) != 2 || msgs[0].UID != 3 || msgs[1].UID != 7 {
		t.Fatalf("messages %+v", msgs)
	}
	if got := strings.Join(msgs[0].Flags, " "); got != `Work \Answered \Flagged \Seen` {
		t.Errorf("flags %q", got)
	}
	if len(msgs[1].Flags) != 0 || msgs[1].InternalDate.UTC().Format(fromTime) != "Thu Jan  2 03:04:05 2020" {
		t.Errorf("second message %+v", msgs[1])
	}
	if got, want := readAll(t, acc, mb, 3), "Subject: first\r\n\r\nbody line\r\n>From quoted once\r\n>>From quoted twice\r\n"; got != want {
		t.Errorf("first body %q, want %q", got, want)
	}
	if got, want := readAll(t, acc, mb, 7), "Subject: second\r\n\r\nx\r\nFrom here on, not a separator\r\nend\r\n"; got != want {
		t.Errorf("second body %q, want %q", got, want)
	}
	// Idempotent.
	stats, err = ImportMbox(ctx, acc, path, "", Options{})
	if err != nil || stats.Messages != 0 || stats.Skipped != 2 {
		t.Fatalf("second import: %+v, %v", stats, err)
	}

	// Export and import into another account: the same UIDs, flags, bytes.
	dir := t.TempDir()
	acc.CreateMailbox(ctx, "Lists/go", "")
	acc.Append(ctx, "Lists/go", mailstore.NewMessage{Flags: []string{`\Draft`, `\Deleted`}}, strings.NewReader("Subject: go\r\n\r\nFrom x\r\n\r\nFrom MAILER-DAEMON Thu Nov 26 09:05:52 2026\r\n>From y\r\nno newline"))
	if _, err := ExportMbox(ctx, acc, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	acc2 := openAccount(t)
	if _, err := ImportMbox(ctx, acc2, dir, "", Options{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"INBOX", "Lists/go"} {
		m1, _ := acc.Mailbox(ctx, name)
		m2, err := acc2.Mailbox(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m1.UIDValidity != m2.UIDValidity || m1.UIDNext != m2.UIDNext {
			t.Errorf("%s: %+v after round trip, was %+v", name, m2, m1)
		}
		l1, _ := acc.Messages(ctx, m1.ID)
		l2, _ := acc2.Messages(ctx, m2.ID)
		if len(l1) != len(l2) {
			t.Fatalf("%s: %d messages, was %d", name, len(l2), len(l1))
		}
		for i := range l1 {
			a, b := l1[i], l2[i]
			if a.UID != b.UID || !reflect.DeepEqual(a.Flags, b.Flags) || !a.InternalDate.Equal(b.InternalDate) || a.Size != b.Size {
				t.Errorf("%s: %+v after round trip, was %+v", name, b, a)
			}
			if x, y := readAll(t, acc, m1, a.UID), readAll(t, acc2, m2, b.UID); x != y {
				t.Errorf("%s UID %d: %q after round trip, was %q", name, a.UID, y, x)
			}
		}
	}
}

// TestDovecotReadsExportedMbox checks that Dovecot keeps the UIDs, flags
// and bytes of an exported mbox.
func TestDovecotReadsExportedMbox(t *testing.T) {
	needDovecot(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox")
	os.WriteFile(path, []byte(sampleMbox), 0o600)
	acc := openAccount(t)
	if _, err := ImportMbox(ctx, acc, path, "", Options{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(nobodyDir(t), "mail")
	if _, err := ExportMbox(ctx, acc, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	chownNobody(t, dir)
	dm := dovecotFetchLocation(t, "mbox:"+dir+":INBOX="+dir+"/inbox", "INBOX")
	mb, _ := acc.Mailbox(ctx, "INBOX")
	msgs, _ := acc.Messages(ctx, mb.ID)
	if dm.UIDValidity != uint32(mb.UIDValidity) || dm.UIDNext != uint32(mb.UIDNext) || len(dm.Messages) != len(msgs) {
		t.Fatalf("Dovecot sees %+v; Roost %+v with %d messages", dm, mb, len(msgs))
	}
	for i, m := range msgs {
		d := dm.Messages[i]
		if d.UID != uint32(m.UID) || d.Size != m.Size || d.Body != readAll(t, acc, mb, m.UID) || len(d.Flags) != len(m.Flags) {
			t.Errorf("message %d: Dovecot %+v; Roost %+v", i, d, m)
		}
	}
}

// TestDovecotMboxRoundTrip: Dovecot writes an mbox tree; Roost imports it
// with what Dovecot shows (UIDs, flags, bytes, UIDLs); Roost exports it and
// Dovecot shows the same again.
func TestDovecotMboxRoundTrip(t *testing.T) {
	needDovecot(t)
	ctx := context.Background()
	dir := filepath.Join(nobodyDir(t), "mail")
	loc := "mbox:" + dir + ":INBOX=" + dir + "/inbox"
	buildDovecotMail(t, loc, "/")
	want := dovecotView(t, loc)
	wantUIDLs := dovecotUIDLs(t, loc)
	if len(want) != 4 || len(want["INBOX"].Messages) != 4 {
		t.Fatalf("unexpected source: %+v", want)
	}
	acc := openAccount(t)
	stats, err := ImportMbox(ctx, acc, dir, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Messages != 7 || len(stats.Warnings) != 0 {
		t.Fatalf("import stats %+v", stats)
	}
	checkStore(t, acc, want, wantUIDLs)
	if stats, err := ImportMbox(ctx, acc, dir, "", Options{}); err != nil || stats.Messages != 0 || stats.Skipped != 7 {
		t.Fatalf("second import: %+v, %v", stats, err)
	}

	out := filepath.Join(nobodyDir(t), "mail")
	if _, err := ExportMbox(ctx, acc, out, Options{}); err != nil {
		t.Fatal(err)
	}
	chownNobody(t, out)
	outLoc := "mbox:" + out + ":INBOX=" + out + "/inbox"
	got := dovecotView(t, outLoc)
	for name, dm := range want {
		if !reflect.DeepEqual(got[name], dm) {
			t.Errorf("%s after export:\n got %+v\nwant %+v", name, got[name], dm)
		}
	}
	if gotUIDLs := dovecotUIDLs(t, outLoc); !reflect.DeepEqual(gotUIDLs, wantUIDLs) {
		t.Errorf("Dovecot UIDLs after export %q, before %q", gotUIDLs, wantUIDLs)
	}
}

// TestImportTooBig: a message over the store's size limit is reported and
// skipped; the messages after it are imported.
func TestImportTooBig(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(sqlite.Options{Dir: t.TempDir(), MaxMessageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, err := st.Account(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	big := strings.Repeat("x", 2000)
	mbox := "From a Thu Jan  2 03:04:05 2020\nSubject: small\n\n1\n\nFrom a Thu Jan  2 03:04:05 2020\nSubject: big\n\n" + big +
		"\n\nFrom a Thu Jan  2 03:04:05 2020\nSubject: small again\n\n3\n"
	path := filepath.Join(t.TempDir(), "inbox")
	os.WriteFile(path, []byte(mbox), 0o600)
	stats, err := ImportMbox(ctx, acc, path, "", Options{})
	if err != nil || stats.Messages != 2 || len(stats.Warnings) != 1 {
		t.Fatalf("mbox: %+v, %v", stats, err)
	}
	mb, _ := acc.Mailbox(ctx, "INBOX")
	if got := readAll(t, acc, mb, 3); got != "Subject: small again\r\n\r\n3\r\n" {
		t.Fatalf("message after the big one: %q", got)
	}

	root := t.TempDir()
	for _, d := range []string{"cur", "new", "tmp", ".Big/cur"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	os.WriteFile(filepath.Join(root, ".Big", "cur", "1.a:2,"), []byte("Subject: big\n\n"+big), 0o600)
	os.WriteFile(filepath.Join(root, ".Big", "cur", "2.b:2,"), []byte("Subject: ok\n\nok\n"), 0o600)
	stats, err = ImportMaildir(ctx, acc, root, Options{})
	if err != nil || stats.Messages != 1 || !strings.Contains(strings.Join(stats.Warnings, "\n"), "Big: UID 1 (cur/1.a:2,) is over the size limit") {
		t.Fatalf("maildir: %+v, %v", stats, err)
	}
}
