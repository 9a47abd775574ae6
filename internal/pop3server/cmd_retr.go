package pop3server

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/roost-mail/roost/internal/mailstore"
)

// cmdRetr sends a whole message (RFC 1939 section 5). With Dovecot's default
// pop3_no_flag_updates = no, a retrieved message gets \Seen when the
// session ends.
func (s *session) cmdRetr(ctx context.Context, cmd *Command) error {
	m := s.lookup(cmd.Msg)
	if m == nil {
		return nil
	}
	n, sent, err := s.sendMessage(ctx, cmd.Msg, m, -1)
	if sent {
		m.retrieved = true
		s.stats.retr++
		s.stats.retrBytes += n
	}
	return err
}

// cmdTop sends a message's header and its first lines (RFC 1939 section 7).
// TOP does not set \Seen.
func (s *session) cmdTop(ctx context.Context, cmd *Command) error {
	m := s.lookup(cmd.Msg)
	if m == nil {
		return nil
	}
	lines := int64(math.MaxInt64)
	if cmd.Lines < math.MaxInt64 {
		lines = int64(cmd.Lines)
	}
	n, sent, err := s.sendMessage(ctx, cmd.Msg, m, lines)
	if sent {
		s.stats.top++
		s.stats.topBytes += n
	}
	return err
}

// sendMessage writes the positive response and the dot-stuffed message
// (all of it when bodyLines < 0). sent reports whether a +OK went out. An
// error after +OK ends the session: the response cannot be completed.
func (s *session) sendMessage(ctx context.Context, num MsgNum, m *message, bodyLines int64) (n int64, sent bool, err error) {
	body, err := s.acct.Open(ctx, s.mbox.ID, m.uid)
	if err != nil {
		if mailstore.KindOf(err) == mailstore.KindExpunged {
			// Removed by another protocol since login (Dovecot's wording).
			s.errf("Message %d expunged.", num)
			return 0, false, nil
		}
		s.logger.Warn("pop3 opening message failed", "user", s.user, "uid", m.uid, "err", err)
		s.errf("%s", storeErrorReply(err))
		return 0, false, nil
	}
	defer body.Close()
	if bodyLines < 0 {
		s.ok(strconv.FormatInt(m.size, 10) + " octets")
	} else {
		s.ok("")
	}
	// Stream from offset 0 whatever the reader's position; never load the
	// whole message.
	n, err = writeMessage(s.w, io.NewSectionReader(body, 0, body.Size()), bodyLines)
	if err != nil {
		return n, true, fmt.Errorf("sending message uid %d: %w", m.uid, err)
	}
	return n, true, nil
}
