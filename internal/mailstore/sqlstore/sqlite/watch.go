package sqlite

import (
	"context"
	"database/sql"
	"os"
	"sync"
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

// poller watches one account database for commits by any connection.
// PRAGMA data_version changes, as seen from one connection, whenever
// another connection (in this process or another) has committed.
type poller struct {
	st   *Store
	user string
	path string
	db   *sql.DB
	conn *sql.Conn
	last int64
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
	defer p.close()
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

// check reads data_version and reports whether it changed since the last
// check. An account that does not exist yet is checked for again later;
// its creation counts as a change.
func (p *poller) check() bool {
	if p.path == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.st.opts.BusyTimeout)
	defer cancel()
	if p.conn == nil {
		if _, err := os.Stat(p.path); err != nil {
			return false
		}
		db, err := sql.Open("sqlite", dsn(p.path, p.st.opts.BusyTimeout, false))
		if err != nil {
			p.st.log.Warn("sqlite store: watch", "user", p.user, "err", err)
			return false
		}
		db.SetMaxOpenConns(1)
		conn, err := db.Conn(ctx)
		if err != nil {
			db.Close()
			p.st.log.Warn("sqlite store: watch", "user", p.user, "err", err)
			return false
		}
		p.db, p.conn = db, conn
		if err := conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&p.last); err != nil {
			p.st.log.Warn("sqlite store: watch", "user", p.user, "err", err)
			p.close()
			return false
		}
		return true
	}
	var v int64
	if err := p.conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		p.st.log.Warn("sqlite store: watch", "user", p.user, "err", err)
		p.close()
		return true // we may have missed something while reconnecting
	}
	changed := v != p.last
	p.last = v
	return changed
}

func (p *poller) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	if p.db != nil {
		p.db.Close()
		p.db = nil
	}
}
