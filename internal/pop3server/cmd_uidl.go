package pop3server

import (
	"context"
	"strconv"
)

// maxUIDLLen is RFC 1939 section 7's limit on a unique-id.
const maxUIDLLen = 70

// cmdUIDL answers UIDL [msg] (RFC 1939 section 7).
func (s *session) cmdUIDL(ctx context.Context, cmd *Command) error {
	if cmd.HasMsg {
		if m := s.lookup(cmd.Msg); m != nil {
			s.ok(strconv.FormatUint(uint64(cmd.Msg), 10) + " " + s.uidl(m))
		}
		return nil
	}
	s.ok("")
	for i := range s.msgs {
		if m := &s.msgs[i]; !m.deleted {
			s.line(strconv.Itoa(i+1) + " " + s.uidl(m))
		}
	}
	s.end()
	return nil
}

// uidl returns the unique-id listing of m. It depends only on the UID and
// the UIDVALIDITY, which never change for a stored message, so it is
// stable across sessions (RFC 1939 section 7). Bytes outside 0x21..0x7E
// (which a misconfigured format could produce) become '_'.
func (s *session) uidl(m *message) string {
	id := []byte(s.srv.opts.UIDL(m.uid, s.mbox.UIDValidity))
	if len(id) > maxUIDLLen {
		id = id[:maxUIDLLen]
	}
	if len(id) == 0 {
		id = []byte("_")
	}
	for i, c := range id {
		if c < 0x21 || c > 0x7e {
			id[i] = '_'
		}
	}
	return string(id)
}
