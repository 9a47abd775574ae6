package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// dbs is one opening of an account's databases: the writer (one
// connection, BEGIN IMMEDIATE), the reader pool (query_only) and the
// reader pool's prepared statements.
//
// An open account holds a dbs only while store calls run and for
// Store.connIdle after the last one ended; then the whole set is closed
// (*sql.DB objects, their connections and connectionOpener goroutines,
// the prepared statements) and the next call opens a new one. An account
// whose sessions only idle in IMAP IDLE therefore holds no database
// object at all, and during a burst of logins by different users only the
// accounts used in the last connIdle have SQLite connections open: the
// C-side allocator (modernc.org/memory) keeps about 1/16 of its peak
// after the connections close, so that peak is what an idle server keeps
// (issue 8, DESIGN.md "Idle connections" 7).
//
// Every use of the databases goes through the counted handle: acquireDBs
// and releaseDBs around a call (a.read, a.write, a.r, a.w, cachedDB), so
// that a dbs is never closed while a call that took it runs.
type dbs struct {
	w, r *sql.DB
	rst  stmtCache // prepared statements of r (stmtcache.go)
	wst  stmtCache // prepared statements of w (writeCached)
}

// poolConnIdle closes a connection of a busy account's pool (one that is
// never unused for connIdle, so its dbs stays open) after this long
// unused: the fourth reader of a burst need not live as long as the
// account's traffic.
const poolConnIdle = 30 * time.Second

