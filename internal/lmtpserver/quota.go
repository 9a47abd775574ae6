package lmtpserver

import (
	"context"
	"fmt"

	"github.com/emersion/go-smtp"
)

// checkQuota is the RCPT-time quota check (Options.RcptCheckQuota): the
// quota reply if user's account is already full (mailstore.Quota.Full), so
// that not even an empty message fits. A store error is not a refusal: the
// recipient is accepted and the save after DATA decides.
func (s *Server) checkQuota(ctx context.Context, to, user string) *smtp.SMTPError {
	acct, err := s.opts.Store.Account(ctx, user)
	if err != nil {
		s.logger.Warn("lmtp quota check: open account", "user", user, "err", err)
		return nil
	}
	defer acct.Close()
	q, u, err := acct.Quota(ctx)
	if err != nil {
		s.logger.Warn("lmtp quota check", "user", user, "err", err)
		return nil
	}
	if !q.Full(u) {
		return nil
	}
	return quotaReply(s.opts.QuotaFullTempfail, fmt.Sprintf("<%s> ", to))
}
