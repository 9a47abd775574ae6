package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// canonicalKeywords returns keywords in the spelling of their first use in
// the account. With create, unknown keywords are recorded with the given
// spelling; without, they are left out (no message can have them).
func canonicalKeywords(ctx context.Context, tx *sql.Tx, kws []string, create bool) ([]string, error) {
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
