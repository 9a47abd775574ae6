package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// cmdNamespace answers NAMESPACE (RFC 2342, RFC 9051 6.3.10): one personal
// namespace with an empty prefix; no other users' or shared namespaces.
func (s *session) cmdNamespace(ctx context.Context, cmd *imap.Command) error {
	s.enc.Untagged().Atom("NAMESPACE").SP().BeginList().BeginList().
		Quoted("").SP().Quoted(string(mailstore.HierarchySeparator)).
		EndList().EndList().SP().NIL().SP().NIL().CRLF()
	return nil
}
