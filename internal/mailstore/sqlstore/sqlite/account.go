package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// account is one open account, shared by all sessions of its user.
type account struct {
	st   *Store
	user string
	dir  string

	ready chan struct{} // closed when open has finished
	err   error         // result of open; read after ready
	refs  int           // guarded by st.mu
	idle  *time.Timer   // guarded by st.mu: closes the account when refs stays 0

	// The databases are opened per use (dbs.go): w and r run single
	// statements on the writer and on the reader pool, a.read and a.write
	// transactions; all hold the databases (acquireDBs) while they run.
	w     writerDB
	r     readerDB
	blobs *blob.Store

	hmu      sync.Mutex
	cur      atomic.Pointer[dbs] // the open databases, nil while closed; written under hmu
	inUse    int                 // calls holding cur; guarded by hmu
	lastUse  time.Time           // when inUse last dropped to 0; guarded by hmu
	idleT    *time.Timer         // closeIdleDBs; guarded by hmu
	armed    bool                // idleT is pending; guarded by hmu
	idleFor  time.Duration       // the open set's idle time (nextIdleFor); guarded by hmu
	closedAt time.Time           // when the last set was closed as idle; guarded by hmu
	shut     bool                // the account is closed; guarded by hmu
	closing  sync.WaitGroup      // idle closes in progress

	dropMu   sync.Mutex
	dropHeld bool // POP3 maildrop lock

	// commits counts this process's commits to the account (writeSync);
	// cpath is the change file's path for readChanges (ChangeStamp).
	commits atomic.Uint64
	cpath   []byte
}

// accountRef is one reference to a shared account, returned by
// Store.Account. Using it after Close is a programming error.
type accountRef struct {
	*account
	once sync.Once
}

func (r *accountRef) Close() error {
	r.once.Do(r.account.release)
	return nil
}

// indexPath returns the database file of the account in dir.
func indexPath(dir string) string { return filepath.Join(dir, "index.db") }

// dsn builds a modernc.org/sqlite data source name for path. The path comes
// from SafeName and the store directory, which contain no '?'.
func dsn(path string, busy time.Duration, writer bool) string {
	return dsnSync(path, busy, "FULL", writer)
}

// dsnSync is dsn with the given PRAGMA synchronous level.
func dsnSync(path string, busy time.Duration, synchronous string, writer bool) string {
	// cache_size -16384: 16 MiB page cache per connection, so that a
	// 100k-message mailbox's message table stays cached; mmap_size lets
	// reads skip a pread system call per page.
	// synchronous: FULL, except OFF under mail_fsync = never; the writer
	// lowers it per transaction under optimized (beginWrite, flags.go).
	s := fmt.Sprintf("%s?_busy_timeout=%d&_foreign_keys=1&_synchronous=%s"+
		"&_pragma=cache_size(-16384)&_pragma=mmap_size(268435456)", path, busy.Milliseconds(), synchronous)
	if writer {
		// BEGIN IMMEDIATE: take the write lock at the start, so that a
		// transaction never fails upgrading from read to write (SQLITE_BUSY
		// that busy_timeout cannot help with).
		return s + "&_journal_mode=WAL&_txlock=immediate"
	}
	return s + "&_query_only=1"
}

// newAccount returns the account of user in dir, not yet opened.
func newAccount(st *Store, user, dir string) *account {
	a := &account{st: st, user: user, dir: dir, ready: make(chan struct{}), refs: 1}
	a.w = writerDB{a}
	a.r = readerDB{a}
	a.cpath = cPath(changesPath(dir))
	return a
}

func (a *account) open(ctx context.Context) error {
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return mailstore.Internal("create account directory", err)
	}
	if err := a.migrate(ctx); err != nil {
		a.shutDBs()
		return err
	}
	var err error
	a.blobs, err = blob.Open(filepath.Join(a.dir, "msg"))
	if err != nil {
		a.shutDBs()
		return mailstore.Internal("open blob store", err)
	}
	if a.st.opts.Fsync == sqlstore.FsyncNever {
		a.blobs.SetNoSync()
	}
	a.maybeSweep(ctx)
	return nil
}

