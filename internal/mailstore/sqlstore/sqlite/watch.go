package sqlite

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// watchGroup is the set of watchers of one user, with what the store's
// poller knows about the user's change file.
type watchGroup struct {
	chans map[*watcher]struct{}
	path  []byte // the account's change file, NUL-terminated (cPath); nil for an invalid user name
	last  uint64 // change-file nonce the poller saw last
	// pending is the nonce this process's last commit wrote (bumpChanges);
	// own is pending as of the last notify, i.e. a nonce whose commit
	// already woke the in-process watchers. Only own is skipped by the
	// poller: a commit that notifies nobody (the open-time sweep mark, a
	// migration) must not hide another process's commit written just
	// before it.
	pending, own uint64
}

// watcher is one watch: a channel (Watch) or a callback (WatchFunc).
type watcher struct {
	ch chan struct{}
	fn func()
}

// Watch returns a channel that receives a value after every committed
// change to user's account, by this process or (detected by polling the
// account's change file, see poll) by another process. The returned
// function stops the watch; it is idempotent and does not close the
// channel.
func (st *Store) Watch(user string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	return ch, st.addWatch(user, &watcher{ch: ch})
}

// WatchFunc is Watch with a callback instead of a channel: fn runs after
// every committed change to user's account, called by the committing
// goroutine or the store's poller with the store's watch lock held, so
// it must return quickly, must not block and must not call back into the
// store's Watch, WatchFunc or stop functions. It spares a watcher that
// fans wake-ups out to many sessions (the IMAP server's idle hub) a
// goroutine per watched user. The returned function stops the watch; it
// is idempotent, and once it has returned fn is not called again.
func (st *Store) WatchFunc(user string, fn func()) func() {
	return st.addWatch(user, &watcher{fn: fn})
}

// addWatch registers key as a watcher of user and returns its stop
// function.
func (st *Store) addWatch(user string, key *watcher) func() {
	st.wmu.Lock()
	g := st.watches[user]
	if g == nil && !st.isClosed() {
		g = &watchGroup{chans: map[*watcher]struct{}{}}
		if dir, err := st.AccountDir(user); err == nil {
			g.path = cPath(changesPath(dir))
		}
		// The baseline is taken now, so that a commit made after Watch
		// returns is never missed.
		g.last = readChanges(g.path)
		st.watches[user] = g
		if !st.polling {
			st.polling = true
			st.pollers.Add(1)
			go func() {
				defer st.pollers.Done()
				st.poll()
			}()
		}
	}
	if g != nil {
		g.chans[key] = struct{}{}
	}
	st.wmu.Unlock()

	var once sync.Once
	return func() {
		once.Do(func() {
			st.wmu.Lock()
			defer st.wmu.Unlock()
			if g == nil || st.watches[user] != g {
				return
			}
			delete(g.chans, key)
			if len(g.chans) == 0 {
				delete(st.watches, user)
			}
		})
	}
}

func (st *Store) isClosed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.closed
}

// wake wakes every watcher of user without blocking, after a commit by
// this process: the change-file nonce of that commit (pending) then wakes
// nobody again when the poller reads it.
func (st *Store) wake(user string) {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	if g := st.watches[user]; g != nil {
		g.own = g.pending
		st.wakeLocked(g)
	}
}

