// Package postgres is the mail store on PostgreSQL (through pgx): every
// account in one database, shared by any number of Roost nodes. It
// implements mailstore.Store and passes the storetest conformance suite.
//
// # Schema
//
// One schema for all accounts (schema.go): accounts, mailboxes (with the
// STATUS counters kept by triggers), subscriptions, keywords, contents (the
// per-blob FETCH cache), messages, tombstones, and the default blob
// backend's blobs and blob_chunks. Migrations are numbered, recorded in
// roost_schema, and applied by Open in one transaction holding
// pg_advisory_xact_lock, so nodes starting together on an empty database
// apply them once.
//
// # UIDs and MODSEQs across nodes
//
// Every transaction that changes a mailbox's messages first locks the
// mailbox row: Append allocates with UPDATE mailboxes SET uidnext = uidnext
// + 1, highestmodseq = highestmodseq + 1 ... RETURNING, the others with
// SELECT ... FOR UPDATE before they read anything. The row lock is held
// until commit, so writers of one mailbox (on any node) commit one after
// the other in MODSEQ order: a reader that has seen HIGHESTMODSEQ h has
// seen every change with a MODSEQ up to h, and a session that resyncs with
// Changes(since) never misses one. Transactions that lock two mailboxes
// (COPY, MOVE) lock them in id order; mailbox creation, rename and delete
// first lock the account row. Deadlocks and serialization failures are
// retried.
//
// # Change delivery
//
// After each commit the store wakes this node's watchers of the user and
// queues pg_notify('roost_changes', user), which a notifier goroutine
// sends (batched) without delaying the command. One LISTEN connection per node
// (watch.go) wakes the watchers of the user named; it reconnects on its own
// and wakes every watcher after it (re)connects, since notifications sent
// meanwhile are lost. Watchers resync from the modseq log, so a lost
// notification costs latency, never correctness.
//
// # Message bodies
//
// Bodies go to a blob.Backend (Options.Blobs), by default BlobStore, in the
// same database. Append stores the body (durably) before the metadata
// commit and deletes it if the commit fails; expunged bodies are deleted
// after the commit that dropped their last reference, after
// Options.BlobDeleteDelay, so that sessions reading them can finish.
// Leftovers are swept daily by one node (advisory lock).
//
// # POP3 maildrop lock
//
// LockMaildrop holds a session-level pg_advisory_lock on a connection
// each node keeps for these locks (maildrop.go): it excludes POP3 sessions
// on every node, and PostgreSQL releases it if the node dies (its
// connection drops).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// Options configure a Store. Zero values mean the documented defaults.
type Options struct {
	// DSN is the connection string: a postgres:// URL or key=value pairs
	// (libpq syntax, as pgx accepts). Required.
	DSN string
	// MaxMessageSize is the largest message Append accepts, in octets;
	// larger ones fail with KindTooBig. 0 or less means no limit.
	MaxMessageSize int64
	// Logger receives problems that are not returned to a caller.
	// Default: slog.Default().
	Logger *slog.Logger
	// Blobs is where message bodies go. Default: BlobStore in the same
	// database.
	Blobs blob.Backend
	// MaxConns bounds the connection pool. Default 16.
	MaxConns int32
	// BlobDeleteDelay is how long an expunged message's body is kept
	// before it is deleted, so that a session reading it (FETCH, RETR)
	// can finish. Default 10 minutes; negative deletes at once.
	BlobDeleteDelay time.Duration
	// ReconnectDelay is the pause between attempts of the LISTEN
	// connection to reconnect. Default 1s.
	ReconnectDelay time.Duration
	// NoSweep disables the daily sweep of unreferenced blobs.
	NoSweep bool
	// Quota returns each user's limits; nil means no limits. Append and
	// Copy check them (mailstore.Account.Append); usage is kept whether or
	// not there are limits.
	Quota mailstore.QuotaFunc
	// Fsync is mail_fsync (sqlstore.Fsync); the zero value is optimized:
	// flag-only transactions commit with synchronous_commit = off
	// (flags.go). Never sets it off for the whole session.
	Fsync sqlstore.Fsync
}

