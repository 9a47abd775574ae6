package admin

import (
	"context"

	"github.com/roost-mail/roost/internal/mailstore"
)

// QuotaResult is the result of quota.get and quota.recalc: the account's
// usage and limits, in octets and messages; a limit of 0 means none.
type QuotaResult struct {
	User          string `json:"user"`
	StorageUsed   int64  `json:"storage_used"`
	StorageLimit  int64  `json:"storage_limit"`
	MessagesUsed  int64  `json:"messages_used"`
	MessagesLimit int64  `json:"messages_limit"`
	// Recalc only: the counter before it was recounted, so that a repair
	// shows what it changed.
	Before *mailstore.Usage `json:"before,omitempty"`
}

// quotaCmd runs quota.get (the counter and the limits, as IMAP GETQUOTA
// sees them) and quota.recalc (recount the messages and fix the counter,
// mailstore.Account.RecalcUsage).
func (s *Service) quotaCmd(ctx context.Context, acct mailstore.Account, req Request) (any, error) {
	q, u, err := acct.Quota(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	res := QuotaResult{User: acct.User(), StorageLimit: q.Storage, MessagesLimit: q.Messages}
	if req.Cmd == "quota.recalc" {
		before := u
		if u, err = acct.RecalcUsage(ctx); err != nil {
			return nil, storeError(err)
		}
		res.Before = &before
	}
	res.StorageUsed, res.MessagesUsed = u.Storage, u.Messages
	return res, nil
}
