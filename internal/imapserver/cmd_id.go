package imapserver

import (
	"context"
	"sort"

	"github.com/roost-mail/roost/internal/imap"
)

// maxIDLog bounds what of a client's ID parameters goes to the log.
const maxIDLog = 30

// cmdID answers ID (RFC 2971). The client's parameters are logged at debug
// level (they name the client software, useful when debugging); the
// server tells nothing about itself ("* ID NIL", RFC 2971 3.2 allows it):
// the name and version of the server software help attackers more than
// clients.
func (s *session) cmdID(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.IDCmd)
	if len(args.Params) > 0 {
		keys := make([]string, 0, len(args.Params))
		for k := range args.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]any, 0, 2*min(len(keys), maxIDLog))
		for _, k := range keys[:min(len(keys), maxIDLog)] {
			attrs = append(attrs, "id_"+k, args.Params[k])
		}
		s.log.Debug("imap client id", attrs...)
	}
	s.enc.Untagged().Atom("ID").SP().NIL().CRLF()
	return nil
}