const (
	defaultMaxConns        = 16
	defaultBlobDeleteDelay = 10 * time.Minute // far above any FETCH of one message
	defaultReconnectDelay  = time.Second
	sweepEvery             = 24 * time.Hour
	sweepMinAge            = time.Hour // never sweep a blob younger: it may be about to be committed
	notifyChannel          = "roost_changes"
	maxTxAttempts          = 5 // deadlock and serialization-failure retries
)

// Store is the PostgreSQL mail store. It is safe for concurrent use.
type Store struct {
	opts  Options
	log   *slog.Logger
	pool  *pgxpool.Pool
	blobs blob.Backend

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	bg     sync.WaitGroup // background goroutines

	mu     sync.Mutex
	closed bool
	inUse  map[string]int // open account handles by user

	watch   watcher
	ownPIDs sync.Map // uint32 -> struct{}: backend pids of the pool's connections
	drops   maildrops
}

// Open connects to the database, applies migrations and starts the
// LISTEN connection.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.DSN == "" {
		return nil, errors.New("open postgres store: no connection string")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = defaultMaxConns
	}
	if opts.BlobDeleteDelay == 0 {
		opts.BlobDeleteDelay = defaultBlobDeleteDelay
	}
	if opts.ReconnectDelay <= 0 {
		opts.ReconnectDelay = defaultReconnectDelay
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// pgx's message may quote the connection string, password included.
		return nil, errors.New("open postgres store: invalid connection string")
	}
	cfg.MaxConns = opts.MaxConns
	// A node that dies or hangs inside a transaction holds its mailbox
	// row lock until PostgreSQL notices; the store's transactions never
	// wait on a client, so one idle in a transaction for a minute is dead:
	// the server ends it and other nodes' deliveries go on. (kill -9
	// closes the socket, which the server notices at once; this covers a
	// frozen process or a lost network path.)
	if _, set := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	}
	if opts.Fsync == sqlstore.FsyncNever {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	st := &Store{opts: opts, log: opts.Logger, inUse: map[string]int{}}
	// Remember the server process ids of the pool's connections: the
	// LISTEN connection ignores the notifications this node sent itself,
	// since notify wakes local watchers directly.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		st.ownPIDs.Store(c.PgConn().PID(), struct{}{})
		return nil
	}
	cfg.BeforeClose = func(c *pgx.Conn) { st.ownPIDs.Delete(c.PgConn().PID()) }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	st.pool, st.blobs = pool, opts.Blobs
	if st.blobs == nil {
		st.blobs = NewBlobStore(pool)
	}
	st.ctx, st.cancel = context.WithCancel(context.Background())
	st.watch.init(st)
	st.drops.st = st
	st.bg.Add(2)
	go func() {
		defer st.bg.Done()
		st.watch.listen(st.ctx)
	}()
	go func() {
		defer st.bg.Done()
		st.watch.notifier(st.ctx)
	}()
	if !opts.NoSweep {
		st.bg.Add(1)
		go func() {
			defer st.bg.Done()
			st.sweepLoop(st.ctx)
		}()
	}
	return st, nil
}

// Pool returns the store's connection pool (for tools and tests that share
// the database, such as a passdb on the same database).
func (st *Store) Pool() *pgxpool.Pool { return st.pool }

// Healthy reports whether the store can reach the database and its LISTEN
// connection is up (so other nodes' changes reach this node's sessions).
func (st *Store) Healthy(ctx context.Context) error {
	if err := st.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres store: database unreachable: %w", err)
	}
	if !st.watch.connected() {
		return errors.New("postgres store: change notifications (LISTEN) not connected")
	}
	return nil
}

// Close stops the background work and closes the pool. Accounts become
// unusable.
func (st *Store) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	st.mu.Unlock()
	st.cancel()
	st.bg.Wait()
	st.watch.closeAll()
	st.drops.close()
	st.pool.Close()
	return nil
}

func (st *Store) isClosed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.closed
}

