package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// Quota usage lives in the usage row of the account, kept by the
// messages_usage_* triggers in the same transaction as every message insert
// and delete. Append and Copy lock that row (SELECT ... FOR UPDATE) in
// their write transaction before checking it, so the check and the update
// cannot interleave with another delivery's, on any node: quota is exact
// across nodes.

// limits returns the user's quota limits from Options.Quota.
func (a *account) limits() mailstore.Quota {
	if a.st.opts.Quota == nil {
		return mailstore.Quota{}
	}
	return a.st.opts.Quota(a.user)
}

// checkQuotaTx fails with KindOverQuota if adding storage octets in
// messages messages would go over the limits q. It must run in the write
// transaction that then adds them, after the mailbox rows are locked (lock
// order: account, mailboxes, usage). q is read before the transaction
// (the QuotaFunc may read the users file).
func checkQuotaTx(ctx context.Context, tx pgx.Tx, acct int64, q mailstore.Quota, storage, messages int64) error {
	return sqlstore.CheckQuota(q, storage, messages, func() (u mailstore.Usage, err error) {
		err = tx.QueryRow(ctx, `SELECT storage, messages FROM usage WHERE account_id = $1 FOR UPDATE`, acct).Scan(&u.Storage, &u.Messages)
		return u, err
	})
}

func (a *account) Quota(ctx context.Context) (mailstore.Quota, mailstore.Usage, error) {
	q := a.limits()
	var u mailstore.Usage
	err := a.st.retry(ctx, "quota", func() error {
		return a.st.pool.QueryRow(ctx, `SELECT storage, messages FROM usage WHERE account_id = $1`, a.id).Scan(&u.Storage, &u.Messages)
	})
	if err != nil {
		return q, mailstore.Usage{}, err
	}
	return q, u, nil
}

func (a *account) RecalcUsage(ctx context.Context) (mailstore.Usage, error) {
	var u mailstore.Usage
	err := a.write(ctx, "recalculate quota", func(tx pgx.Tx) error {
		// Lock the counter first: deliveries wait, so the count and the
		// stored value agree.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM usage WHERE account_id = $1 FOR UPDATE`, a.id); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(m.size), 0), count(*) FROM messages m
			JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = $1`, a.id).Scan(&u.Storage, &u.Messages); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE usage SET storage = $2, messages = $3 WHERE account_id = $1`, a.id, u.Storage, u.Messages)
		return err
	})
	if err != nil {
		return mailstore.Usage{}, err
	}
	return u, nil
}
