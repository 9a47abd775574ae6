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
	mu        sync.RWMutex
	stmts     map[string]*sql.Stmt
	preparing map[string]bool // queries being prepared in the background
	bg        sync.WaitGroup  // those background prepares (tests wait on it)
}

// txStmt returns query as a statement of tx (a transaction of db) when the
// cache already holds it, and nil otherwise: the caller then runs the query
// on tx unprepared, and the cache prepares it in the background for the
// next call.
//
// It must never prepare on db while the caller holds tx: preparing on db
// waits for a free connection of the pool, and when every connection is
// held by a transaction doing the same, none is ever freed (200 sessions
// woken by one delivery deadlocked that way).
func (c *stmtCache) txStmt(ctx context.Context, db *sql.DB, tx *sql.Tx, query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.stmts[query]
	c.mu.RUnlock()
	if ok {
		return tx.StmtContext(ctx, st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.preparing[query] {
		return nil
	}
	if c.preparing == nil {
		c.preparing = map[string]bool{}
	}
	c.preparing[query] = true
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		// Holds no connection while it waits for one. An error (the
		// account closed meanwhile) leaves the query uncached.
		c.dbStmt(context.Background(), db, query)
		c.mu.Lock()
		delete(c.preparing, query)
		c.mu.Unlock()
	}()
	return nil
}

// close waits for background prepares (so that none opens a connection,
// and with it the database's WAL files, after the account closed) and
// closes the cached statements; the cache stays usable.
func (c *stmtCache) close() {
	c.bg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// cachedTx is a read transaction whose queries go through the account's
// statement cache. Use it only where every query string is a constant:
// each distinct string stays prepared on every reader connection.
type cachedTx struct {
	a  *account
	tx *sql.Tx
}

func (c cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.a.rst.txStmt(ctx, c.a.r, c.tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, query, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.a.rst.txStmt(ctx, c.a.r, c.tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

func (c cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
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
// same rule as cachedTx: constant query strings only.
type cachedDB struct{ a *account }

func (c cachedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.a.rst.dbStmt(ctx, c.a.r, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.a.rst.dbStmt(ctx, c.a.r, query)
	if err != nil {
		return c.a.r.QueryRowContext(ctx, query, args...)
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
	return a.read(ctx, op, func(tx *sql.Tx) error { return fn(cachedTx{a, tx}) })
}
