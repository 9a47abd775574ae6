package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
)

// cmdLogout ends the session (RFC 9051 6.1.3): "* BYE" first, then the
// tagged OK, then the connection is closed.
func (s *session) cmdLogout(ctx context.Context, cmd *imap.Command) error {
	s.state = stateLogout
	s.enc.Untagged().Atom("BYE").SP().Text("Logging out").CRLF()
	s.status(cmd.Tag, &statusError{"OK", "", "Logout completed."})
	return errLogout
}
