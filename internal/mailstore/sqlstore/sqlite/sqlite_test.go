package sqlite

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
)

func openTestStore(t testing.TB, dir string) *Store {
	t.Helper()
	st, err := Open(Options{Dir: dir, MaxMessageSize: storetest.MaxMessageSize, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// openTestAccount opens user's account in st for a test and closes the
// reference when the test ends.
func openTestAccount(t testing.TB, st *Store, user string) mailstore.Account {
	t.Helper()
	ref, err := st.Account(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	return ref
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mailstore.Store {
		return openTestStore(t, t.TempDir())
	})
}

func TestPersistence(t *testing.T) {
	root := t.TempDir()
	storetest.RunPersistence(t, func(t *testing.T, id string) mailstore.Store {
		return openTestStore(t, filepath.Join(root, id))
	})
}

func TestSafeName(t *testing.T) {
	for user, want := range map[string]string{
		"alice":            "alice",
		"A":                "%41",
		"a":                "a",
		"../x":             "%2E.%2Fx",
		".":                "%2E",
		"..":               "%2E.",
		".hidden":          "%2Ehidden",
		"a.b":              "a.b",
		"user@example.org": "user@example.org",
		"a b/c\\d":         "a%20b%2Fc%5Cd",
		"50%":              "50%25",
		"ü":                "%C3%BC",
		"x+tag_1-2":        "x+tag_1-2",
		"a\x00b":           "a%00b",
	} {
		got, err := SafeName(user)
		if err != nil || got != want {
			t.Errorf("SafeName(%q) = %q, %v; want %q", user, got, err, want)
		}
	}
	if _, err := SafeName(""); mailstore.KindOf(err) != mailstore.KindInvalid {
		t.Errorf("empty name: %v", err)
	}
	if _, err := SafeName(strings.Repeat("Z", 100)); mailstore.KindOf(err) != mailstore.KindInvalid {
		t.Errorf("long name: %v", err)
	}
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	st := openTestStore(t, dir)
	defer st.Close()
	ctx := context.Background()
	for _, u := range []string{"../x", "A", "a"} {
		acc, err := st.Account(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: "+u+"\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		acc.Close()
	}
	ents, err := os.ReadDir(filepath.Join(dir, "accounts"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{"%2E.%2Fx", "%41", "a"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("account dirs %v, want %v", names, want)
	}
	// Nothing was created outside the data directory.
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
		t.Fatal("user ../x escaped the data directory")
	}
	for _, n := range want {
		for _, f := range []string{"index.db", "msg"} {
			if _, err := os.Stat(filepath.Join(dir, "accounts", n, f)); err != nil {
				t.Errorf("%s/%s: %v", n, f, err)
			}
		}
	}
}

// blobFiles returns the blob files of an account.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, "msg"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) != "tmp" {
			out = append(out, filepath.Base(p))
		}
		return nil
	})
	return out
}

func TestBlobLifetime(t *testing.T) {
	dir := t.TempDir()
	st := openTestStore(t, dir)
	defer st.Close()
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	adir, _ := st.AccountDir("alice")
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	for i := range 3 {
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\n"+strings.Repeat("y", i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(blobFiles(t, adir)); n != 3 {
		t.Fatalf("%d blob files, want 3", n)
	}
	// Copy shares files.
	if _, err := acc.Copy(ctx, inbox.ID, []mailstore.UID{1, 2}, "Archive"); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, adir)); n != 3 {
		t.Fatalf("after copy: %d blob files, want 3", n)
	}
	// Expunging one of two references keeps the file.
	if _, err := acc.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{1, 3}}); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, adir)); n != 2 {
		t.Fatalf("after expunge: %d blob files, want 2", n)
	}
	// Deleting the mailbox with the last references removes the files.
	if err := acc.DeleteMailbox(ctx, "Archive"); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, adir)); n != 1 {
		t.Fatalf("after delete: %d blob files, want 1", n)
	}
	// A failed append (mailbox deleted between check and commit cannot be
	// forced here; TooBig can) leaves no file.
	if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(strings.Repeat("z", storetest.MaxMessageSize+1))); mailstore.KindOf(err) != mailstore.KindTooBig {
		t.Fatalf("oversized append: %v", err)
	}
	if n := len(blobFiles(t, adir)); n != 1 {
		t.Fatalf("after failed append: %d blob files, want 1", n)
	}
}

// TestDurabilityOrder checks that a message row never exists without its
// file: every committed message_cache row's blob is on disk, and the blob is
// on disk before the row is visible (checked by a concurrent reader).
func TestDurabilityOrder(t *testing.T) {
	dir := t.TempDir()
	st := openTestStore(t, dir)
	defer st.Close()
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	adir, _ := st.AccountDir("alice")
	db, err := sql.Open("sqlite", dsn(indexPath(adir), time.Second, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	bad := make(chan string, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(bad)
				return
			default:
			}
			rows, err := db.Query(`SELECT blob_id FROM message_cache`)
			if err != nil {
				continue
			}
			for rows.Next() {
				var id string
				rows.Scan(&id)
				if _, err := os.Stat(filepath.Join(adir, "msg", id[:2], id)); err != nil {
					select {
					case bad <- id:
					default:
					}
				}
			}
			rows.Close()
		}
	}()
	for i := range 30 {
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\n"+strings.Repeat("q", i))); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if id, ok := <-bad; ok {
		t.Fatalf("row for blob %s visible without its file", id)
	}
}

