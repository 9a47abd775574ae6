package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
)

// maildropLockBase is added to the account id to form the POP3 maildrop
// lock's advisory lock key (migrationLock and sweepLock are far apart).
const maildropLockBase int64 = 1 << 40

// maildrops holds this node's POP3 maildrop locks (RFC 1939 section 8)
// as session-level advisory locks on one connection of its own, outside
// the pool: the locks of every node's sessions exclude each other, and
// PostgreSQL frees a node's locks when its connection drops (the node
// died). One connection per node, not per POP3 session, so that many
// sessions do not use up max_connections. Session-level advisory locks
// are reentrant within a connection, so sessions of this node are
// excluded by the held map first.
//
// If the connection breaks while locks are held (the database restarted),
// the LISTEN connection's reconnect (refresh), or else the next lock or
// release, reconnects and takes the held locks again; one that another
// node took meanwhile is logged: both sessions then run, as with
// Dovecot's default of no POP3 lock at all.
type maildrops struct {
	st   *Store
	mu   sync.Mutex // serializes use of conn, which is not safe for concurrent use
	conn *pgx.Conn
	held map[int64]string // account id -> user, for the locks this node holds
}

// connect makes sure m.conn is usable, re-taking held locks on a new
// connection. m.mu is held.
func (m *maildrops) connect(ctx context.Context) error {
	if m.conn != nil && !m.conn.IsClosed() {
		return nil
	}
	if m.conn != nil {
		m.conn.Close(context.Background())
		m.conn = nil
	}
	conn, err := pgx.ConnectConfig(ctx, m.st.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	m.conn = conn
	for id, user := range m.held {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, maildropLockBase+id).Scan(&got); err != nil {
			conn.Close(context.Background())
			m.conn = nil
			return err
		}
		if !got {
			m.st.log.Warn("postgres store: POP3 maildrop lock taken by another node while the database connection was down",
				"user", user)
		}
	}
	return nil
}

// lock takes the maildrop lock of account id; see mailstore.Account.
func (m *maildrops) lock(ctx context.Context, id int64, user string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, mine := m.held[id]; mine {
		return nil, mailstore.Errorf(mailstore.KindInUse, "maildrop is locked by another session")
	}
	var got bool
	err := m.st.retry(ctx, "lock maildrop", func() error {
		if err := m.connect(ctx); err != nil {
			return err
		}
		err := m.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, maildropLockBase+id).Scan(&got)
		if err != nil && m.conn.IsClosed() {
			m.conn = nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !got {
		return nil, mailstore.Errorf(mailstore.KindInUse, "maildrop is locked by another session")
	}
	if m.held == nil {
		m.held = map[int64]string{}
	}
	m.held[id] = user
	var once sync.Once
	return func() { once.Do(func() { m.unlock(id) }) }, nil
}

// unlock releases the lock of account id. A failure is logged: the lock
// then stays until the connection is replaced or closed.
func (m *maildrops) unlock(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, id)
	if m.conn == nil || m.conn.IsClosed() {
		return // the server freed it with the connection
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, maildropLockBase+id); err != nil {
		m.st.log.Warn("postgres store: unlock maildrop", "err", err)
		// Drop the connection: that frees every lock on it; the others
		// are taken again on the next connection.
		m.conn.Close(ctx)
		m.conn = nil
	}
}

// refresh checks the lock connection while locks are held and, if it
// broke, reconnects and takes the held locks again. The LISTEN connection
// calls it after every reconnect (which follows a database restart), so
// that the locks come back within about a second, not at the next lock
// or release.
func (m *maildrops) refresh(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.held) == 0 {
		return
	}
	if m.conn != nil && !m.conn.IsClosed() {
		if err := m.conn.Ping(ctx); err == nil {
			return
		}
		m.conn.Close(context.Background())
		m.conn = nil
	}
	if err := m.connect(ctx); err != nil {
		m.st.log.Warn("postgres store: take POP3 maildrop locks again", "err", err)
	}
}

// close closes the lock connection, freeing this node's locks.
func (m *maildrops) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.Close(context.Background())
		m.conn = nil
	}
}
