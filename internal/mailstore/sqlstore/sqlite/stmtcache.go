package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps the reader pool's prepared statements for the queries
// run most often (once per message of a command, such as Open during a
// header SEARCH). modernc.org/sqlite has no statement cache and
// database/sql prepares a Query's SQL anew on every call: the CPU
// profile of the webmail benchmark had a third of the server's time in
// SQLite's parser and planner (docs/BENCHMARKS.md, "Profiles"). A
// statement prepared on the *sql.DB is prepared once per connection by
// database/sql and kept with it; Tx.StmtContext reuses it.
type stmtCache struct {
	mu     sync.RWMutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool // queries met in a transaction, to prepare after it (prepareWanted)
}

// txStmt returns query as a statement of tx (a transaction of db) when the
// cache already holds it, and nil otherwise: the caller then runs the query
// on tx unprepared, and the query is prepared by prepareWanted once the
// transaction has ended.
//
// It must never prepare on db while the caller holds tx: preparing on db
// waits for a free connection of the pool, and when every connection is
// held by a transaction doing the same, none is ever freed (200 sessions
// woken by one delivery deadlocked that way). Preparing on a goroutine of
// its own while tx runs avoided that, but took (and opened) another
// reader connection for every statement the transaction met first: up
// to the whole pool for one SELECT of a freshly opened account, ~200 KiB
// of SQLite memory each (issue 8).
func (c *stmtCache) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.stmts[query]
	want := c.wanted[query]
	c.mu.RUnlock()
	if ok {
		return tx.StmtContext(ctx, st)
	}
	if !want {
		c.mu.Lock()
		if c.wanted == nil {
			c.wanted = map[string]bool{}
		}
		c.wanted[query] = true
		c.mu.Unlock()
	}
	return nil
}

// prepareWanted prepares on db the queries txStmt met unprepared. It runs
// after a read transaction has ended (account.read), when the caller holds
// no connection of db: it takes the one the transaction just gave back,
// normally without opening another. A query whose prepare fails stays
// unprepared until it is met again.
func (c *stmtCache) prepareWanted(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.wanted))
	for q := range c.wanted {
		qs = append(qs, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range qs {
		c.dbStmt(ctx, db, q)
	}
}

// close closes the cached statements; the cache stays usable.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
	clear(c.wanted)
}

// cachedTx is a read transaction whose queries go through the account's
// statement cache. Use it only where every query string is a constant:
// each distinct string stays prepared on every reader connection.
type cachedTx struct {
	a      *account
	tx     *sql.Tx
	writer bool // a write transaction (writeCached): statements of w, Exec prepared too
}

// stmt returns query prepared on c.tx, or nil (see txStmt). The
// transaction is one of a.read, which holds the account's databases, so
// a.cur is the set tx belongs to; it is nil only if the account was
// closed under the call, and the query then runs on tx unprepared.
func (c cachedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	d := c.a.cur.Load()
	if d == nil {
		return nil
	}
	if c.writer {
		return d.wst.txStmt(ctx, c.tx, query)
	}
	return d.rst.txStmt(ctx, c.tx, query)
}

func (c cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, query, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

// prepare returns query as a statement of c.tx for a loop: the cached one,
// or else one prepared on the transaction for this loop only (the cache
// prepares it after the transaction). done releases it.
func (c cachedTx) prepare(ctx context.Context, query string) (st *sql.Stmt, done func(), err error) {
	if st := c.stmt(ctx, query); st != nil {
		return st, func() {}, nil
	}
	st, err = c.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}

func (c cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.writer {
		if st := c.stmt(ctx, query); st != nil {
			return st.ExecContext(ctx, args...)
		}
	}
	return c.tx.ExecContext(ctx, query, args...)
}

// dbStmt returns query prepared on db through the cache; a query run on
// it takes any free connection of db and reuses that connection's
// prepared statement (database/sql keeps one per connection).
func (c *stmtCache) dbStmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.RLock()
	st, ok := c.stmts[query]
	c.mu.RUnlock()
	if ok {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[query]; ok {
		st.Close()
		return prev, nil
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}

// cachedDB runs single queries on the reader pool outside a transaction
// (one statement is its own snapshot) through the statement cache; the
// same rule as cachedTx: constant query strings only. Each call holds the
// account's databases while it runs (readerDB).
type cachedDB struct{ a *account }

func (c cachedDB) QueryContext(ctx context.Context, query string, args ...any) (rows *sql.Rows, err error) {
	err = c.a.withDBs(func(d *dbs) error {
		st, err := d.rst.dbStmt(ctx, d.r, query)
		if err != nil {
			return err
		}
		rows, err = st.QueryContext(ctx, args...)
		return err
	})
	return rows, err
}

func (c cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	d, err := c.a.acquireDBs()
	if err != nil {
		return errRow(ctx)
	}
	defer c.a.releaseDBs()
	st, err := d.rst.dbStmt(ctx, d.r, query)
	if err != nil {
		return d.r.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (c cachedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.a.r.ExecContext(ctx, query, args...)
}

// readCached is read (account.go) with the transaction's constant
// queries going through the statement cache: the read paths every IMAP
// command takes (mailbox rows, views, metadata, cache rows) ran their SQL
// through SQLite's parser and planner on every call, 22% of the server's
// CPU under the webmail benchmark at 50 users (docs/BENCHMARKS.md,
// "Profiles (issue 8)").
func (a *account) readCached(ctx context.Context, op string, fn func(tx cachedTx) error) error {
	return a.read(ctx, op, func(tx *sql.Tx) error { return fn(cachedTx{a: a, tx: tx}) })
}

// writeCached is writeSync (account.go) with the transaction's constant
// statements going through the writer's statement cache: a flag change
// (UID STORE) ran five statements through SQLite's parser on every call,
// 11% of the server's CPU under the caching profile at 200 users
// (docs/BENCHMARKS.md, "caching: IDLE without think time"). A statement
// met first runs unprepared and is prepared once the transaction has
// ended, when the writer's only connection is free (txStmt explains why
// never during it).
func (a *account) writeCached(ctx context.Context, op string, durable bool, fn func(tx cachedTx) error) error {
	return a.writeSync(ctx, op, durable, func(tx *sql.Tx) error { return fn(cachedTx{a: a, tx: tx, writer: true}) })
}
