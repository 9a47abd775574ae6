package imapserver

import (
	"context"
	"fmt"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// specialUses maps the special-use attributes CREATE accepts (RFC 6154 2)
// in any case to their canonical spelling.
var specialUses = map[string]string{}

func init() {
	for _, a := range []string{mailstore.SpecialAll, mailstore.SpecialArchive, mailstore.SpecialDrafts,
		mailstore.SpecialFlagged, mailstore.SpecialJunk, mailstore.SpecialSent, mailstore.SpecialTrash} {
		specialUses[strings.ToUpper(a)] = a
	}
}

// cmdCreate creates a mailbox (RFC 9051 6.3.4), with a special-use
// attribute when given USE (RFC 6154 3). Missing parents are created too.
func (s *session) cmdCreate(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.CreateCmd)
	name := args.Mailbox
	// RFC 9051 6.3.4: "If the mailbox name is suffixed with the server's
	// hierarchy separator character ..., this is a declaration that the
	// client intends to create mailbox names under this name in the
	// hierarchy. Servers ... SHOULD ... create the mailbox without the
	// separator" (Dovecot does the same). Only one: "a//" stays invalid.
	name = strings.TrimSuffix(name, string(mailstore.HierarchySeparator))
	use := ""
	switch len(args.SpecialUse) {
	case 0:
	case 1:
		var ok bool
		if use, ok = specialUses[strings.ToUpper(args.SpecialUse[0])]; !ok {
			// RFC 6154 3: "the server MUST reject the CREATE ... with the
			// USEATTR response code" for an attribute it does not support.
			return statusNO("USEATTR", "Unsupported special-use attribute.")
		}
	default:
		return statusNO("USEATTR", "Only one special-use attribute per mailbox is supported.")
	}
	if mailstore.IsInbox(name) {
		return statusNO("ALREADYEXISTS", "Mailbox already exists.")
	}
	if err := s.checkMailboxLimit(ctx, name); err != nil {
		return err
	}
	if _, err := s.acct.CreateMailbox(ctx, name, use); err != nil {
		return wrapf(err, "create mailbox %q", name)
	}
	return nil
}

// checkMailboxLimit refuses a CREATE that would take the account over
// MaxMailboxes, counting the missing parents CREATE adds. Two sessions
// creating at once may overshoot by a mailbox each: the cap bounds
// resource use, it is not an exact quota.
func (s *session) checkMailboxLimit(ctx context.Context, name string) error {
	limit := s.srv.opts.MaxMailboxes
	if limit < 0 {
		return nil
	}
	mbs, err := s.acct.Mailboxes(ctx)
	if err != nil {
		return wrapf(err, "list mailboxes")
	}
	have := make(map[string]bool, len(mbs))
	for _, mb := range mbs {
		have[mb.Name] = true
	}
	added := 0
	for i := range len(name) + 1 {
		if i == len(name) || name[i] == mailstore.HierarchySeparator {
			if !have[name[:i]] {
				added++
			}
		}
	}
	if added > 0 && len(mbs)+added > limit {
		s.log.Info("imap create refused: mailbox limit", "user", s.user, "limit", limit)
		return statusNO("LIMIT", fmt.Sprintf("Too many mailboxes (limit %d).", limit))
	}
	return nil
}