// Account opens user's account, creating it with the default mailboxes on
// first use (see mailstore.Store). Concurrent first uses, also on other
// nodes, create it once (INSERT ... ON CONFLICT in one transaction with
// the mailboxes).
func (st *Store) Account(ctx context.Context, user string) (mailstore.Account, error) {
	if user == "" {
		return nil, mailstore.Errorf(mailstore.KindInvalid, "empty user name")
	}
	if !utf8.ValidString(user) || strings.IndexByte(user, 0) >= 0 {
		// PostgreSQL text holds neither.
		return nil, mailstore.Errorf(mailstore.KindInvalid, "user name is not valid UTF-8 text")
	}
	if st.isClosed() {
		return nil, mailstore.Errorf(mailstore.KindUnavailable, "store is closed")
	}
	var id int64
	err := st.retry(ctx, "open account", func() error {
		return st.pool.QueryRow(ctx, `SELECT id FROM accounts WHERE username = $1`, user).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = st.write(ctx, "create account", func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `INSERT INTO accounts (username) VALUES ($1)
				ON CONFLICT (username) DO NOTHING RETURNING id`, user).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				// Created meanwhile by another session or node.
				return tx.QueryRow(ctx, `SELECT id FROM accounts WHERE username = $1`, user).Scan(&id)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO usage (account_id) VALUES ($1)`, id); err != nil {
				return err
			}
			for _, d := range mailstore.DefaultMailboxes {
				if _, err := createMailboxTx(ctx, tx, id, d.Name, d.SpecialUse); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (account_id, name) VALUES ($1, $2)
					ON CONFLICT DO NOTHING`, id, d.Name); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return nil, dbErr("open account", err)
	}
	st.mu.Lock()
	st.inUse[user]++
	st.mu.Unlock()
	return &account{st: st, id: id, user: user}, nil
}

// release forgets one open handle of user.
func (st *Store) release(user string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inUse[user]--; st.inUse[user] <= 0 {
		delete(st.inUse, user)
	}
}

var _ mailstore.AccountPurger = (*Store)(nil)

