package imapserver

import (
	"context"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

func init() {
	commands["FETCH"] = commandSpec{states: selectedOnly, flags: flagUsesSeqs, run: (*session).cmdFetch}
	commands["UID FETCH"] = commandSpec{states: selectedOnly, flags: flagUID, run: (*session).cmdFetch, caps: []string{"BINARY"}}
}

// cmdFetch is FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9; BINARY RFC 3516;
// CHANGEDSINCE RFC 7162 3.1.4).
//
// Messages expunged by another session but still in the client's view
// (RFC 9051 7.5.1) are answered like Dovecot does: what the view knows
// (FLAGS, UID, INTERNALDATE, RFC822.SIZE, MODSEQ) is sent, items that need
// the message's data are NIL, and the command ends
// "OK [EXPUNGEISSUED] Some messages were already expunged.".
func (s *session) cmdFetch(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.FetchCmd)
	if args.Vanished && !s.qresync() {
		// RFC 7162 3.2.6: VANISHED is valid only after ENABLE QRESYNC.
		return statusBAD("", "VANISHED needs QRESYNC, which is not enabled.")
	}
	if !cmd.UID && !s.sel.seqSetValid(args.Set) {
		return statusBAD("", "Invalid messageset.")
	}
	items := args.Items
	if args.ChangedSince > 0 || hasFetchItem(items, imap.FetchModSeq) {
		// RFC 7162 3.1: FETCH MODSEQ and CHANGEDSINCE enable CONDSTORE.
		s.enableCondStore()
	}
	if args.ChangedSince > 0 && !hasFetchItem(items, imap.FetchModSeq) {
		// RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ.
		items = append(items[:len(items):len(items)], imap.FetchItem{Kind: imap.FetchModSeq})
	}
	plan, err := newFetchPlan(items, cmd.UID)
	if err != nil {
		return err
	}
	v := s.sel
	if args.Vanished {
		// RFC 7162 3.2.6: first "* VANISHED (EARLIER)" with the UIDs of
		// the set expunged after CHANGEDSINCE, then the FETCH responses.
		gone, err := s.vanishedSince(ctx, args.ChangedSince, &args.Set)
		if err != nil {
			return err
		}
		s.writeVanished(true, gone)
	}
	uids := v.resolve(args.Set, cmd.UID)
	if args.ChangedSince > 0 {
		kept := uids[:0]
		for _, u := range uids {
			if i, ok := v.index(u); ok && v.msgs[i].modSeq > args.ChangedSince {
				kept = append(kept, u)
			}
		}
		uids = kept
	}

	// RFC 9051 6.4.5: BODY[...] (not PEEK), BINARY[...], RFC822 and
	// RFC822.TEXT set \Seen; "if this causes the flags to change, they
	// SHOULD be included as part of the FETCH responses". Set it for the
	// whole set in one store call before writing anything.
	var seen map[mailstore.UID]bool
	if plan.setsSeen && !v.readOnly {
		var unseen []mailstore.UID
		for _, u := range uids {
			i, ok := v.index(u)
			if !ok || v.msgs[i].state&entryExpunged != 0 {
				continue
			}
			if !containsFold(v.flagSets[v.msgs[i].flags], mailstore.FlagSeen) {
				unseen = append(unseen, u)
			}
		}
		if len(unseen) > 0 {
			updated, _, err := s.acct.StoreFlags(ctx, v.mailbox.ID, unseen, mailstore.FlagsAdd, []string{mailstore.FlagSeen}, 0)
			if err != nil {
				return err
			}
			seen = make(map[mailstore.UID]bool, len(updated))
			for i := range updated {
				v.noteFlags(&updated[i])
				seen[updated[i].UID] = true
			}
			if s.condStore() {
				// RFC 7162 3.1: a FETCH "that implicitly set the \Seen
				// flag" answers with UID and MODSEQ too.
				if !hasFetchItem(items, imap.FetchModSeq) {
					items = append(items[:len(items):len(items)], imap.FetchItem{Kind: imap.FetchModSeq})
				}
				if !cmd.UID && !hasFetchItem(items, imap.FetchUID) {
					items = append(items[:len(items):len(items)], imap.FetchItem{Kind: imap.FetchUID})
				}
				if plan, err = newFetchPlan(items, cmd.UID); err != nil {
					return err
				}
			}
		}
	}

	f := &fetcher{plan: plan, enc: s.enc, open: func(uid mailstore.UID) (mailstore.Body, error) {
		return s.acct.Open(ctx, v.mailbox.ID, uid)
	}}
	return runFetch(ctx, f, s.acct, v.mailbox.ID, uids, v.fetchMsgOf(seen))
}

// fetchMsgOf returns the function runFetch uses to learn what the view
// knows of a message; seen holds the messages whose \Seen this FETCH set.
func (v *selected) fetchMsgOf(seen map[mailstore.UID]bool) func(uid mailstore.UID, m *fetchMsg) bool {
	next := 0 // uids come ascending: try the entry after the last one first
	return func(uid mailstore.UID, m *fetchMsg) bool {
		i := next
		if i >= len(v.msgs) || v.msgs[i].uid != uid {
			var ok bool
			if i, ok = v.index(uid); !ok {
				return false
			}
		}
		next = i + 1
		e := &v.msgs[i]
		*m = fetchMsg{
			seq:       mailstore.SeqNum(i + 1),
			uid:       e.uid,
			flags:     v.entryFlags(e),
			modSeq:    e.modSeq,
			date:      time.Unix(e.date, 0).In(v.zone(e.tz)),
			size:      e.size,
			showFlags: seen[uid],
		}
		return true
	}
}

func hasFetchItem(items []imap.FetchItem, k imap.FetchItemKind) bool {
	for _, it := range items {
		if it.Kind == k {
			return true
		}
	}
	return false
}