// maybeSweep removes orphaned blob files (see the package documentation)
// when the last sweep is older than sweepEvery. Failures are logged only.
func (a *account) maybeSweep(ctx context.Context) {
	var last int64
	if err := a.r.QueryRowContext(ctx, `SELECT last_sweep FROM account`).Scan(&last); err != nil {
		a.st.log.Warn("sqlite store: read last sweep", "user", a.user, "err", err)
		return
	}
	now := time.Now()
	if now.Sub(time.Unix(last, 0)) < sweepEvery {
		return
	}
	// Mark first, so that concurrent openers do not all sweep.
	err := a.write(ctx, "mark sweep", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE account SET last_sweep = ?`, now.Unix())
		return err
	})
	if err != nil {
		a.st.log.Warn("sqlite store: mark sweep", "user", a.user, "err", err)
		return
	}
	referenced := map[string]bool{}
	rows, err := a.r.QueryContext(ctx, `SELECT blob_id FROM message_cache`)
	if err != nil {
		a.st.log.Warn("sqlite store: sweep", "user", a.user, "err", err)
		return
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			a.st.log.Warn("sqlite store: sweep", "user", a.user, "err", err)
			return
		}
		referenced[id] = true
	}
	if err := rows.Close(); err != nil || rows.Err() != nil {
		a.st.log.Warn("sqlite store: sweep", "user", a.user, "err", errors.Join(err, rows.Err()))
		return
	}
	n, err := a.blobs.Sweep(ctx, sweepMinAge, func(id string) bool { return referenced[id] })
	if err != nil {
		a.st.log.Warn("sqlite store: sweep", "user", a.user, "err", err)
	}
	if n > 0 {
		a.st.log.Info("sqlite store: removed orphaned message files", "user", a.user, "count", n)
	}
}

// closeDBs closes the account's databases for good (dbs.go, shutDBs).
func (a *account) closeDBs() error { return a.shutDBs() }

// release drops one reference. When the last one goes, the databases are
// closed after Options.IdleClose unless the account is taken again.
func (a *account) release() {
	st := a.st
	st.mu.Lock()
	a.refs--
	last := a.refs == 0 && st.accounts[a.user] == a
	if last && st.opts.IdleClose > 0 && !st.closed && a.err == nil {
		if a.idle == nil {
			a.idle = time.AfterFunc(st.opts.IdleClose, a.closeIfIdle)
		} else {
			a.idle.Reset(st.opts.IdleClose)
		}
		st.mu.Unlock()
		return
	}
	if last {
		delete(st.accounts, a.user)
	}
	st.mu.Unlock()
	if last {
		a.closeNow()
	}
}

// closeIfIdle closes the account if nobody took it since its last release.
func (a *account) closeIfIdle() {
	st := a.st
	st.mu.Lock()
	idle := a.refs == 0 && st.accounts[a.user] == a
	if idle {
		delete(st.accounts, a.user)
	}
	st.mu.Unlock()
	if idle {
		a.closeNow()
	}
}

func (a *account) closeNow() {
	<-a.ready
	if a.err == nil {
		if err := a.closeDBs(); err != nil {
			a.st.log.Warn("sqlite store: close account", "user", a.user, "err", err)
		}
	}
}

func (a *account) User() string { return a.user }

// write runs fn in a write transaction (BEGIN IMMEDIATE), commits and then
// signals the commit to other processes' watchers (bumpChanges). Every
// commit must go through here. Errors are mapped with dbErr using op as
// context.
func (a *account) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return a.writeSync(ctx, op, true, fn)
}

// writeSync is write with the commit's durability: durable transactions
// are fsynced before writeSync returns; flag-only ones (durable false,
// flags.go) only under mail_fsync = always (see beginWrite).
func (a *account) writeSync(ctx context.Context, op string, durable bool, fn func(tx *sql.Tx) error) error {
	// Held across the whole transaction: beginWrite's own hold ends when
	// it returns.
	d, err := a.acquireDBs()
	if err != nil {
		return dbErr(op, err)
	}
	defer a.releaseDBs()
	conn, tx, err := a.beginWrite(ctx, durable)
	if err != nil {
		return dbErr(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		conn.Close()
		return dbErr(op, err)
	}
	err = tx.Commit()
	conn.Close()
	if err != nil {
		return dbErr(op+": commit", err)
	}
	a.commits.Add(1)
	a.bumpChanges()
	// Statements fn met first through writeCached are prepared now that
	// the writer's one connection is free (stmtcache.go).
	d.wst.prepareWanted(ctx, d.w)
	return nil
}

// read runs fn in a read-only transaction: one consistent snapshot.
// The databases are held until fn has returned and the transaction ended.
func (a *account) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	d, err := a.acquireDBs()
	if err != nil {
		return dbErr(op, err)
	}
	defer a.releaseDBs()
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dbErr(op, err)
	}
	defer tx.Rollback() // if fn panics
	err = fn(tx)
	tx.Rollback()
	// Statements fn met first (cachedTx) are prepared now that the
	// transaction's connection is free (stmtcache.go).
	d.rst.prepareWanted(ctx, d.r)
	return dbErr(op, err)
}

// notify wakes the user's watchers after a commit.
func (a *account) notify() { a.st.wake(a.user) }

// deleteBlobs removes blob files after the commit that dropped their last
// reference. Failures only leak files, so they are logged.
func (a *account) deleteBlobs(ids []string) {
	for _, id := range ids {
		if err := a.blobs.Delete(context.Background(), id); err != nil {
			a.st.log.Warn("sqlite store: delete message file", "user", a.user, "blob", id, "err", err)
		}
	}
}

// SQLite primary result codes we map.
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// dbErr maps a database error: *mailstore.Error passes through, busy and
// locked become KindUnavailable, a cancelled context KindUnavailable, and
// anything else KindInternal, all wrapped with op.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var me *mailstore.Error
	if errors.As(err, &me) {
		return err
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteBusy, sqliteLocked:
			return &mailstore.Error{Kind: mailstore.KindUnavailable, Msg: "mail store is busy, try again later", Err: fmt.Errorf("%s: %w", op, err)}
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &mailstore.Error{Kind: mailstore.KindUnavailable, Msg: "operation cancelled", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return mailstore.Internal(op, err)
}
