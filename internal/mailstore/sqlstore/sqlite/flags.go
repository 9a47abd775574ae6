package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// canonicalKeywords returns keywords in the spelling of their first use in
// the account. With create, unknown keywords are recorded with the given
// spelling; without, they are left out (no message can have them).
func canonicalKeywords(ctx context.Context, tx queryer, kws []string, create bool) ([]string, error) {
	out := make([]string, 0, len(kws))
	for _, k := range kws {
		if create {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO keyword (name) VALUES (?)`, k); err != nil {
				return nil, err
			}
		}
		var c string
		err := tx.QueryRowContext(ctx, `SELECT name FROM keyword WHERE name = ?`, k).Scan(&c)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// baseSync is the synchronous level of every connection as opened (dsn):
// FULL, or OFF under mail_fsync = never.
func (st *Store) baseSync() string {
	if st.opts.Fsync == sqlstore.FsyncNever {
		return "OFF"
	}
	return "FULL"
}

// beginWrite pins the writer connection and begins a write transaction on
// it with the durability mail_fsync gives it. In WAL mode SQLite fsyncs
// the WAL at commit with synchronous=FULL and not with NORMAL; with NORMAL
// a commit is still atomic and survives a crash of the process (it is in
// the OS page cache), and the next FULL commit's fsync of the WAL makes it
// durable too, since the WAL is written in commit order
// (https://sqlite.org/pragma.html#pragma_synchronous, wal.html).
// Under optimized the level is set before every transaction, FULL or
// NORMAL, so a connection never carries a flag transaction's NORMAL into
// a durable one. SQLite refuses to change it inside a transaction, hence
// the pinned connection. The caller closes conn after the transaction,
// and holds the account's databases (acquireDBs) around the whole of it,
// as writeSync does: beginWrite's own hold ends when it returns.
func (a *account) beginWrite(ctx context.Context, durable bool) (*sql.Conn, *sql.Tx, error) {
	d, err := a.acquireDBs()
	if err != nil {
		return nil, nil, err
	}
	defer a.releaseDBs()
	conn, err := d.w.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if a.st.opts.Fsync == sqlstore.FsyncOptimized {
		level := "FULL"
		if !durable {
			level = "NORMAL"
		}
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+level); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if writeHook != nil {
		writeHook(tx)
	}
	return conn, tx, nil
}

// writeHook, when set by a test, runs at the start of every write
// transaction.
var writeHook func(tx *sql.Tx)
