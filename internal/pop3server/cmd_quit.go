package pop3server

import (
	"context"

	"github.com/roost-mail/roost/internal/mailstore"
)

// cmdQuit ends the session. In the TRANSACTION state it enters the UPDATE
// state (RFC 1939 section 6): messages marked deleted are removed, then the
// session ends whatever the outcome.
func (s *session) cmdQuit(ctx context.Context, cmd *Command) error {
	if s.state == stateAuthorization {
		s.ok("Logging out")
		return errClose
	}
	// The UPDATE work runs to completion even if the server starts
	// shutting down: the client asked for it and will be told the result.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), updateTimeout)
	defer cancel()
	var deleted []mailstore.UID
	var delSize int64
	for _, m := range s.msgs {
		if m.deleted {
			deleted = append(deleted, m.uid)
			delSize += m.size
		}
	}
	// Never call Expunge with nil UIDs: that means every message.
	if len(deleted) > 0 {
		if _, err := s.acct.Expunge(uctx, s.mbox.ID, mailstore.ExpungeOptions{UIDs: deleted}); err != nil {
			s.logger.Warn("pop3 expunge failed", "user", s.user, "err", err)
			// RFC 1939 section 6: "-ERR some deleted messages not removed".
			s.errf("%s", storeErrorReply(err))
			return errClose
		}
	}
	s.quit = true
	s.stats.deleted, s.stats.delSize = len(deleted), delSize
	if err := s.saveSeen(uctx, true); err != nil {
		s.logger.Warn("pop3 saving \\Seen flags failed", "user", s.user, "err", err)
	}
	if len(deleted) == 0 {
		s.ok("Logging out.")
	} else {
		s.ok("Logging out, messages deleted.")
	}
	return errClose
}

// saveSeen sets \Seen on the messages RETR sent that were not seen yet.
// After a successful UPDATE (expunged true) the deleted ones are gone and
// are skipped; otherwise deletion marks are void and they are included.
func (s *session) saveSeen(ctx context.Context, expunged bool) error {
	var uids []mailstore.UID
	for _, m := range s.msgs {
		if m.retrieved && !m.seen && !(expunged && m.deleted) {
			uids = append(uids, m.uid)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	if _, _, err := s.acct.StoreFlags(ctx, s.mbox.ID, uids, mailstore.FlagsAdd, []string{mailstore.FlagSeen}, 0); err != nil {
		return err
	}
	for i := range s.msgs {
		if s.msgs[i].retrieved {
			s.msgs[i].seen = true
		}
	}
	return nil
}
