package pop3server

import (
	"context"
	"strconv"
)

// lookup returns message n of the snapshot, or answers -ERR and returns nil
// when n does not exist or is marked deleted (RFC 1939 section 5: "may
// not refer to a message marked as deleted"). Wording as Dovecot's.
func (s *session) lookup(n MsgNum) *message {
	if n == 0 || uint64(n) > uint64(len(s.msgs)) {
		s.errf("There's no message %d.", n)
		return nil
	}
	m := &s.msgs[n-1]
	if m.deleted {
		s.errf("Message is deleted.")
		return nil
	}
	return m
}

// cmdStat answers STAT (RFC 1939 section 5): the number and total octets of
// the messages not marked deleted. Sizes are exact stored octet counts.
func (s *session) cmdStat(ctx context.Context, cmd *Command) error {
	count, size := 0, int64(0)
	for _, m := range s.msgs {
		if !m.deleted {
			count++
			size += m.size
		}
	}
	s.ok(strconv.Itoa(count) + " " + strconv.FormatInt(size, 10))
	return nil
}

// cmdList answers LIST [msg] (RFC 1939 section 5).
func (s *session) cmdList(ctx context.Context, cmd *Command) error {
	if cmd.HasMsg {
		if m := s.lookup(cmd.Msg); m != nil {
			s.ok(strconv.FormatUint(uint64(cmd.Msg), 10) + " " + strconv.FormatInt(m.size, 10))
		}
		return nil
	}
	count := 0
	for _, m := range s.msgs {
		if !m.deleted {
			count++
		}
	}
	s.ok(strconv.Itoa(count) + " messages:")
	for i, m := range s.msgs {
		if !m.deleted {
			s.line(strconv.Itoa(i+1) + " " + strconv.FormatInt(m.size, 10))
		}
	}
	s.end()
	return nil
}
