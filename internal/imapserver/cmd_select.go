package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

func init() {
	commands["SELECT"] = commandSpec{states: authenticated, run: (*session).cmdSelect,
		caps: []string{"CONDSTORE", "QRESYNC"}} // RFC 7162; condstore.go
	commands["EXAMINE"] = commandSpec{states: authenticated, run: (*session).cmdSelect}
	commands["UNSELECT"] = commandSpec{states: selectedOnly, run: (*session).cmdUnselect, caps: []string{"UNSELECT"}}
	commands["CLOSE"] = commandSpec{states: selectedOnly, run: (*session).cmdClose}
}

// cmdSelect is SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3; RFC 3501 6.3.1,
// 6.3.2 for IMAP4rev1 clients).
func (s *session) cmdSelect(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.SelectCmd)
	if args.QResync != nil && !s.qresync() {
		// RFC 7162 3.2.5: "A server MUST respond with a tagged BAD
		// response if the Quick Resynchronization parameter to
		// SELECT/EXAMINE command is specified and the client hasn't
		// issued "ENABLE QRESYNC" in the current connection." Nothing
		// else happens: the selected mailbox stays selected.
		return statusBAD("", "QRESYNC is not enabled.")
	}
	if args.CondStore {
		// RFC 7162 3.1.8: SELECT/EXAMINE (CONDSTORE) enables CONDSTORE.
		// (Not enableCondStore: the untagged HIGHESTMODSEQ below is the
		// new mailbox's.)
		s.enabled["CONDSTORE"] = true
	}
	if s.sel != nil {
		// RFC 9051 6.3.2: "If the client is already in the selected state
		// ... the currently selected mailbox is closed ... without
		// expunging". The server "MUST return an untagged OK response with
		// the CLOSED response code" before the new mailbox's responses
		// (RFC 7162 3.2.11 for QRESYNC clients); unknown response codes
		// are ignored by IMAP4rev1 clients (RFC 3501 7.1).
		s.closeSelected()
		s.enc.Untagged().Atom("OK").SP().Raw("[CLOSED]").SP().Text("Previous mailbox closed.").CRLF()
	}
	// A failed SELECT leaves the session in the authenticated state (RFC
	// 9051 6.3.2: "If the mailbox does not exist ... the server returns
	// to the authenticated state"); errors map to NO [NONEXISTENT] etc.
	mbox, err := s.acct.Mailbox(ctx, args.Mailbox)
	if err != nil {
		return err
	}
	// One read transaction gives the UIDs (as runs), HIGHESTMODSEQ and
	// the counters together; no row per message is read
	// (docs/imap-scale.md).
	mv, err := s.acct.View(ctx, mbox.ID)
	if err != nil {
		return wrapf(err, "select %q", mbox.Name)
	}
	trackRecent := !s.rev2
	var recentAbove mailstore.UID
	if trackRecent {
		var last mailstore.UID
		if n := len(mv.UIDs); n > 0 {
			last = mv.UIDs[n-1].Last
		}
		// RFC 3501 6.3.2: EXAMINE must not take \Recent away from others.
		recentAbove = s.srv.recent.claim(s.user, mbox.ID, last, !args.ReadOnly)
	}
	v := newSelectedView(mbox, args.ReadOnly, mv, trackRecent, recentAbove)
	v.flagIdx, v.user = &s.srv.flagIdx, s.user
	s.sel = v
	s.state = stateSelected
	s.noteMailbox(mbox.Name)

	s.writeFlags()
	s.enc.Untagged().Number(v.count()).SP().Atom("EXISTS").CRLF()
	if trackRecent {
		s.enc.Untagged().Number(v.nRecent).SP().Atom("RECENT").CRLF()
		// RFC 3501 6.3.1 (erratum 3032): UNSEEN is sent when some message
		// is unseen. IMAP4rev2 dropped it (clients use SEARCH UNSEEN).
		if seq := v.firstUnseen(); seq > 0 {
			s.enc.Untagged().Atom("OK").SP().Raw("[UNSEEN ").Number(uint32(seq)).Raw("]").SP().
				Text("First unseen.").CRLF()
		}
	}
	s.enc.Untagged().Atom("OK").SP().Raw("[UIDVALIDITY ").Number(uint32(mbox.UIDValidity)).Raw("]").SP().
		Text("UIDs valid.").CRLF()
	s.enc.Untagged().Atom("OK").SP().Raw("[UIDNEXT ").Number(uint32(v.mailbox.UIDNext)).Raw("]").SP().
		Text("Predicted next UID.").CRLF()
	if s.condStore() {
		// RFC 7162 3.1.2.1: HIGHESTMODSEQ on every SELECT/EXAMINE once
		// CONDSTORE is enabled (never NOMODSEQ: every mailbox has
		// modseqs).
		s.writeHighestModSeq()
	}
	if s.rev2 {
		// RFC 9051 6.3.2: "The server MUST return a LIST response with the
		// mailbox name" (its canonical form and attributes).
		s.enc.Untagged().Atom("LIST").SP().BeginList()
		if mbox.SpecialUse != "" {
			s.enc.Atom(mbox.SpecialUse)
		}
		s.enc.EndList().SP().Quoted(string(mailstore.HierarchySeparator)).SP().Mailbox(mbox.Name).CRLF()
	}
	if args.QResync != nil {
		if err := s.qresyncSelect(ctx, args.QResync); err != nil {
			// The client could not learn what changed: leave it
			// unselected rather than out of sync.
			s.closeSelected()
			return err
		}
	}
	if args.ReadOnly {
		return okText("READ-ONLY", "Examine completed.")
	}
	return okText("READ-WRITE", "Select completed.")
}

// cmdUnselect is UNSELECT (RFC 3691; RFC 9051 6.4.2): back to the
// authenticated state without expunging.
func (s *session) cmdUnselect(ctx context.Context, cmd *imap.Command) error {
	s.closeSelected()
	return nil
}

// cmdClose is CLOSE (RFC 9051 6.4.1): expunge the messages marked
// \Deleted, silently ("No untagged EXPUNGE responses are sent"), unless
// the mailbox is read-only, and go back to the authenticated state. CLOSE
// has no NO result: a failed expunge is reported in an untagged NO and the
// session is unselected anyway.
func (s *session) cmdClose(ctx context.Context, cmd *imap.Command) error {
	v := s.sel
	s.closeSelected()
	if v.readOnly {
		return nil
	}
	if _, err := s.acct.Expunge(ctx, v.mailbox.ID, mailstore.ExpungeOptions{OnlyDeleted: true}); err != nil {
		if ctx.Err() != nil {
			return err
		}
		st, internal := storeReply(err)
		if internal {
			s.log.Error("imap close: expunge failed", "user", s.user, "mailbox", v.mailbox.Name, "err", err)
		}
		s.enc.Untagged().Atom("NO").SP().Text(st.text).CRLF()
	}
	return nil
}