// wakeLocked wakes every watcher of g without blocking; st.wmu is held.
func (st *Store) wakeLocked(g *watchGroup) {
	for w := range g.chans {
		if w.fn != nil {
			w.fn()
			continue
		}
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// poll is the store's one poller goroutine: every PollInterval it reads
// the change file of every watched user and wakes the user's watchers
// when the file holds a nonce that neither it saw last nor this process
// wrote. It runs while any user is watched (one goroutine and one timer
// per store, not per user: 10,000 idle users would otherwise cost 10,000
// of each) and ends with the last watch or with the store.
//
// The change file replaces a database connection per watched user (its
// PRAGMA data_version) and, later, a fingerprint of index.db, its -wal and
// its -shm file. The fingerprint needed the account's writer connection
// kept open for as long as a session idled (~200 KiB of SQLite memory per
// account), because the checkpoint SQLite runs when an account's last
// connection closes rewrites index.db and removes the other two files,
// which looked like a commit and woke every session of the user for
// nothing. A checkpoint does not touch the change file, so connections now
// close when idle (Store.connIdle) however long the sessions idle.
//
// Every process commits through account.write, which writes a fresh nonce
// into the change file after the commit (bumpChanges). A lost wake-up
// costs latency only: a commit whose process died before writing the
// nonce is seen at the next commit, or by the session's next command. A
// nonce this process wrote itself for a commit it notified wakes nobody
// (notify already woke the in-process watchers; see watchGroup.own), and
// an unchanged file wakes nobody, whatever SQLite does to its own files.
func (st *Store) poll() {
	t := time.NewTicker(st.opts.PollInterval)
	defer t.Stop()
	type item struct {
		g    *watchGroup
		path []byte
	}
	var items []item
	for {
		select {
		case <-st.pollStop:
			return
		case <-t.C:
		}
		st.wmu.Lock()
		if len(st.watches) == 0 {
			st.polling = false
			st.wmu.Unlock()
			return
		}
		items = items[:0]
		for _, g := range st.watches {
			items = append(items, item{g, g.path})
		}
		st.wmu.Unlock()
		for i, it := range items {
			v := readChanges(it.path) // no lock held during file I/O
			st.wmu.Lock()
			if v != it.g.last {
				it.g.last = v
				if v != it.g.own {
					st.wakeLocked(it.g) // a group removed meanwhile has no channels
				}
			}
			st.wmu.Unlock()
			items[i] = item{}
		}
	}
}

// changesPath returns the change file of the account in dir.
func changesPath(dir string) string { return filepath.Join(dir, "changes") }

// cPath returns path NUL-terminated, as the open system call takes it.
func cPath(path string) []byte { return append([]byte(path), 0) }

// readChanges returns the nonce in the change file at path (cPath), 0
// when it is missing or unreadable (an unreadable file is a permission
// problem the next commit reports). The poller calls it for every
// watched user every PollInterval (10,000 idle users: 33,000 reads a
// second), so it makes the system calls itself with the path converted
// once (openRead): os.Open also registers the file with the network
// poller and allocates an *os.File with a cleanup, three allocations per
// read whose garbage kept an idle server's heap cycling up to its GC
// goal.
func readChanges(path []byte) uint64 {
	if len(path) == 0 {
		return 0
	}
	fd, err := openRead(path)
	if err != nil {
		return 0
	}
	var b [8]byte
	n, _ := syscall.Pread(fd, b[:], 0)
	syscall.Close(fd)
	if n < len(b) {
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

// bumpChanges tells other processes' watchers of user that a commit
// happened: it writes a fresh random nonce to the account's change file
// (created on first use), after the commit. A random value rather than a
// counter needs no read-modify-write, so two processes committing at once
// can never write the same value twice in a row and hide a commit; a
// nonce is never 0, the value of a missing file. The file is not fsynced:
// it is a signal between live processes sharing the page cache, and
// after a crash nobody is watching. Failures are logged: they cost other
// processes' sessions the wake-up, not data.
func (a *account) bumpChanges() {
	var v uint64
	for v == 0 {
		v = rand.Uint64()
	}
	st := a.st
	st.wmu.Lock()
	if g := st.watches[a.user]; g != nil {
		g.pending = v // before the write: notify may mark it as seen
	}
	st.wmu.Unlock()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	f, err := os.OpenFile(changesPath(a.dir), os.O_WRONLY|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.WriteAt(b[:], 0)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		st.log.Warn("sqlite store: write change file", "user", a.user, "err", err)
	}
}
