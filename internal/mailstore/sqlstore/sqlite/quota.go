package sqlite

import (
	"context"
	"database/sql"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// Quota usage lives in the account row (usage_storage, usage_messages),
// kept by the message_usage_* triggers (schema migration 4) in the same
// transaction as every message insert and delete. Append and Copy read it
// in their write transaction (BEGIN IMMEDIATE: one writer per account, also
// across processes), so the check and the update cannot interleave with
// another delivery's.

// limits returns the user's quota limits from Options.Quota.
func (a *account) limits() mailstore.Quota {
	if a.st.opts.Quota == nil {
		return mailstore.Quota{}
	}
	return a.st.opts.Quota(a.user)
}

// usage reads the usage counter.
func usage(ctx context.Context, q queryer) (mailstore.Usage, error) {
	var u mailstore.Usage
	err := q.QueryRowContext(ctx, `SELECT usage_storage, usage_messages FROM account WHERE id = 1`).Scan(&u.Storage, &u.Messages)
	return u, err
}

// checkQuotaTx fails with KindOverQuota if adding storage octets in
// messages messages would go over the limits q (read with a.limits before
// the transaction began: the QuotaFunc may do I/O). It must run in the
// write transaction that then adds them.
func checkQuotaTx(ctx context.Context, tx *sql.Tx, q mailstore.Quota, storage, messages int64) error {
	return sqlstore.CheckQuota(q, storage, messages, func() (mailstore.Usage, error) { return usage(ctx, tx) })
}

func (a *account) Quota(ctx context.Context) (mailstore.Quota, mailstore.Usage, error) {
	q := a.limits()
	u, err := usage(ctx, a.r)
	if err != nil {
		return q, mailstore.Usage{}, dbErr("quota", err)
	}
	return q, u, nil
}

func (a *account) RecalcUsage(ctx context.Context) (mailstore.Usage, error) {
	var u mailstore.Usage
	err := a.write(ctx, "recalculate quota", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0), COUNT(*) FROM message`).Scan(&u.Storage, &u.Messages); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE account SET usage_storage = ?, usage_messages = ? WHERE id = 1`, u.Storage, u.Messages)
		return err
	})
	if err != nil {
		return mailstore.Usage{}, err
	}
	return u, nil
}
