package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestWatchWithoutOpenAccount: the server watches a user whose account it
// does not hold open (no connection of its own keeps the -wal and -shm
// files alive); "roost deliver" in another process opens the account,
// commits and closes, and its last connection checkpoints and removes
// both files. The watcher must still wake, from the database file's
// change, and must not wake while nothing is committed.
func TestWatchWithoutOpenAccount(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	opts := Options{Dir: dir, PollInterval: 20 * time.Millisecond, IdleClose: -1}
	deliver := func(subject string) {
		t.Helper()
		other, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := other.Account(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: "+subject+"\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
		acc.Close()
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deliver("creates the account")

	server, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ch, stop := server.Watch("alice")
	defer stop()
	dirOf, _ := server.AccountDir("alice")
	if _, err := os.Stat(indexPath(dirOf) + "-wal"); err == nil {
		t.Log("note: the -wal file survived the other store's close")
	}

	select {
	case <-ch:
		t.Fatal("woken without a commit")
	case <-time.After(10 * opts.PollInterval):
	}
	for i := range 3 {
		deliver("wake")
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("delivery %d: watcher not woken", i+1)
		}
	}
	// A poll may see a commit half-way (the WAL written, then the
	// checkpoint at close): a second wake-up for it is harmless. After
	// that, quiet.
	time.Sleep(10 * opts.PollInterval)
	select {
	case <-ch:
	default:
	}
	select {
	case <-ch:
		t.Fatal("woken again without a commit")
	case <-time.After(10 * opts.PollInterval):
	}
}

// TestWatchFunc: a callback watch runs after a commit of this process and
// after one of another process (through the change file), and never once
// its stop function has returned.
func TestWatchFunc(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	opts := Options{Dir: dir, PollInterval: 20 * time.Millisecond, IdleClose: -1}
	server, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	acc, err := server.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	woken := make(chan struct{}, 16)
	stop := server.WatchFunc("alice", func() { woken <- struct{}{} })
	waitWake := func(what string) {
		t.Helper()
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: callback not called", what)
		}
	}
	appendMsg := func(a mailstore.Account) {
		t.Helper()
		if _, _, err := a.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
	}

	appendMsg(acc)
	waitWake("commit of this process")

	other, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	oacc, err := other.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	appendMsg(oacc)
	oacc.Close()
	waitWake("commit of another process")

	stop()
	stop() // idempotent
	for len(woken) > 0 {
		<-woken
	}
	appendMsg(acc)
	other2, _ := other.Account(ctx, "alice")
	appendMsg(other2)
	other2.Close()
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * opts.PollInterval)
	if n := len(woken); n != 0 {
		t.Errorf("callback called %d times after stop", n)
	}
}

// TestReadChangesAllocs: the poller reads every watched user's change
// file every PollInterval; the read must not allocate (os.Open took
// three allocations and 168 bytes, garbage that kept an idle server's
// heap cycling up to its GC goal).
func TestReadChangesAllocs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "changes")
	if err := os.WriteFile(p, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0o600); err != nil {
		t.Fatal(err)
	}
	if v := readChanges(cPath(p)); v != 0x0807060504030201 {
		t.Fatalf("readChanges = %#x", v)
	}
	if v := readChanges(cPath(p + ".missing")); v != 0 {
		t.Fatalf("readChanges of a missing file = %#x, want 0", v)
	}
	cp := cPath(p)
	want := 0.0
	if raceEnabled {
		want = 1 // the read buffer escapes under the race detector
	}
	if n := testing.AllocsPerRun(100, func() { readChanges(cp) }); n > want {
		t.Fatalf("readChanges: %v allocations per read, want %v", n, want)
	}
}

func BenchmarkReadChanges(b *testing.B) {
	p := filepath.Join(b.TempDir(), "changes")
	if err := os.WriteFile(p, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 0o600); err != nil {
		b.Fatal(err)
	}
	cp := cPath(p)
	b.ReportAllocs()
	for b.Loop() {
		readChanges(cp)
	}
}
