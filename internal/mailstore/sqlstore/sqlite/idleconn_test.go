package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// An account whose sessions only idle (references held, a watch running)
// must hold no SQLite connection and no open file once its connections
// have been unused for connIdle: each connection costs ~200 KiB of SQLite
// memory (page cache, lookaside, schema), which made 2,000 idle sessions
// of 2,000 users cost ~520 KiB each (issue 8).
func TestIdleAccountHoldsNoConnection(t *testing.T) {
	ctx := context.Background()
	st, err := Open(Options{Dir: t.TempDir(), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.connIdle = 200 * time.Millisecond
	ref := openTestAccount(t, st, "alice")
	ch, stop := st.Watch("alice")
	defer stop()
	// What a session does before it IDLEs: write, then read.
	if _, _, err := ref.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Mailboxes(ctx); err != nil {
		t.Fatal(err)
	}
	<-ch // the append's in-process wake-up
	a := ref.(*accountRef).account
	dir := a.dir
	if n := openFilesUnder(t, dir); n == 0 {
		t.Fatal("no open file under the account right after use: the check below proves nothing")
	}

	if st.liveDBs.Load() != 1 || a.cur.Load() == nil {
		t.Fatalf("right after use: %d database sets open, want the account's", st.liveDBs.Load())
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		held := a.cur.Load() != nil
		live := st.liveDBs.Load()
		n := openFilesUnder(t, dir)
		if !held && live == 0 && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle account still holds its databases (%v), %d database sets open, %d open files under %s", held, live, n, dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The last connection's close checkpointed the WAL and removed it:
	// that must not wake the watcher.
	if _, err := os.Stat(indexPath(dir) + "-wal"); err == nil {
		t.Error("-wal file left after the last connection closed")
	}
	select {
	case <-ch:
		t.Fatal("closing the idle connections (a checkpoint) woke the watcher")
	case <-time.After(10 * st.opts.PollInterval):
	}

	// The account reopens its connections on demand.
	mbs, err := ref.Mailboxes(ctx)
	if err != nil {
		t.Fatalf("after the idle close: %v", err)
	}
	if len(mbs) == 0 {
		t.Fatal("no mailboxes after the idle close")
	}
}

// openFilesUnder counts this process's open file descriptors on files
// under dir.
func openFilesUnder(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open files: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			n++
		}
	}
	return n
}

// TestCheckpointDoesNotWake: another process checkpointing the account's
// WAL (as SQLite does when a process's last connection closes, or on
// PRAGMA wal_checkpoint) rewrites index.db and truncates or removes the
// -wal file; no commit happened, so no session may be woken.
func TestCheckpointDoesNotWake(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{Dir: dir, PollInterval: 20 * time.Millisecond}
	st, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ref := openTestAccount(t, st, "alice")
	for i := range 3 {
		if _, _, err := ref.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	ch, stop := st.Watch("alice")
	defer stop()
	adir, _ := st.AccountDir("alice")
	walBefore, err := os.Stat(indexPath(adir) + "-wal")
	if err != nil || walBefore.Size() == 0 {
		t.Fatalf("no WAL to checkpoint (%v): the test proves nothing", err)
	}
	time.Sleep(5 * opts.PollInterval) // let the poller settle

	// The checkpoint, on a connection that is not the store's.
	other, err := Open(Options{Dir: dir, IdleClose: -1})
	if err != nil {
		t.Fatal(err)
	}
	oref, err := other.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oref.(*accountRef).w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	walAfter, err := os.Stat(indexPath(adir) + "-wal")
	if err == nil && walAfter.Size() != 0 {
		t.Fatalf("WAL still %d bytes after the checkpoint", walAfter.Size())
	}
	oref.Close()
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("a checkpoint woke the watcher")
	case <-time.After(10 * opts.PollInterval):
	}

	// A commit by the other process still does.
	deliverOtherStore(t, dir)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("commit by another store not seen")
	}
}

func deliverOtherStore(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	other, err := Open(Options{Dir: dir, IdleClose: -1})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := other.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: other\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	acc.Close()
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
}

