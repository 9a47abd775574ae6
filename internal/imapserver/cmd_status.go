package imapserver

import (
	"context"
	"slices"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// statusItems are the STATUS data items we answer (RFC 9051 6.3.11, RFC
// 8438 SIZE, RFC 7889 APPENDLIMIT, RFC 7162 3.1.7 HIGHESTMODSEQ, RFC 9208
// 4.1.4 DELETED-STORAGE).
var statusItems = map[string]bool{
	"MESSAGES": true, "UIDNEXT": true, "UIDVALIDITY": true, "UNSEEN": true,
	"DELETED": true, "SIZE": true, "RECENT": true, "APPENDLIMIT": true,
	"HIGHESTMODSEQ": true, "DELETED-STORAGE": true,
}

// checkStatusItems returns a BAD reply for an item we do not answer.
func checkStatusItems(items []string) error {
	for _, it := range items {
		if !statusItems[it] {
			return statusBAD("", "Unknown STATUS item "+it+".")
		}
	}
	return nil
}

// cmdStatus answers STATUS (RFC 9051 6.3.11). It may name the selected
// mailbox; the counts are then the store's, which may be ahead of what the
// session has told the client.
func (s *session) cmdStatus(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.StatusCmd)
	if err := checkStatusItems(args.Items); err != nil {
		return err
	}
	if slices.Contains(args.Items, "HIGHESTMODSEQ") {
		// RFC 7162 3.1: STATUS HIGHESTMODSEQ enables CONDSTORE.
		s.enableCondStore()
	}
	st, err := s.acct.Status(ctx, args.Mailbox)
	if err != nil {
		return wrapf(err, "status %q", args.Mailbox)
	}
	s.writeStatus(st, args.Items, s.statusExtra(ctx, st, args.Items))
	return nil
}

// statusExtra holds the STATUS values that cost a read of the mailbox's
// messages; they are computed only when asked for.
type statusExtra struct {
	recent         uint32 // RECENT
	deletedStorage int64  // DELETED-STORAGE (quota.go)
}

func (s *session) statusExtra(ctx context.Context, st mailstore.Status, items []string) statusExtra {
	return statusExtra{recent: s.recentCount(ctx, st, items), deletedStorage: s.deletedStorage(ctx, st, items)}
}

// recentCount returns the RECENT value for a STATUS that asks for it: the
// messages no session of this server has taken as \Recent yet (they would
// be \Recent to the next SELECT, RFC 3501 2.3.2 and selected.go's
// recentTracker). It costs a read of the mailbox's message list, so only
// when asked. Errors are logged and count as 0: RECENT is advisory.
func (s *session) recentCount(ctx context.Context, st mailstore.Status, items []string) uint32 {
	if !slices.Contains(items, "RECENT") || st.Messages == 0 {
		return 0
	}
	claimed := s.srv.recent.claim(s.user, st.ID, 0, false)
	if st.UIDNext-1 <= claimed {
		return 0
	}
	msgs, err := s.acct.Messages(ctx, st.ID)
	if err != nil {
		s.log.Warn("imap STATUS RECENT: reading messages failed", "user", s.user, "mailbox", st.Name, "err", err)
		return 0
	}
	var n uint32
	for _, m := range msgs {
		if m.UID > claimed {
			n++
		}
	}
	return n
}

// writeStatus writes "* STATUS name (item value ...)" with the items in
// the order asked. Also used by LIST-STATUS (RFC 5819).
func (s *session) writeStatus(st mailstore.Status, items []string, extra statusExtra) {
	s.enc.Untagged().Atom("STATUS").SP().Mailbox(st.Name).SP().BeginList()
	for i, it := range items {
		if i > 0 {
			s.enc.SP()
		}
		s.enc.Atom(it).SP()
		switch it {
		case "MESSAGES":
			s.enc.Number(st.Messages)
		case "UIDNEXT":
			s.enc.Number(uint32(st.UIDNext))
		case "UIDVALIDITY":
			s.enc.Number(uint32(st.UIDValidity))
		case "UNSEEN":
			s.enc.Number(st.Unseen)
		case "DELETED":
			s.enc.Number(st.Deleted)
		case "SIZE":
			s.enc.Number64(uint64(st.Size))
		case "RECENT":
			// RFC 9051 removed RECENT; IMAP4rev1 clients still ask.
			s.enc.Number(extra.recent)
		case "HIGHESTMODSEQ":
			s.enc.Number64(uint64(st.HighestModSeq))
		case "DELETED-STORAGE":
			s.enc.Number64(uint64(extra.deletedStorage))
		case "APPENDLIMIT":
			// RFC 7889 3: NIL when there is no limit.
			if l := s.srv.opts.AppendLimit; l > 0 {
				s.enc.Number64(uint64(l))
			} else {
				s.enc.NIL()
			}
		}
	}
	s.enc.EndList().CRLF()
}