// openDBs creates the account's *sql.DB objects. sql.Open does no I/O:
// connections are opened (and the database file with them) by the first
// statement that needs one.
func (a *account) openDBs() (*dbs, error) {
	path := indexPath(a.dir)
	w, err := sql.Open("sqlite", dsnSync(path, a.st.opts.BusyTimeout, a.st.baseSync(), true))
	if err != nil {
		return nil, mailstore.Internal("open account database", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(poolConnIdle)
	r, err := sql.Open("sqlite", dsnSync(path, a.st.opts.BusyTimeout, a.st.baseSync(), false))
	if err != nil {
		w.Close()
		return nil, mailstore.Internal("open account database", err)
	}
	r.SetMaxOpenConns(readerConns)
	r.SetMaxIdleConns(readerConns)
	r.SetConnMaxIdleTime(poolConnIdle)
	a.st.liveDBs.Add(1)
	a.st.dbOpens.Add(1)
	return &dbs{w: w, r: r}, nil
}

// close closes d: it closes the prepared statements and the reader pool, then the writer, whose connection is thus the last one
// and checkpoints the WAL and removes the -wal and -shm files (the change
// file watchers read is untouched: no wake-up). PRAGMA optimize runs only
// when the writer's connection is open (it was used): opening one just
// for it would cost what closing saves.
func (d *dbs) close(st *Store) error {
	d.rst.close()
	d.wst.close()
	errs := []error{d.r.Close()}
	if d.w.Stats().OpenConnections > 0 {
		d.w.Exec(`PRAGMA optimize`)
	}
	errs = append(errs, d.w.Close())
	st.liveDBs.Add(-1)
	return errors.Join(errs...)
}

// acquireDBs returns the account's databases, opening them if they are
// closed, and counts the caller as a user until releaseDBs: they are not
// closed meanwhile. It fails with KindUnavailable once the account is
// closed.
func (a *account) acquireDBs() (*dbs, error) {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	if a.shut {
		return nil, mailstore.Errorf(mailstore.KindUnavailable, "account is closed")
	}
	d := a.cur.Load()
	if d == nil {
		var err error
		if d, err = a.openDBs(); err != nil {
			return nil, err
		}
		a.cur.Store(d)
		a.idleFor = a.nextIdleFor(time.Now())
	}
	a.inUse++
	return d, nil
}

// idleGrowth caps the idle time of an account that keeps coming back, as
// a multiple of Store.connIdle (2 s -> 30 s).
const idleGrowth = 15

// nextIdleFor is the idle time of a set opened at now: Store.connIdle for
// an account that was not used for a while (a login among a burst of
// other users', a session woken by a delivery after minutes), doubled up
// to idleGrowth times that for one reopened within that time of its last
// close: an account in steady use (a webmail user, many sessions,
// frequent deliveries) keeps its connections instead of paying ~1.5 ms
// per reopen. hmu is held.
func (a *account) nextIdleFor(now time.Time) time.Duration {
	base := a.st.connIdle
	limit := idleGrowth * base
	if a.closedAt.IsZero() || now.Sub(a.closedAt) >= limit || a.idleFor < base {
		return base
	}
	return min(2*a.idleFor, limit)
}

// releaseDBs ends a use begun by acquireDBs. The last user arms the idle
// timer (once: a busy account does not reset a timer per call; the timer
// re-arms itself for the rest of the idle time when it finds a later use).
func (a *account) releaseDBs() {
	a.hmu.Lock()
	defer a.hmu.Unlock()
	a.inUse--
	if a.inUse > 0 || a.shut {
		return
	}
	a.lastUse = time.Now()
	if a.armed {
		return
	}
	a.armed = true
	if a.idleT == nil {
		a.idleT = time.AfterFunc(a.idleFor, a.closeIdleDBs)
	} else {
		a.idleT.Reset(a.idleFor)
	}
}

// closeIdleDBs is the idle timer: it closes the databases when nobody has
// used them for idleFor.
func (a *account) closeIdleDBs() {
	a.hmu.Lock()
	a.armed = false
	d := a.cur.Load()
	if a.shut || d == nil || a.inUse > 0 {
		// In use: the last releaseDBs arms the timer again.
		a.hmu.Unlock()
		return
	}
	if wait := a.idleFor - time.Since(a.lastUse); wait > 0 {
		a.armed = true
		a.idleT.Reset(wait)
		a.hmu.Unlock()
		return
	}
	a.cur.Store(nil)
	a.closedAt = time.Now()
	a.closing.Add(1)
	a.hmu.Unlock()
	defer a.closing.Done()
	if err := d.close(a.st); err != nil {
		a.st.log.Warn("sqlite store: close idle account databases", "user", a.user, "err", err)
	}
}

// shutDBs closes the account's databases for good (the account is
// closed): later calls fail with KindUnavailable. It waits for an idle
// close in progress.
func (a *account) shutDBs() error {
	a.hmu.Lock()
	a.shut = true
	d := a.cur.Swap(nil)
	if a.idleT != nil {
		a.idleT.Stop()
	}
	a.hmu.Unlock()
	a.closing.Wait()
	if d == nil {
		return nil
	}
	return d.close(a.st)
}

// withDBs runs fn with the account's databases held (acquireDBs).
func (a *account) withDBs(fn func(d *dbs) error) error {
	d, err := a.acquireDBs()
	if err != nil {
		return err
	}
	defer a.releaseDBs()
	return fn(d)
}

// readerDB is the account's reader pool for single statements outside a
// transaction (a.r); each call holds the databases while it runs. Rows
// and a Row it returns stay valid after the call: database/sql closes a
// connection still in use by them only when they are closed.
type readerDB struct{ a *account }

func (p readerDB) QueryContext(ctx context.Context, query string, args ...any) (rows *sql.Rows, err error) {
	err = p.a.withDBs(func(d *dbs) error {
		rows, err = d.r.QueryContext(ctx, query, args...)
		return err
	})
	return rows, err
}

func (p readerDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	d, err := p.a.acquireDBs()
	if err != nil {
		return errRow(ctx)
	}
	defer p.a.releaseDBs()
	return d.r.QueryRowContext(ctx, query, args...)
}

func (p readerDB) ExecContext(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = p.a.withDBs(func(d *dbs) error {
		res, err = d.r.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// writerDB is the account's writer for single statements outside
// account.write (a.w: schema checks, tests); commits must go through
// account.write, which signals them to watchers.
type writerDB struct{ a *account }

func (p writerDB) ExecContext(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	err = p.a.withDBs(func(d *dbs) error {
		res, err = d.w.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

func (p writerDB) Exec(query string, args ...any) (sql.Result, error) {
	return p.ExecContext(context.Background(), query, args...)
}

func (p writerDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	d, err := p.a.acquireDBs()
	if err != nil {
		return errRow(ctx)
	}
	defer p.a.releaseDBs()
	return d.w.QueryRowContext(ctx, query, args...)
}

// errRow returns a *sql.Row for a call on a closed account: database/sql
// has no constructor for a Row carrying an error, so it is the Row of a
// query on a closed *sql.DB, whose Scan fails with "sql: database is
// closed", as a query on the account's own closed databases did before
// they were opened per use.
func errRow(ctx context.Context) *sql.Row {
	return closedDB.QueryRowContext(ctx, "SELECT 1")
}

// closedDB is a *sql.DB closed at once (sql.Open does no I/O).
var closedDB = func() *sql.DB {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		panic(err)
	}
	db.Close()
	return db
}()
