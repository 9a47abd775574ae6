package imapserver

import (
	"context"
	"slices"

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
	// known holds metadata read ahead of the FETCH loop (CHANGEDSINCE,
	// \Seen): the loop reads the rest in batches.
	var known map[mailstore.UID]*mailstore.MessageMeta
	if args.ChangedSince > 0 {
		// RFC 7162 3.1.4: only messages whose MODSEQ is greater. The
		// store's modseq index answers that in proportion to the changes,
		// not to the set (UID FETCH 1:* (FLAGS) (CHANGEDSINCE n)).
		c, err := s.acct.Changes(ctx, v.mailbox.ID, args.ChangedSince)
		if err != nil {
			return wrapf(err, "changes of %q since %d", v.mailbox.Name, args.ChangedSince)
		}
		kept := make([]mailstore.UID, 0, len(c.Updated))
		known = make(map[mailstore.UID]*mailstore.MessageMeta, len(c.Updated))
		for i := range c.Updated {
			m := &c.Updated[i]
			if _, ok := slices.BinarySearch(uids, m.UID); ok {
				kept = append(kept, m.UID)
				known[m.UID] = m
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
		err := v.metas(ctx, s.acct, uids, func(_ []mailstore.UID, ms []mailstore.MessageMeta) error {
			for i := range ms {
				if !v.isExpunged(ms[i].UID) && !containsFold(ms[i].Flags, mailstore.FlagSeen) {
					unseen = append(unseen, ms[i].UID)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(unseen) > 0 {
			updated, _, err := s.acct.StoreFlags(ctx, v.mailbox.ID, unseen, mailstore.FlagsAdd, []string{mailstore.FlagSeen}, 0)
			if err != nil {
				return err
			}
			seen = make(map[mailstore.UID]bool, len(updated))
			if known == nil {
				known = make(map[mailstore.UID]*mailstore.MessageMeta, len(updated))
			}
			for i := range updated {
				v.noteFlags(&updated[i])
				seen[updated[i].UID] = true
				known[updated[i].UID] = &updated[i]
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
	}, sendFile: s.fetchSendFile()}
	return runFetch(ctx, f, s.acct, v.mailbox.ID, uids, s.fetchMsgsOf(ctx, plan, uids, known, seen))
}

// fetchMsgsOf returns the function runFetch uses to learn, per batch, what
// it needs of each message: the sequence number from the view, flags,
// MODSEQ, date and size from known or else from the store (Metas, one call
// per batch). A message gone from the store (expunged by another session,
// not reported yet) is written with its UID and NIL data. When the plan
// sends FLAGS, the flags are noted (a newer state than the view's sync
// point is not reported again). seen holds the messages whose \Seen this
// FETCH set.
func (s *session) fetchMsgsOf(ctx context.Context, plan *fetchPlan, uids []mailstore.UID, known map[mailstore.UID]*mailstore.MessageMeta, seen map[mailstore.UID]bool) func(batch []mailstore.UID) (func(uid mailstore.UID, m *fetchMsg) bool, error) {
	v := s.sel
	sendsFlags := false
	for _, it := range plan.items {
		sendsFlags = sendsFlags || it.Kind == imap.FetchFlags
	}
	// window holds the metadata read ahead, ascending: one store call per
	// metaBatch messages (a read transaction per 256-message cache batch
	// cost more than the rows).
	var window []mailstore.MessageMeta
	var windowEnd mailstore.UID // window covers UIDs of uids up to here
	wi := 0
	// Flags alone (no INTERNALDATE, RFC822.SIZE, MODSEQ, nor body items,
	// which need the size): the view's flag
	// cache can answer, filled once for a large request (flagcache.go).
	flagsOnly := !plan.needBody && !hasFetchItem(plan.items, imap.FetchInternalDate) && !hasFetchItem(plan.items, imap.FetchRFC822Size) &&
		!hasFetchItem(plan.items, imap.FetchModSeq)
	cacheTried, cached := false, false
	// pos finds uid's view index; uids come ascending, so the entry after
	// the last one found is tried first.
	next := 0
	pos := func(uid mailstore.UID) (int, bool) {
		if next < len(v.uids) && v.uids[next] == uid {
			next++
			return next - 1, true
		}
		i, ok := v.index(uid)
		if ok {
			next = i + 1
		}
		return i, ok
	}
	return func(batch []mailstore.UID) (func(uid mailstore.UID, m *fetchMsg) bool, error) {
		if flagsOnly && !cacheTried {
			cacheTried = true
			var err error
			if cached, err = v.useFlagCache(ctx, s.acct, len(uids)); err != nil {
				return nil, err
			}
		}
		need := false
		j, _ := v.index(batch[0]) // batch is ascending: walk the view once
		for _, u := range batch {
			for j < len(v.uids) && v.uids[j] < u {
				j++
			}
			if _, ok := known[u]; ok {
				continue
			}
			if !cached || j >= len(v.uids) || v.uids[j] != u {
				need = true
				break
			}
			if _, ok := v.cachedFlags(j); !ok {
				need = true
				break
			}
		}
		if need && batch[len(batch)-1] > windowEnd {
			start, _ := slices.BinarySearch(uids, batch[0])
			next := uids[start:min(start+metaBatch, len(uids))]
			ms, err := s.acct.Metas(ctx, v.mailbox.ID, next)
			if err != nil {
				return nil, err
			}
			window, windowEnd, wi = ms, next[len(next)-1], 0
		}
		lookup := func(uid mailstore.UID) *mailstore.MessageMeta {
			if m, ok := known[uid]; ok {
				return m
			}
			for wi < len(window) && window[wi].UID < uid {
				wi++
			}
			if wi < len(window) && window[wi].UID == uid {
				return &window[wi]
			}
			return nil
		}
		return func(uid mailstore.UID, m *fetchMsg) bool {
			i, ok := pos(uid)
			if !ok {
				return false
			}
			seq := mailstore.SeqNum(i + 1)
			if _, ok := known[uid]; !ok && cached {
				if fl, ok := v.cachedFlags(i); ok {
					// The client knows these flags: nothing to note.
					*m = fetchMsg{seq: seq, uid: uid, flags: fl, recent: v.trackRecent && v.isRecent(uid),
						showFlags: seen[uid]}
					return true
				}
			}
			meta := lookup(uid)
			if meta == nil {
				*m = fetchMsg{seq: seq, uid: uid, gone: true}
				return true
			}
			if sendsFlags || seen[uid] {
				v.noteFlags(meta)
			}
			*m = fetchMsg{
				seq:       seq,
				uid:       uid,
				flags:     meta.Flags,
				recent:    v.trackRecent && v.isRecent(uid),
				modSeq:    meta.ModSeq,
				date:      meta.InternalDate,
				size:      meta.Size,
				showFlags: seen[uid],
			}
			return true
		}, nil
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