// PurgeAccount implements mailstore.AccountPurger: every row of the
// account goes in one transaction, its bodies after the commit (after
// BlobDeleteDelay, like expunged ones). KindInUse while a handle of this
// node is open; sessions on other nodes are not seen (callers remove the
// user from the passdb first, so that no new session or delivery starts;
// a session left on another node then fails on its next command).
func (st *Store) PurgeAccount(ctx context.Context, user string) error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return mailstore.Errorf(mailstore.KindUnavailable, "store is closed")
	}
	if st.inUse[user] > 0 {
		st.mu.Unlock()
		return mailstore.Errorf(mailstore.KindInUse, "account %s is in use", user)
	}
	st.mu.Unlock()
	var blobs []string
	err := st.write(ctx, "purge account", func(tx pgx.Tx) error {
		blobs = nil
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE username = $1 FOR UPDATE`, user).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return mailstore.Errorf(mailstore.KindNotFound, "no mail stored for %s", user)
		}
		if err != nil {
			return err
		}
		// Messages before their contents (messages.content has no
		// cascade); mailboxes, subscriptions, keywords, contents and
		// usage go with the account row.
		if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1)`, id); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM contents WHERE account_id = $1 RETURNING blob_id`, id)
		if err != nil {
			return err
		}
		if blobs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	st.deleteBlobs(blobs)
	st.notify(user)
	return nil
}

var _ mailstore.Store = (*Store)(nil)

// write runs fn in a read-committed transaction and commits, retrying the
// whole of fn (which must reset its outputs) on deadlock or serialization
// failure. Errors are mapped with dbErr using op as context.
func (st *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return st.retry(ctx, op, func() error { return pgx.BeginFunc(ctx, st.pool, fn) })
}

// read runs fn in a read-only REPEATABLE READ transaction: one consistent
// snapshot for all its queries.
func (st *Store) read(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return st.retry(ctx, op, func() error {
		return pgx.BeginTxFunc(ctx, st.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	})
}

// retry runs f until it succeeds, fails for good, or maxTxAttempts runs
// failed. It repeats f after a deadlock or serialization failure, and
// after a failure that pgconn says happened before anything reached the
// server (SafeToRetry: a pooled connection that died while idle, as after
// a PostgreSQL restart). It never repeats after a COMMIT was sent: that
// error is not SafeToRetry. Errors are mapped with dbErr.
func (st *Store) retry(ctx context.Context, op string, f func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = f()
		if err == nil || attempt == maxTxAttempts || ctx.Err() != nil || !retryable(err) && !pgconn.SafeToRetry(err) {
			break
		}
		st.log.Debug("postgres store: retrying", "op", op, "attempt", attempt, "err", err)
	}
	return dbErr(op, err)
}

// PostgreSQL error codes we act on.
const (
	codeSerialization = "40001"
	codeDeadlock      = "40P01"
	codeForeignKey    = "23503"
)

func retryable(err error) bool {
	var pe *pgconn.PgError
	// A foreign key violation happens when a COPY references a body whose
	// last copy another transaction has just expunged: retried, the COPY
	// no longer finds the source message.
	return errors.As(err, &pe) && (pe.Code == codeSerialization || pe.Code == codeDeadlock || pe.Code == codeForeignKey)
}

// dbErr maps a database error: *mailstore.Error passes through, a
// cancelled context and an unreachable database become KindUnavailable,
// anything else KindInternal, all wrapped with op.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var me *mailstore.Error
	if errors.As(err, &me) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &mailstore.Error{Kind: mailstore.KindUnavailable, Msg: "operation cancelled", Err: fmt.Errorf("%s: %w", op, err)}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case retryable(err), pe.Code[:2] == "08", pe.Code[:2] == "53", pe.Code[:2] == "57":
			// Connection exceptions, insufficient resources, operator
			// intervention (shutdown): try again later.
			return &mailstore.Error{Kind: mailstore.KindUnavailable, Msg: "mail store is busy, try again later", Err: fmt.Errorf("%s: %w", op, err)}
		}
		return mailstore.Internal(op, err)
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnError(err) {
		return &mailstore.Error{Kind: mailstore.KindUnavailable, Msg: "mail store unavailable, try again later", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return mailstore.Internal(op, err)
}

// isConnError reports whether err is a failure to reach the server.
func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// sweepLoop removes unreferenced blobs once a day; the node that takes the
// advisory lock first does it, the others skip that round.
func (st *Store) sweepLoop(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st.sweepOnce(ctx)
		t.Reset(sweepEvery)
	}
}

// sweepLock is the advisory lock of the blob sweep.
const sweepLock int64 = migrationLock + 1

// sweepOnce runs the sweep if no node ran it within sweepEvery, and
// returns how many blobs it removed and whether it ran.
func (st *Store) sweepOnce(ctx context.Context) (removed int, ran bool) {
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		st.log.Warn("postgres store: sweep", "err", err)
		return 0, false
	}
	defer conn.Release()
	var last time.Time
	var got bool
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, sweepLock).Scan(&got); err != nil || !got {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT last FROM roost_sweep`).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = tx.Exec(ctx, `INSERT INTO roost_sweep VALUES (now())`)
			return err
		}
		if err != nil || time.Since(last) < sweepEvery {
			got = false
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE roost_sweep SET last = now()`)
		return err
	})
	if err != nil {
		st.log.Warn("postgres store: sweep", "err", err)
		return 0, false
	}
	if !got {
		return 0, false
	}
	n, err := st.blobs.Sweep(ctx, sweepMinAge, func(id string) bool {
		var x int
		err := st.pool.QueryRow(ctx, `SELECT 1 FROM contents WHERE blob_id = $1`, id).Scan(&x)
		// On an error, keep the blob: leaking beats losing mail.
		return !errors.Is(err, pgx.ErrNoRows)
	})
	if err != nil {
		st.log.Warn("postgres store: sweep", "err", err)
	}
	if n > 0 {
		st.log.Info("postgres store: removed unreferenced message bodies", "count", n)
	}
	return n, true
}

// deleteBlobsNow removes bodies that no committed row references (a failed
// append's).
func (st *Store) deleteBlobsNow(ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range ids {
		if err := st.blobs.Delete(ctx, id); err != nil {
			st.log.Warn("postgres store: delete message body", "blob", id, "err", err)
		}
	}
}

// deleteBlobs removes bodies after the commit that dropped their last
// reference, after BlobDeleteDelay. Failures only leak blobs (the sweep
// finds them), so they are logged.
func (st *Store) deleteBlobs(ids []string) {
	if len(ids) == 0 {
		return
	}
	del := func() {
		if st.isClosed() {
			return // the sweep removes them later
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, id := range ids {
			if err := st.blobs.Delete(ctx, id); err != nil {
				st.log.Warn("postgres store: delete message body", "blob", id, "err", err)
			}
		}
	}
	if st.opts.BlobDeleteDelay < 0 {
		del()
		return
	}
	time.AfterFunc(st.opts.BlobDeleteDelay, del)
}