// helperDeliverEnv makes the test binary, run as a child process, deliver
// one message to alice in the store directory it names and exit: a
// separate process, as "roost deliver" is.
const helperDeliverEnv = "ROOST_SQLITE_TEST_DELIVER_DIR"

func init() {
	dir := os.Getenv(helperDeliverEnv)
	if dir == "" {
		return
	}
	ctx := context.Background()
	st, err := Open(Options{Dir: dir, IdleClose: -1})
	if err == nil {
		var acc mailstore.Account
		if acc, err = st.Account(ctx, "alice"); err == nil {
			_, _, err = acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: from another process\r\n\r\nhi\r\n"))
			acc.Close()
		}
		err = errors.Join(err, st.Close())
	}
	if err != nil {
		os.Stderr.WriteString("deliver helper: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// TestOtherProcessWakesIdleAccount: the server's account has closed all
// its connections (its sessions idle); a delivery by another process must
// still wake the watcher, and the account must then read the new message.
func TestOtherProcessWakesIdleAccount(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := Open(Options{Dir: dir, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.connIdle = 100 * time.Millisecond
	ref := openTestAccount(t, st, "alice")
	ch, stop := st.Watch("alice")
	defer stop()
	a := ref.(*accountRef).account
	deadline := time.Now().Add(10 * time.Second)
	for a.cur.Load() != nil || openFilesUnder(t, a.dir) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("connections never closed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperDeliverEnv+"="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("deliver process: %v: %s", err, out)
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("delivery %d by another process did not wake the idle account's watcher", i+1)
		}
		status, err := ref.Status(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		if int(status.Messages) != i+1 {
			t.Fatalf("after delivery %d: INBOX has %d messages", i+1, status.Messages)
		}
	}
	select {
	case <-ch:
		t.Fatal("woken again without a commit")
	case <-time.After(10 * st.opts.PollInterval):
	}
}

// TestOnePollerForAllUsers: watching many users costs one poll goroutine,
// not one per user (10,000 idle users would otherwise hold 10,000
// goroutines and timers), and every user is still woken by another
// store's commit.
func TestOnePollerForAllUsers(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, PollInterval: 20 * time.Millisecond}
	st, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before := runtime.NumGoroutine()
	const users = 50
	chans := make([]<-chan struct{}, users)
	for i := range users {
		ch, stop := st.Watch(fmt.Sprintf("user%d", i))
		defer stop()
		chans[i] = ch
	}
	if d := runtime.NumGoroutine() - before; d > 1 {
		t.Fatalf("%d users watched: %d more goroutines, want 1", users, d)
	}
	other, err := Open(Options{Dir: dir, IdleClose: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, i := range []int{0, users - 1} {
		acc, err := other.Account(ctx, fmt.Sprintf("user%d", i))
		if err != nil {
			t.Fatal(err)
		}
		acc.Close()
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, users - 1} {
		select {
		case <-chans[i]:
		case <-time.After(5 * time.Second):
			t.Fatalf("user%d: creation by another store not seen", i)
		}
	}
	select {
	case <-chans[1]:
		t.Fatal("user1 woken by other users' commits")
	case <-time.After(10 * opts.PollInterval):
	}
}

// TestOwnSilentCommitDoesNotHideOthers: this process's nonce is skipped by
// its poller only for commits it notified its watchers of. A commit that
// notifies nobody (such as the sweep mark at account open), written right
// after another process's commit and before the next poll, must not hide
// that commit.
func TestOwnSilentCommitDoesNotHideOthers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{Dir: dir, PollInterval: 300 * time.Millisecond}
	st, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ref := openTestAccount(t, st, "alice")
	ch, stop := st.Watch("alice")
	defer stop()
	time.Sleep(2 * opts.PollInterval)

	deliverOtherStore(t, dir)
	a := ref.(*accountRef).account
	err = a.write(ctx, "silent", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE account SET last_sweep = last_sweep`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("another store's commit, followed by a silent local one, woke nobody")
	}
}