// TestCrossProcessWake simulates "roost deliver" in another process: a
// second Store on the same directory appends, and the first store's watcher
// must wake (through polling the database files) and see the message.
func TestCrossProcessWake(t *testing.T) {
	dir := t.TempDir()
	server := openTestStore(t, dir)
	defer server.Close()
	ctx := context.Background()
	acc, err := server.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	ch, stop := server.Watch("alice")
	defer stop()

	deliver := openTestStore(t, dir)
	defer deliver.Close()
	dacc, err := deliver.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dacc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: from lda\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	dacc.Close()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("watcher not woken by another store's commit")
	}
	msgs, err := acc.Messages(ctx, inbox.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages after wake: %v %v", msgs, err)
	}
	// Concurrent writers from both "processes".
	done := make(chan error, 2)
	for _, st := range []*Store{server, deliver} {
		go func() {
			a, err := st.Account(ctx, "alice")
			if err != nil {
				done <- err
				return
			}
			defer a.Close()
			for range 10 {
				if _, _, err := a.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: y\r\n\r\n")); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := acc.Status(ctx, "INBOX"); st.Messages != 21 || st.UIDNext != 22 {
		t.Fatalf("status %+v", st)
	}
	// Polling stops with the last watcher.
	stop()
	server.wmu.Lock()
	n := len(server.watches)
	server.wmu.Unlock()
	if n != 0 {
		t.Fatalf("%d watch groups left", n)
	}
}

func TestQueryPlan(t *testing.T) {
	dir := t.TempDir()
	st := openTestStore(t, dir)
	defer st.Close()
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	a := acc.(*accountRef).account
	for _, tc := range []struct{ query, index string }{
		{changedSinceQuery, "message_modseq"},
		{tombstonesSinceQuery, "tombstone_modseq"},
	} {
		rows, err := a.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "INDEX "+tc.index+" (mailbox_id=? AND modseq>?)") {
			t.Errorf("plan for %s does not use %s: %s", tc.query, tc.index, p)
		}
	}
}

func TestSweepAtOpen(t *testing.T) {
	dir := t.TempDir()
	st := openTestStore(t, dir)
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: keep\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	a := acc.(*accountRef).account
	orphan, _, err := a.blobs.Put(context.Background(), strings.NewReader("leaked by a crash"), 0)
	if err != nil {
		t.Fatal(err)
	}
	young, _, _ := a.blobs.Put(context.Background(), strings.NewReader("being delivered"), 0)
	adir, _ := st.AccountDir("alice")
	old := time.Now().Add(-2 * time.Hour)
	for _, id := range append([]string{orphan}, blobFiles(t, adir)...) {
		if id != young {
			os.Chtimes(filepath.Join(adir, "msg", id[:2], id), old, old)
		}
	}
	if _, err := a.w.Exec(`UPDATE account SET last_sweep = 0`); err != nil {
		t.Fatal(err)
	}
	acc.Close()
	st.Close()

	st = openTestStore(t, dir)
	defer st.Close()
	acc, err = st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	files := blobFiles(t, adir)
	if len(files) != 2 || strings.Contains(strings.Join(files, " "), orphan) {
		t.Fatalf("after sweep: %v (orphan %s, young %s)", files, orphan, young)
	}
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	b, err := acc.Open(ctx, inbox.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(b)
	b.Close()
	if string(data) != "Subject: keep\r\n\r\n" {
		t.Fatalf("kept message reads %q", data)
	}
}

func TestClosedStore(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	st.Close()
	if _, err := st.Account(context.Background(), "alice"); mailstore.KindOf(err) != mailstore.KindUnavailable {
		t.Fatalf("account of closed store: %v", err)
	}
	_, stop := st.Watch("alice")
	stop()
}

// TestBusy checks that a write lock held too long by another connection (or
// process) gives KindUnavailable, not an internal error, and that the store
// works again afterwards.
func TestBusy(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(Options{Dir: dir, BusyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	adir, _ := st.AccountDir("alice")
	other, err := sql.Open("sqlite", dsn(indexPath(adir), time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	tx, err := other.Begin() // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\n"))
	if mailstore.KindOf(err) != mailstore.KindUnavailable {
		t.Fatalf("append while locked: %v, want KindUnavailable", err)
	}
	_, err = acc.CreateMailbox(ctx, "X", "")
	if mailstore.KindOf(err) != mailstore.KindUnavailable {
		t.Fatalf("create while locked: %v, want KindUnavailable", err)
	}
	// Readers are not blocked by a writer (WAL).
	if _, err := acc.Mailboxes(ctx); err != nil {
		t.Fatalf("read while locked: %v", err)
	}
	tx.Rollback()
	if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	adirBlobs := blobFiles(t, adir)
	if len(adirBlobs) != 1 {
		t.Fatalf("failed append left files: %v", adirBlobs)
	}
}
