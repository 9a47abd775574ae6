package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
)

func init() {
	commands["CHECK"] = commandSpec{states: selectedOnly, run: (*session).cmdCheck}
}

// cmdCheck is CHECK (RFC 3501 6.4.1; removed from IMAP4rev2, RFC 9051
// appendix E, but still sent by IMAP4rev1 clients). Every change is
// durable when its command completes, so there is no checkpoint to make;
// like NOOP it lets the loop's sync point report pending changes.
func (s *session) cmdCheck(ctx context.Context, cmd *imap.Command) error { return nil }
