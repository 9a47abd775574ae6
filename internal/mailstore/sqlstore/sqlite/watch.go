package sqlite

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// watchGroup is the set of watchers of one user, plus the poller that
// detects commits by other processes.
type watchGroup struct {
	chans map[*chan struct{}]struct{}
	stop  chan struct{}
	last  uint64 // change-file nonce the poller saw last
	own   uint64 // nonce this process wrote last (bumpChanges)
}

// Watch returns a channel that receives a value after every committed
// change to user's account, by this process or (detected by polling the
// account's change file, see poller) by another process. The
// returned function stops the watch; it is idempotent and does not close
// the channel.
func (st *Store) Watch(user string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	key := &ch
	st.wmu.Lock()
	g := st.watches[user]
	if g == nil && !st.isClosed() {
		g = &watchGroup{chans: map[*chan struct{}]struct{}{}, stop: make(chan struct{})}
		st.watches[user] = g
		p := st.newPoller(user, g)
		st.pollers.Add(1)
		go func() {
			defer st.pollers.Done()
			p.run(g.stop)
		}()
	}
	if g != nil {
		g.chans[key] = struct{}{}
	}
	st.wmu.Unlock()

	var once sync.Once
	return ch, func() {
		once.Do(func() {
			st.wmu.Lock()
			defer st.wmu.Unlock()
			if g == nil || st.watches[user] != g {
				return
			}
			delete(g.chans, key)
			if len(g.chans) == 0 {
				close(g.stop)
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

// wake wakes every watcher of user without blocking.
func (st *Store) wake(user string) {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	if g := st.watches[user]; g != nil {
		st.wakeLocked(g)
	}
}

// wakeLocked wakes every watcher of g without blocking; st.wmu is held.
func (st *Store) wakeLocked(g *watchGroup) {
	for ch := range g.chans {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
}

// poller watches one account for commits by any process, without a
// database connection and without looking at SQLite's files: every
// process commits through account.write, which afterwards writes a fresh
// random nonce into the account's change file (changesPath; see
// bumpChanges). The poller reads those 8 bytes every PollInterval and
// wakes the user's watchers when they differ from what it saw last.
//
// Earlier versions fingerprinted index.db, its -wal and its -shm file.
// That needed the account's writer connection kept open for as long as a
// session idled (~200 KiB of SQLite memory per account), because the
// checkpoint SQLite runs when an account's last connection closes
// rewrites index.db and removes the other two files, which looked like a
// commit and woke every session of the user for nothing. A checkpoint
// does not touch the change file, so connections can now be closed when
// idle (connIdleTime) however long the sessions idle.
//
// A lost wake-up costs latency only: a commit whose process died before
// writing the nonce is seen at the next commit, or by the session's next
// command. A nonce this process wrote itself (watchGroup.own) wakes
// nobody, since notify already woke the in-process watchers.
type poller struct {
	st   *Store
	g    *watchGroup
	user string
	path string // the change file; "" for an invalid user name
}

// newPoller creates a poller and takes its baseline at once, so that a
// commit made after Watch returns is never missed. Called with st.wmu held.
func (st *Store) newPoller(user string, g *watchGroup) *poller {
	p := &poller{st: st, g: g, user: user}
	if dir, err := st.AccountDir(user); err == nil {
		p.path = changesPath(dir)
	}
	g.last = readChanges(p.path)
	return p
}

func (p *poller) run(stop <-chan struct{}) {
	t := time.NewTicker(p.st.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.check()
	}
}

// check reads the change file and wakes the watchers if another process
// wrote it since the last check. A missing file reads as zero: its
// creation by an account's first commit, and its removal with the account
// (user del --purge), count as changes.
func (p *poller) check() {
	v := readChanges(p.path)
	p.st.wmu.Lock()
	defer p.st.wmu.Unlock()
	if v == p.g.last {
		return
	}
	p.g.last = v
	if v != p.g.own {
		p.st.wakeLocked(p.g)
	}
}

// changesPath returns the change file of the account in dir.
func changesPath(dir string) string { return filepath.Join(dir, "changes") }

// readChanges returns the nonce in the change file at path, 0 when it is
// missing or unreadable (an unreadable file is a permission problem the
// next commit reports).
func readChanges(path string) uint64 {
	if path == "" {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var b [8]byte
	if n, _ := f.ReadAt(b[:], 0); n < len(b) {
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
		g.own = v // before the write, so that our own poller never wakes for it
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
