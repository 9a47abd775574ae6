package sqlite

import (
	"os"
	"sync"
	"syscall"
	"time"
)

// watchGroup is the set of watchers of one user, plus the poller that
// detects commits by other processes.
type watchGroup struct {
	chans map[*chan struct{}]struct{}
	stop  chan struct{}
}

// Watch returns a channel that receives a value after every committed
// change to user's account, by this process or (detected by polling PRAGMA
// data_version, see the package documentation) by another process. The
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
		p := st.newPoller(user)
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
	g := st.watches[user]
	if g == nil {
		return
	}
	for ch := range g.chans {
		select {
		case *ch <- struct{}{}:
		default:
		}
	}
}

// poller watches one account database for commits by any connection,
// without a database connection of its own: a commit in WAL mode appends
// to index.db-wal and updates the WAL-index header at the start of
// index.db-shm (its change counter, last frame and checksums:
// https://sqlite.org/walformat.html, "The WAL-Index Header"); a checkpoint
// when the last connection closes writes index.db and removes both files.
// The fingerprint of the three files (inode, size, modification time; the
// first 48 bytes of the -shm file) therefore changes with every commit, by
// this process or another. Reading it costs a few system calls per poll
// instead of an SQLite connection per watched user (about 200 KiB each:
// page cache, lookaside, schema) and a query: 10,000 idle users would
// otherwise hold 10,000 connections (issue 8).
type poller struct {
	st   *Store
	user string
	path string
	last fingerprint
	ok   bool // last is set
}

// fingerprint identifies the state of an account database's files.
type fingerprint struct {
	db, wal, shm fileID
	walIndex     [48]byte
}

type fileID struct {
	ino, size uint64
	mtime     int64
}

// newPoller creates a poller and takes its baseline at once, so that a
// commit made after Watch returns is never missed.
func (st *Store) newPoller(user string) *poller {
	p := &poller{st: st, user: user}
	if dir, err := st.AccountDir(user); err == nil {
		p.path = indexPath(dir)
	}
	p.check()
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
		if p.check() {
			p.st.wake(p.user)
		}
	}
}

// check reads the fingerprint and reports whether it changed since the
// last check. An account that does not exist yet is checked for again
// later; its creation counts as a change.
func (p *poller) check() bool {
	if p.path == "" {
		return false
	}
	f, exists := readFingerprint(p.path)
	if !exists {
		return false
	}
	changed := !p.ok || f != p.last
	p.last, p.ok = f, true
	return changed
}

// readFingerprint stats path, its -wal and -shm files and reads the -shm
// file's WAL-index header. exists is false when the database file is
// missing.
func readFingerprint(path string) (f fingerprint, exists bool) {
	var ok bool
	if f.db, ok = statID(path); !ok {
		return f, false
	}
	f.wal, _ = statID(path + "-wal")
	f.shm, _ = statID(path + "-shm")
	if shm, err := os.Open(path + "-shm"); err == nil {
		shm.ReadAt(f.walIndex[:], 0) // a short read leaves zeros: still a fingerprint
		shm.Close()
	}
	return f, true
}

func statID(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{ino: st.Ino, size: uint64(st.Size), mtime: st.Mtim.Nano()}, true
}
