package migrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

func openAccount(t *testing.T) mailstore.Account {
	t.Helper()
	st, err := sqlite.Open(sqlite.Options{Dir: t.TempDir(), MaxMessageSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc, err := st.Account(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acc.Close() })
	return acc
}

// appendLit is an IMAP APPEND with a LITERAL+ literal.
func appendLit(tag, mailbox, flags, date, body string) string {
	if date != "" {
		date = ` "` + date + `"`
	}
	return fmt.Sprintf("%s APPEND \"%s\" (%s)%s {%d+}\r\n%s\r\n", tag, mailbox, flags, date, len(body), body)
}

// buildDovecotMail lets Dovecot create mail at location (hierarchy
// separator sep) with folders, flags, keywords, internal dates, an
// expunged message (a gap in the UIDs) and mail with 8-bit, "From " lines
// and no final line end.
func buildDovecotMail(t *testing.T, location, sep string) {
	t.Helper()
	var b strings.Builder
	archive := "Archive" + sep + "2026"
	b.WriteString("c1 CREATE " + archive + "\r\nc2 CREATE Sent\r\nc3 CREATE Entw&APw-rfe\r\n")
	b.WriteString(appendLit("a1", "INBOX", `\Seen $Forwarded`, "01-Jan-2020 10:00:00 +0100",
		"From: a@example.org\r\nSubject: one\r\n\r\nhello\r\n\r\nFrom the start\r\n>From quoted\r\n"))
	b.WriteString(appendLit("a2", "INBOX", `\Flagged`, "", "Subject: gone\r\n\r\nexpunged\r\n"))
	b.WriteString(appendLit("a3", "INBOX", `\Answered \Draft Junk NonJunk`, "15-Mar-2024 23:59:59 -0700",
		"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ngrüße\r\n"))
	b.WriteString(appendLit("a4", "INBOX", `\Deleted \Seen`, "02-Feb-2022 02:02:02 +0000", "Subject: deleted flag\r\n\r\nx\r\n"))
	b.WriteString(appendLit("a5", "INBOX", ``, "", "Subject: no final newline\r\n\r\nend"))
	b.WriteString("s1 SELECT INBOX\r\ns2 UID STORE 2 +FLAGS.SILENT (\\Deleted)\r\ns3 UID EXPUNGE 2\r\n")
	b.WriteString(appendLit("a6", archive, `\Seen Work`, "31-Dec-2025 12:00:00 +0000", "Subject: archived\r\n\r\nold\r\n"))
	b.WriteString(appendLit("a7", "Sent", `\Seen`, "", "Subject: sent\r\n\r\nbye\r\n"))
	b.WriteString(appendLit("a8", "Entw&APw-rfe", `\Draft`, "", "Subject: draft\r\n\r\n...\r\n"))
	b.WriteString("z LOGOUT\r\n")
	out := runDovecotLocation(t, dovecotIMAP, location, locationHome(location), b.String())
	for _, tag := range []string{"c1", "c2", "c3", "a1", "a2", "a3", "a4", "a5", "s3", "a6", "a7", "a8"} {
		if !strings.Contains(out, "\r\n"+tag+" OK") && !strings.HasPrefix(out, tag+" OK") {
			t.Fatalf("Dovecot: %s failed:\n%s", tag, out)
		}
	}
}

func buildDovecotMaildir(t *testing.T) string {
	t.Helper()
	maildir := filepath.Join(nobodyDir(t), "Maildir")
	buildDovecotMail(t, "maildir:"+maildir, ".")
	if out := runDovecot(t, dovecotIMAP, maildir, "s SUBSCRIBE Archive.2026\r\nz LOGOUT\r\n"); !strings.Contains(out, "s OK") {
		t.Fatalf("SUBSCRIBE: %s", out)
	}
	return maildir
}

// dovecotView reads every mailbox at location through Dovecot, keyed by
// Roost name.
func dovecotView(t *testing.T, location string) map[string]dovecotMailbox {
	t.Helper()
	view := map[string]dovecotMailbox{}
	for _, name := range dovecotMailboxes(t, location) {
		view[roostName(name)] = dovecotFetchLocation(t, location, name)
	}
	return view
}

func roostName(dovecot string) string {
	n := strings.ReplaceAll(dovecot, ".", "/")
	if n == "Entw&APw-rfe" {
		return "Entwürfe"
	}
	return n
}

// checkStore compares an account with what Dovecot showed: UIDVALIDITY,
// UIDNEXT, UIDs, flags, sizes, internal dates, bytes and POP3 UIDLs.
func checkStore(t *testing.T, acc mailstore.Account, want map[string]dovecotMailbox, wantUIDLs []string) {
	t.Helper()
	ctx := context.Background()
	for name, dm := range want {
		mb, err := acc.Mailbox(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if uint32(mb.UIDValidity) != dm.UIDValidity {
			t.Errorf("%s: UIDVALIDITY %d, Dovecot %d", name, mb.UIDValidity, dm.UIDValidity)
		}
		if uint32(mb.UIDNext) != dm.UIDNext {
			t.Errorf("%s: UIDNEXT %d, Dovecot %d", name, mb.UIDNext, dm.UIDNext)
		}
		msgs, err := acc.Messages(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(dm.Messages) {
			t.Fatalf("%s: %d messages, Dovecot %d", name, len(msgs), len(dm.Messages))
		}
		for i, m := range msgs {
			d := dm.Messages[i]
			flags := append([]string(nil), m.Flags...)
			sort.Strings(flags)
			if uint32(m.UID) != d.UID || m.Size != d.Size || !reflect.DeepEqual(flags, d.Flags) {
				t.Errorf("%s: message %d: UID %d size %d flags %v; Dovecot UID %d size %d flags %v",
					name, i, m.UID, m.Size, flags, d.UID, d.Size, d.Flags)
			}
			if got := m.InternalDate.UTC().Format("02-Jan-2006 15:04:05 -0700"); got != d.Date {
				t.Errorf("%s UID %d: internal date %s, Dovecot %s", name, m.UID, got, d.Date)
			}
			body, err := acc.Open(ctx, mb.ID, m.UID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(body)
			body.Close()
			if string(b) != d.Body {
				t.Errorf("%s UID %d: body %q, Dovecot %q", name, m.UID, b, d.Body)
			}
		}
	}
	// POP3 UIDLs as Roost computes them (pop3_uidl_format %08Xu%08Xv)
	// equal Dovecot's.
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	msgs, _ := acc.Messages(ctx, inbox.ID)
	var gotUIDLs []string
	for i, m := range msgs {
		gotUIDLs = append(gotUIDLs, fmt.Sprintf("%d %s", i+1, config.FormatUIDL("%08Xu%08Xv", uint32(m.UID), uint32(inbox.UIDValidity), config.UIDLExtra{})))
	}
	if !reflect.DeepEqual(gotUIDLs, wantUIDLs) {
		t.Errorf("Roost UIDLs %q, Dovecot %q", gotUIDLs, wantUIDLs)
	}
}

func TestDovecotMaildirRoundTrip(t *testing.T) {
	needDovecot(t)
	ctx := context.Background()
	src := buildDovecotMaildir(t)
	want := dovecotView(t, "maildir:"+src)
	wantUIDLs := dovecotUIDLs(t, "maildir:"+src)
	if len(want) != 4 || len(want["INBOX"].Messages) != 4 || want["INBOX"].Messages[1].UID != 3 {
		t.Fatalf("unexpected source: %+v", want)
	}

	acc := openAccount(t)
	stats, err := ImportMaildir(ctx, acc, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Messages != 7 || stats.Skipped != 0 || len(stats.Warnings) != 0 {
		t.Fatalf("import stats %+v", stats)
	}

	// The store holds what Dovecot showed.
	checkStore(t, acc, want, wantUIDLs)

	if subs, _ := acc.Subscriptions(ctx); !slices.Contains(subs, "Archive/2026") {
		t.Errorf("subscriptions after import %q lack Archive/2026", subs)
	}

	// Idempotent: a second run stores nothing.
	stats, err = ImportMaildir(ctx, acc, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Messages != 0 || stats.Skipped != 7 {
		t.Fatalf("second import stats %+v", stats)
	}
	if st, _ := acc.Status(ctx, "INBOX"); st.Messages != 4 {
		t.Fatalf("INBOX has %d messages after a second import", st.Messages)
	}

	// Export, and Dovecot shows the same as from the original.
	dst := filepath.Join(nobodyDir(t), "Maildir")
	if _, err := ExportMaildir(ctx, acc, dst, Options{}); err != nil {
		t.Fatal(err)
	}
	chownNobody(t, dst)
	got := dovecotView(t, "maildir:"+dst)
	for name, dm := range want {
		if !reflect.DeepEqual(got[name], dm) {
			t.Errorf("%s after export:\n got %+v\nwant %+v", name, got[name], dm)
		}
	}
	if gotUIDLs := dovecotUIDLs(t, "maildir:"+dst); !reflect.DeepEqual(gotUIDLs, wantUIDLs) {
		t.Errorf("Dovecot UIDLs after export %q, before %q", gotUIDLs, wantUIDLs)
	}
	if out := runDovecot(t, dovecotIMAP, dst, "l LSUB \"\" \"*\"\r\nz LOGOUT\r\n"); !strings.Contains(out, "\".\" Archive.2026\r\n") ||
		!strings.Contains(out, "\".\" Sent\r\n") {
		t.Errorf("Dovecot subscriptions after export:\n%s", out)
	}
	if _, err := ExportMaildir(ctx, acc, dst, Options{}); err == nil {
		t.Error("export over an existing Maildir succeeded")
	}
}

// TestMaildirUnlisted covers messages the uidlist does not know (delivered
// after Dovecot last looked), files in new/, keywords and a Maildir
// without Dovecot's files, without Dovecot.
func TestMaildirUnlisted(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, d := range []string{"cur", "new", "tmp", ".Lists.go/cur", ".Lists.go/new"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	write := func(rel, body string, mtime time.Time) {
		p := filepath.Join(root, rel)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	t0 := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	write("dovecot-uidlist", "3 V4242 N5 Gabc\n2 :100.a,S=10\n4 W12 :101.b\n", t0)
	write("dovecot-keywords", "0 Junk\n1 $Label1\n", t0)
	write("cur/100.a,S=10:2,FSb", "Subject: a\n\nA\n", t0)
	write("cur/101.b:2,", "Subject: b\n\nB\n", t0.Add(time.Hour))
	write("new/102.c", "Subject: c\n\nC\n", t0.Add(2*time.Hour))
	write("cur/099.d:2,Ta", "Subject: d\n\nD\n", t0.Add(3*time.Hour))
	write(".Lists.go/cur/1.x:2,R", "Subject: go\n\nG\n", t0)

	acc := openAccount(t)
	stats, err := ImportMaildir(ctx, acc, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Messages != 5 {
		t.Fatalf("stats %+v", stats)
	}
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	if inbox.UIDValidity != 4242 || inbox.UIDNext != 7 {
		t.Fatalf("INBOX %+v", inbox)
	}
	msgs, _ := acc.Messages(ctx, inbox.ID)
	type row struct {
		UID   mailstore.UID
		Flags string
		Date  time.Time
	}
	var rows []row
	for _, m := range msgs {
		rows = append(rows, row{m.UID, strings.Join(m.Flags, " "), m.InternalDate.UTC()})
	}
	wantRows := []row{
		{2, `$Label1 \Flagged \Seen`, t0},
		{4, ``, t0.Add(time.Hour)},
		{5, `Junk \Deleted`, t0.Add(3 * time.Hour)}, // 099.d sorts before 102.c
		{6, ``, t0.Add(2 * time.Hour)},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Fatalf("INBOX rows\n got %v\nwant %v", rows, wantRows)
	}
	b, _ := acc.Open(ctx, inbox.ID, 2)
	got, _ := io.ReadAll(b)
	b.Close()
	if string(got) != "Subject: a\r\n\r\nA\r\n" {
		t.Fatalf("body %q: LF not converted to CRLF", got)
	}
	lists, err := acc.Mailbox(ctx, "Lists/go")
	if err != nil {
		t.Fatal(err)
	}
	if lists.UIDNext != 2 {
		t.Fatalf("Lists/go without uidlist: %+v", lists)
	}
	// Again: nothing new, also for the unlisted and uidlist-less ones.
	stats, err = ImportMaildir(ctx, acc, root, Options{})
	if err != nil || stats.Messages != 0 || stats.Skipped != 5 {
		t.Fatalf("second import: %+v, %v", stats, err)
	}
}

func TestCopyLF(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nb\r\n":    "a\nb\n",
		"a\rb\r":        "a\rb\r",
		"a\r\r\n":       "a\r\n",
		"":              "",
		"no newline":    "no newline",
		"x\n\r\n\r\r\n": "x\n\n\r\n",
	} {
		var b strings.Builder
		n, err := copyLF(&b, strings.NewReader(in))
		if err != nil || b.String() != want || n != int64(len(want)) {
			t.Errorf("copyLF(%q) = %q, %d, %v; want %q", in, b.String(), n, err, want)
		}
	}
	// A CRLF split across the buffer boundary.
	long := strings.Repeat("x", 32<<10-1) + "\r\n" + "y\r\n"
	var b strings.Builder
	copyLF(&b, strings.NewReader(long))
	if b.String() != strings.Repeat("x", 32<<10-1)+"\ny\n" {
		t.Error("CRLF across the buffer boundary not converted")
	}
}

func TestProgressLines(t *testing.T) {
	var b strings.Builder
	p := newProgress(Options{Progress: &b, ProgressEvery: 2})
	for range 5 {
		p.message("INBOX")
	}
	p.mailbox("INBOX", 5, 0)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "INBOX: 2 messages") || !strings.HasPrefix(lines[1], "INBOX: 4 messages") ||
		lines[2] != "INBOX: done, 5 stored, 0 already there" {
		t.Fatalf("progress output %q", b.String())
	}
}

// TestDovecotMaildirFSRoundTrip is the round trip for Dovecot's LAYOUT=fs.
func TestDovecotMaildirFSRoundTrip(t *testing.T) {
	needDovecot(t)
	ctx := context.Background()
	src := filepath.Join(nobodyDir(t), "Maildir")
	loc := "maildir:" + src + ":LAYOUT=fs"
	buildDovecotMail(t, loc, "/")
	want := dovecotView(t, loc)
	wantUIDLs := dovecotUIDLs(t, loc)
	if len(want) != 4 || len(want["Archive/2026"].Messages) != 1 {
		t.Fatalf("unexpected source: %+v", want)
	}
	acc := openAccount(t)
	if stats, err := ImportMaildir(ctx, acc, src, Options{Layout: "fs"}); err != nil || stats.Messages != 7 {
		t.Fatalf("import: %+v, %v", stats, err)
	}
	checkStore(t, acc, want, wantUIDLs)
	dst := filepath.Join(nobodyDir(t), "Maildir")
	if _, err := ExportMaildir(ctx, acc, dst, Options{Layout: "fs"}); err != nil {
		t.Fatal(err)
	}
	chownNobody(t, dst)
	dstLoc := "maildir:" + dst + ":LAYOUT=fs"
	got := dovecotView(t, dstLoc)
	for name, dm := range want {
		if !reflect.DeepEqual(got[name], dm) {
			t.Errorf("%s after export:\n got %+v\nwant %+v", name, got[name], dm)
		}
	}
	if gotUIDLs := dovecotUIDLs(t, dstLoc); !reflect.DeepEqual(gotUIDLs, wantUIDLs) {
		t.Errorf("Dovecot UIDLs after export %q, before %q", gotUIDLs, wantUIDLs)
	}
}
