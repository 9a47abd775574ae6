package postgres

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// canonicalKeywords returns keywords in the spelling of their first use in
// the account. With create, unknown keywords are recorded with the given
// spelling (in sorted order, so that concurrent transactions lock keyword
// rows in one order); without, they are left out (no message can have
// them).
func canonicalKeywords(ctx context.Context, tx pgx.Tx, acct int64, kws []string, create bool) ([]string, error) {
	if len(kws) == 0 {
		return nil, nil
	}
	lower := make([]string, len(kws))
	for i, k := range kws {
		lower[i] = asciiLower(k)
	}
	if create {
		sorted := slices.Clone(kws)
		slices.SortFunc(sorted, func(a, b string) int { return strings.Compare(asciiLower(a), asciiLower(b)) })
		lsorted := make([]string, len(sorted))
		for i, k := range sorted {
			lsorted[i] = asciiLower(k)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO keywords (account_id, lname, name)
			SELECT $1, l, k FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(k, l, i) ORDER BY i
			ON CONFLICT DO NOTHING`, acct, sorted, lsorted); err != nil {
			return nil, err
		}
	}
	rows, err := tx.Query(ctx, `SELECT lname, name FROM keywords WHERE account_id = $1 AND lname = ANY($2)`, acct, lower)
	if err != nil {
		return nil, err
	}
	spelling := map[string]string{}
	var l, n string
	if _, err := pgx.ForEachRow(rows, []any{&l, &n}, func() error {
		spelling[l] = n
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(kws))
	for _, k := range lower {
		if c, ok := spelling[k]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// asciiLower lower-cases ASCII letters only, as PostgreSQL's lower() does
// in the C locale and for the ASCII atoms that keywords are.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// flagOnlyCommit is the first statement of a flag-only transaction (STORE
// and the implicit \Seen). Under mail_fsync = optimized it turns off
// synchronous_commit for this transaction only (SET LOCAL): COMMIT returns
// before the WAL record is flushed, so an OS crash or power loss of the
// database server can lose the last flag changes (up to about three times
// wal_writer_delay), but never leaves the database inconsistent, and a
// server crash alone loses nothing it acknowledged to us. Commits are
// flushed in WAL order, so the next synchronous commit makes it durable
// too (PostgreSQL manual, "Asynchronous Commit"). Under always nothing
// changes; under never the whole session already has it off (Open).
func (st *Store) flagOnlyCommit(ctx context.Context, tx pgx.Tx) error {
	if st.opts.Fsync == sqlstore.FsyncOptimized {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
	}
	if flagTxHook != nil {
		flagTxHook(tx)
	}
	return nil
}

// flagTxHook, when set by a test, runs in every flag-only transaction
// after flagOnlyCommit's SET.
var flagTxHook func(tx pgx.Tx)
