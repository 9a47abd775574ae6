package imapserver

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// This file evaluates SEARCH keys (RFC 9051 6.4.4, RFC 3501 6.4.4 for
// RECENT/NEW/OLD, RFC 5032 OLDER/YOUNGER, RFC 5182 "$", RFC 7162 MODSEQ)
// over the selected view. Keys on flags, sizes, dates, sequence numbers and
// UIDs are answered from the view alone; only messages still undecided
// after that are read (header, then body parts), in batches.
//
// Semantics chosen (and why):
//   - SINCE/BEFORE/ON compare the date of the internal date in its own
//     time zone (the zone it was delivered or APPENDed with), disregarding
//     the time, as RFC 9051 says ("disregarding time and timezone").
//   - SENTSINCE/SENTBEFORE/SENTON compare the date written in the Date:
//     field, in the field's own zone. A message without a parseable Date:
//     is taken as sent on its internal date, as Dovecot does.
//   - OLDER n: the internal date is more than n seconds ago; YOUNGER n: at
//     most n seconds ago (RFC 5032).
//   - RECENT/NEW/OLD use the view's \Recent (IMAP4rev1); without it (rev2)
//     RECENT and NEW match nothing and OLD everything.
//   - String keys are case-insensitive substring matches on decoded text:
//     RFC 2047 words in header fields are decoded; body parts of type text/*
//     are decoded from base64/quoted-printable and converted to UTF-8 from
//     their charset; other parts (attachments) are not searched. Address
//     fields (FROM, TO, CC, BCC) match on the whole decoded field text.
//   - HEADER name "" matches messages that have the field.

// tri is the result of evaluating a key without (yet) the message content.
type tri uint8

const (
	triNo tri = iota
	triYes
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triYes
	}
	return triNo
}

// searchEnv evaluates keys over a selected view.
type searchEnv struct {
	v   *selected
	now time.Time
	// maxModSeq is the highest MODSEQ among the matches of the last
	// search (RFC 7162 3.1.5).
	maxModSeq mailstore.ModSeq
	// sets holds each sequence-set key resolved once (sorted, merged
	// intervals) and res the saved result ("$") as a set, so that a key
	// costs O(log ranges) per message, not O(ranges): 10000 ranges over a
	// million messages must not mean 10^10 steps.
	sets map[*imap.SearchKey]intervals
	res  map[mailstore.UID]bool
}

// intervals is a sequence set resolved against one value of "*": sorted,
// non-overlapping, merged [lo, hi] pairs.
type intervals [][2]uint32

func newIntervals(ranges []imap.NumRange, star uint32) intervals {
	out := make(intervals, 0, len(ranges))
	for _, r := range ranges {
		a, b := r.Start, r.Stop
		if a == imap.Star {
			a = star
		}
		if b == imap.Star {
			b = star
		}
		if a > b {
			a, b = b, a
		}
		out = append(out, [2]uint32{a, b})
	}
	slices.SortFunc(out, func(x, y [2]uint32) int { return cmp.Compare(x[0], y[0]) })
	merged := out[:0]
	for _, iv := range out {
		if n := len(merged); n > 0 && uint64(iv[0]) <= uint64(merged[n-1][1])+1 {
			merged[n-1][1] = max(merged[n-1][1], iv[1])
			continue
		}
		merged = append(merged, iv)
	}
	return merged
}

// has reports whether n is in the set.
func (s intervals) has(n uint32) bool {
	i, _ := slices.BinarySearchFunc(s, n, func(iv [2]uint32, n uint32) int {
		switch {
		case iv[1] < n:
			return -1
		case iv[0] > n:
			return 1
		}
		return 0
	})
	return i < len(s) && s[i][0] <= n && n <= s[i][1]
}

// inSet reports whether n is in k's sequence set, resolving the set on
// first use.
func (env *searchEnv) inSet(k *imap.SearchKey, n, star uint32) bool {
	s, ok := env.sets[k]
	if !ok {
		if env.sets == nil {
			env.sets = map[*imap.SearchKey]intervals{}
		}
		s = newIntervals(k.Set.Ranges, star)
		env.sets[k] = s
	}
	return s.has(n)
}

// needsContent reports whether a key reads the header or body.
func needsContent(k *imap.SearchKey) bool {
	switch k.Op {
	case "BCC", "BODY", "CC", "FROM", "HEADER", "SUBJECT", "TEXT", "TO", "SENTBEFORE", "SENTON", "SENTSINCE":
		return true
	}
	for _, c := range k.Children {
		if needsContent(c) {
			return true
		}
	}
	return false
}

// hasModSeqKey reports whether the key uses MODSEQ (RFC 7162 3.1.5: the
// response then carries the highest MODSEQ of the matches).
func hasModSeqKey(k *imap.SearchKey) bool {
	if k.Op == "MODSEQ" {
		return true
	}
	for _, c := range k.Children {
		if hasModSeqKey(c) {
			return true
		}
	}
	return false
}

// dayOf returns the calendar date of t in t's own zone, as UTC midnight
// (the form of SearchKey.Date).
func dayOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// eval evaluates k for the message at view index i. c is the message's
// content, or nil: then keys that need it give triUnknown (unless the
// result is decided without them).
func (env *searchEnv) eval(k *imap.SearchKey, i int, e *mailstore.MessageMeta, c *msgContent) (tri, error) {
	v := env.v
	flag := func(f string) tri { return triOf(containsFold(e.Flags, f)) }
	not := func(t tri) tri {
		switch t {
		case triYes:
			return triNo
		case triNo:
			return triYes
		}
		return triUnknown
	}
	recent := v.trackRecent && v.isRecent(e.UID)
	date := func() time.Time { return e.InternalDate }
	switch k.Op {
	case "ALL":
		return triYes, nil
	case "AND":
		res := triYes
		for _, ch := range k.Children {
			t, err := env.eval(ch, i, e, c)
			if err != nil {
				return triNo, err
			}
			if t == triNo {
				return triNo, nil
			}
			if t == triUnknown {
				res = triUnknown
			}
		}
		return res, nil
	case "OR":
		res := triNo
		for _, ch := range k.Children {
			t, err := env.eval(ch, i, e, c)
			if err != nil {
				return triNo, err
			}
			if t == triYes {
				return triYes, nil
			}
			if t == triUnknown {
				res = triUnknown
			}
		}
		return res, nil
	case "NOT":
		if len(k.Children) != 1 {
			return triNo, fmt.Errorf("NOT with %d operands", len(k.Children))
		}
		t, err := env.eval(k.Children[0], i, e, c)
		return not(t), err
	case "ANSWERED":
		return flag(mailstore.FlagAnswered), nil
	case "UNANSWERED":
		return not(flag(mailstore.FlagAnswered)), nil
	case "DELETED":
		return flag(mailstore.FlagDeleted), nil
	case "UNDELETED":
		return not(flag(mailstore.FlagDeleted)), nil
	case "DRAFT":
		return flag(mailstore.FlagDraft), nil
	case "UNDRAFT":
		return not(flag(mailstore.FlagDraft)), nil
	case "FLAGGED":
		return flag(mailstore.FlagFlagged), nil
	case "UNFLAGGED":
		return not(flag(mailstore.FlagFlagged)), nil
	case "SEEN":
		return flag(mailstore.FlagSeen), nil
	case "UNSEEN":
		return not(flag(mailstore.FlagSeen)), nil
	case "KEYWORD":
		return flag(k.Text), nil
	case "UNKEYWORD":
		return not(flag(k.Text)), nil
	case "RECENT":
		return triOf(recent), nil
	case "NEW":
		return triOf(recent && flag(mailstore.FlagSeen) == triNo), nil
	case "OLD":
		return triOf(!recent), nil
	case "LARGER":
		return triOf(e.Size > k.Number), nil
	case "SMALLER":
		return triOf(e.Size < k.Number), nil
	case "BEFORE":
		return triOf(dayOf(date()).Before(k.Date)), nil
	case "ON":
		return triOf(dayOf(date()).Equal(k.Date)), nil
	case "SINCE":
		return triOf(!dayOf(date()).Before(k.Date)), nil
	case "OLDER":
		return triOf(env.now.Unix()-e.InternalDate.Unix() > k.Number), nil
	case "YOUNGER":
		return triOf(env.now.Unix()-e.InternalDate.Unix() <= k.Number), nil
	case "MODSEQ":
		return triOf(e.ModSeq >= k.ModSeq), nil
	case "SEQSET", "UIDSET":
		if k.Set.SearchRes {
			// RFC 5182 2.1: "$" is the saved UIDs, in a sequence set too.
			if env.res == nil {
				env.res = make(map[mailstore.UID]bool, len(v.searchRes))
				for _, u := range v.searchRes {
					env.res[u] = true
				}
			}
			return triOf(env.res[e.UID]), nil
		}
		if k.Op == "SEQSET" {
			return triOf(env.inSet(k, uint32(i+1), uint32(len(v.uids)))), nil
		}
		return triOf(env.inSet(k, uint32(e.UID), uint32(v.lastUID()))), nil
	case "BCC", "BODY", "CC", "FROM", "HEADER", "SUBJECT", "TEXT", "TO", "SENTBEFORE", "SENTON", "SENTSINCE":
		if c == nil {
			return triUnknown, nil
		}
		ok, err := c.match(k)
		return triOf(ok), err
	}
	return triNo, statusBAD("", "Unsupported search key "+k.Op+".")
}

// searchBatch is how many undecided messages are read per store call.
const searchBatch = 128

// search returns the UIDs of the messages of the view that match k, in
// view order. The view holds no per-message data: flags, dates, sizes and
// MODSEQs are read from the store in batches of metaBatch (memory stays
// bounded whatever the mailbox size); messages gone from the store
// (expunged by another session, not reported yet) match nothing. acct and
// mbox are also used to read messages that metadata alone cannot decide.
func (env *searchEnv) search(ctx context.Context, acct mailstore.Account, mbox mailstore.MailboxID, k *imap.SearchKey) ([]mailstore.UID, error) {
	if out, ok, err := env.searchCached(ctx, acct, k); ok || err != nil {
		return out, err // flags only, from the view's flag cache (flagcache.go)
	}
	v := env.v
	if fs, ok := acct.(mailstore.SystemFlagSearcher); ok {
		if set, clear, ok := systemFlagConj(k); ok {
			// UNSEEN, UNDELETED SEEN, ...: the store answers.
			env.maxModSeq = 0
			got, err := fs.SearchSystemFlags(ctx, mbox, set, clear)
			if err != nil {
				return nil, err
			}
			return env.inView(got), nil
		}
	}
	// candidates are the messages to evaluate k on: the whole view, or
	// fewer when the store answered the date/size part of k.
	candidates, subset := v.uids, false
	if ms, ok := acct.(mailstore.MetaSearcher); ok {
		if cond, ok := metaCond(k); ok {
			return env.searchMeta(ctx, ms, mbox, cond)
		}
		if cond, rest, ok := splitMetaCond(k); ok {
			// "UNSEEN SINCE x": the store narrows by date/size, the rest
			// is evaluated on those messages only.
			c, err := env.searchMeta(ctx, ms, mbox, cond)
			if err != nil {
				return nil, err
			}
			candidates, subset, k = c, true, rest
		}
	}
	if hs, ok := acct.(mailstore.HeaderSearcher); ok && searchFieldsPure(k) {
		return env.searchFields(ctx, acct, hs, mbox, k, candidates, subset)
	}
	env.maxModSeq = 0
	var out []mailstore.UID
	var pending []undecided
	content := needsContent(k)
	headerOnly := content && !needsBody(k)
	fieldsOnly := content && searchFieldsOnly(k)
	match := func(m *mailstore.MessageMeta) {
		out = append(out, m.UID)
		env.maxModSeq = max(env.maxModSeq, m.ModSeq)
	}
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		uids := make([]mailstore.UID, len(pending))
		for j := range pending {
			uids[j] = pending[j].m.UID
		}
		if hs, ok := acct.(mailstore.HeaderSearcher); ok && fieldsOnly {
			rest, err := env.evalSearchFields(ctx, hs, mbox, k, uids, pending, match)
			if err != nil {
				pending = pending[:0]
				return err
			}
			// Left: messages the store kept no fields for (stored by
			// an older version), read below.
			pending = rest
			uids = uids[:len(pending)]
			for j := range pending {
				uids[j] = pending[j].m.UID
			}
		}
		err := env.evalRead(ctx, acct, mbox, k, uids, pending, headerOnly, match)
		pending = pending[:0]
		if err != nil {
			return err
		}
		return ctx.Err()
	}
	base := 0 // view index of the batch's first UID (all of the view)
	err := v.metas(ctx, acct, candidates, func(batch []mailstore.UID, ms []mailstore.MessageMeta) error {
		j := 0
		for off, u := range batch {
			for j < len(ms) && ms[j].UID < u {
				j++
			}
			if j >= len(ms) || ms[j].UID != u {
				continue // gone from the store
			}
			m := &ms[j]
			i := base + off
			if subset {
				i, _ = v.index(u)
			}
			t, err := env.eval(k, i, m, nil)
			if err != nil {
				return err
			}
			switch {
			case t == triYes:
				match(m)
			case t == triUnknown && content:
				pending = append(pending, undecided{i, *m})
				if len(pending) == searchBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		base += len(batch)
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if content {
		slices.Sort(out) // UIDs ascend with sequence numbers
	}
	return out, nil
}

// evalRead evaluates k on the pending messages (uids are theirs,
// ascending) from their content read from the store: top-level headers in
// one batch (mailstore.HeaderReader) when k reads no body (headerOnly),
// else each message through Cache and Open. match is called for each
// that matches; messages gone from the store match nothing.
func (env *searchEnv) evalRead(ctx context.Context, acct mailstore.Account, mbox mailstore.MailboxID, k *imap.SearchKey,
	uids []mailstore.UID, pending []undecided, headerOnly bool, match func(*mailstore.MessageMeta)) error {
	if len(pending) == 0 {
		return nil
	}
	if hr, ok := acct.(mailstore.HeaderReader); ok && headerOnly {
		return env.evalHeaders(ctx, hr, mbox, k, uids, pending, match)
	}
	caches, err := acct.Cache(ctx, mbox, uids)
	if err != nil {
		return err
	}
	ci := 0
	for j := range pending {
		p := &pending[j]
		uid := p.m.UID
		for ci < len(caches) && caches[ci].UID < uid {
			ci++
		}
		if ci >= len(caches) || caches[ci].UID != uid {
			continue // expunged meanwhile: cannot match content keys
		}
		c := &msgContent{ctx: ctx, acct: acct, mbox: mbox, cache: &caches[ci], date: p.m.InternalDate}
		t, err := env.eval(k, p.i, &p.m, c)
		c.close()
		if err != nil {
			if isExpungedErr(err) {
				continue
			}
			return err
		}
		if t == triYes {
			match(&p.m)
		}
	}
	return nil
}

// undecided is a message whose match depends on its content.
type undecided struct {
	i int // view index
	m mailstore.MessageMeta
}

// needsBody reports whether a key reads a message's body (BODY, TEXT),
// not only its top-level header.
func needsBody(k *imap.SearchKey) bool {
	if k.Op == "BODY" || k.Op == "TEXT" {
		return true
	}
	return slices.ContainsFunc(k.Children, needsBody)
}

// searchFieldsOnly reports whether every content key of k is answered by
// the fields a store keeps for SEARCH (mailstore.HeaderSearcher): SUBJECT,
// FROM, TO, CC, BCC, and HEADER on one of these fields.
func searchFieldsOnly(k *imap.SearchKey) bool {
	switch k.Op {
	case "SUBJECT", "FROM", "TO", "CC", "BCC":
		return true
	case "HEADER":
		_, ok := mailstore.SearchFieldOf(k.Field)
		return ok
	case "BODY", "TEXT", "SENTBEFORE", "SENTON", "SENTSINCE":
		return false
	}
	for _, c := range k.Children {
		if !searchFieldsOnly(c) {
			return false
		}
	}
	return true
}

// searchFieldsPure reports whether k reads nothing but the fields a
// store keeps for SEARCH: every key in it is one searchFieldsOnly accepts
// as content, or ALL, under AND, OR and NOT. Such a key needs no
// metadata of the messages (no flags, dates, sizes, sequence numbers or
// MODSEQ).
func searchFieldsPure(k *imap.SearchKey) bool {
	switch k.Op {
	case "SUBJECT", "FROM", "TO", "CC", "BCC", "HEADER":
		return searchFieldsOnly(k)
	case "ALL":
		return true
	case "AND", "OR", "NOT":
		for _, c := range k.Children {
			if !searchFieldsPure(c) {
				return false
			}
		}
		return len(k.Children) > 0
	}
	return false
}

// searchFields answers a key that reads only kept fields
// (searchFieldsPure) for the candidates (the view's UIDs, or a subset of
// them when subset is set), without reading their metadata: the UIDs go
// to the store in batches, and the messages it kept no fields for are
// read (evalRead) knowing only their UID, which is all such a key looks
// at. Messages gone from the store match nothing, as in search. The
// webmail profile of roost bench spent a third of a header SEARCH's
// server CPU reading metadata it did not use (docs/BENCHMARKS.md).
func (env *searchEnv) searchFields(ctx context.Context, acct mailstore.Account, hs mailstore.HeaderSearcher,
	mbox mailstore.MailboxID, k *imap.SearchKey, candidates []mailstore.UID, subset bool) ([]mailstore.UID, error) {
	env.maxModSeq = 0 // no MODSEQ key (RFC 7162 3.1.5)
	var out []mailstore.UID
	match := func(m *mailstore.MessageMeta) { out = append(out, m.UID) }
	pending := make([]undecided, 0, min(len(candidates), searchBatch))
	for start := 0; start < len(candidates); start += searchBatch {
		batch := candidates[start:min(start+searchBatch, len(candidates))]
		pending = pending[:0]
		for off, u := range batch {
			i := start + off
			if subset {
				i, _ = env.v.index(u)
			}
			pending = append(pending, undecided{i: i, m: mailstore.MessageMeta{UID: u}})
		}
		rest, err := env.evalSearchFields(ctx, hs, mbox, k, batch, pending, match)
		if err != nil {
			return nil, err
		}
		if len(rest) > 0 {
			uids := make([]mailstore.UID, len(rest))
			for j := range rest {
				uids[j] = rest[j].m.UID
			}
			if err := env.evalRead(ctx, acct, mbox, k, uids, rest, true, match); err != nil {
				return nil, err
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	slices.Sort(out) // the messages read come after the batch's others
	return out, nil
}

// evalSearchFields evaluates k (searchFieldsOnly) on the pending messages
// (uids are theirs, ascending) from the fields the store keeps for
// SEARCH, without reading any message; match is called for each that
// matches. It returns the pending messages the store kept no fields for
// (reusing pending's storage), which the caller must read. Messages gone
// from the store match nothing and are not returned.
func (env *searchEnv) evalSearchFields(ctx context.Context, hs mailstore.HeaderSearcher, mbox mailstore.MailboxID,
	k *imap.SearchKey, uids []mailstore.UID, pending []undecided, match func(*mailstore.MessageMeta)) ([]undecided, error) {
	rest := pending[:0] // never overtakes j below
	c := msgContent{ctx: ctx}
	j := 0
	err := hs.SearchFields(ctx, mbox, uids, func(uid mailstore.UID, f *mailstore.SearchFields) error {
		for j < len(pending) && pending[j].m.UID < uid {
			j++
		}
		if j >= len(pending) || pending[j].m.UID != uid {
			return nil
		}
		p := pending[j]
		if f == nil {
			rest = append(rest, p)
			return nil
		}
		c.date, c.sf = p.m.InternalDate, f
		t, err := env.eval(k, p.i, &p.m, &c)
		c.sf = nil
		if err != nil {
			return err
		}
		if t == triYes {
			match(&p.m)
		}
		return nil
	})
	return rest, err
}

// evalHeaders evaluates k, which reads no body (needsBody is false), on
// the pending messages (uids are theirs, ascending), their top-level
// headers read in one batch by the store; match is called for each that
// matches. Messages gone from the store match nothing.
func (env *searchEnv) evalHeaders(ctx context.Context, hr mailstore.HeaderReader, mbox mailstore.MailboxID,
	k *imap.SearchKey, uids []mailstore.UID, pending []undecided, match func(*mailstore.MessageMeta)) error {
	j := 0
	return hr.Headers(ctx, mbox, uids, maxFilterHeader, func(uid mailstore.UID, hdr []byte) error {
		for j < len(pending) && pending[j].m.UID < uid {
			j++
		}
		if j >= len(pending) || pending[j].m.UID != uid {
			return nil
		}
		p := &pending[j]
		c := &msgContent{ctx: ctx, date: p.m.InternalDate, fields: mailstore.SplitHeader(hdr), hdrOK: true}
		t, err := env.eval(k, p.i, &p.m, c)
		if err != nil {
			return err
		}
		if t == triYes {
			match(&p.m)
		}
		return nil
	})
}

// metaCond translates k into a condition on internal dates and sizes for
// a store that evaluates it itself (mailstore.MetaSearcher): only when
// every key in it is BEFORE, ON, SINCE, LARGER, SMALLER or ALL under AND,
// OR and NOT. Both values never change, so the store's answer holds for
// the view whatever its sync point.
func metaCond(k *imap.SearchKey) (mailstore.MetaCond, bool) {
	day := func(t time.Time) int64 { return t.Unix() / 86400 } // k.Date is UTC midnight
	switch k.Op {
	case "ALL":
		return mailstore.MetaCond{Op: mailstore.MetaAll}, true
	case "BEFORE":
		return mailstore.MetaCond{Op: mailstore.MetaDayBefore, Day: day(k.Date)}, true
	case "ON":
		return mailstore.MetaCond{Op: mailstore.MetaDayOn, Day: day(k.Date)}, true
	case "SINCE":
		return mailstore.MetaCond{Op: mailstore.MetaDaySince, Day: day(k.Date)}, true
	case "LARGER":
		return mailstore.MetaCond{Op: mailstore.MetaLarger, Size: k.Number}, true
	case "SMALLER":
		return mailstore.MetaCond{Op: mailstore.MetaSmaller, Size: k.Number}, true
	case "AND", "OR", "NOT":
		c := mailstore.MetaCond{Op: map[string]mailstore.MetaOp{"AND": mailstore.MetaAnd, "OR": mailstore.MetaOr, "NOT": mailstore.MetaNot}[k.Op]}
		for _, ch := range k.Children {
			cc, ok := metaCond(ch)
			if !ok {
				return mailstore.MetaCond{}, false
			}
			c.Children = append(c.Children, cc)
		}
		return c, len(c.Children) > 0
	}
	return mailstore.MetaCond{}, false
}

// splitMetaCond splits a conjunction ("UNSEEN SINCE 1-Jan-2026") into
// the date/size keys the store can answer and the rest. ok is false when
// k is not an AND with both kinds.
func splitMetaCond(k *imap.SearchKey) (cond mailstore.MetaCond, rest *imap.SearchKey, ok bool) {
	if k.Op != "AND" {
		return cond, nil, false
	}
	cond.Op = mailstore.MetaAnd
	rest = &imap.SearchKey{Op: "AND"}
	for _, ch := range k.Children {
		if c, ok := metaCond(ch); ok {
			cond.Children = append(cond.Children, c)
		} else {
			rest.Children = append(rest.Children, ch)
		}
	}
	return cond, rest, len(cond.Children) > 0 && len(rest.Children) > 0
}

// searchMeta answers a date/size-only search from the store
// (mailstore.MetaSearcher): the matching UIDs that are in the view, in
// view order. Messages expunged by others and not yet reported match
// nothing, as in search.
func (env *searchEnv) searchMeta(ctx context.Context, ms mailstore.MetaSearcher, mbox mailstore.MailboxID, cond mailstore.MetaCond) ([]mailstore.UID, error) {
	env.maxModSeq = 0
	got, err := ms.SearchMeta(ctx, mbox, cond)
	if err != nil {
		return nil, err
	}
	return env.inView(got), nil
}

// inView returns the UIDs of got (ascending) that are in the view, in
// view order: messages the store has but the session has not been told
// about are left out, messages expunged by others and not yet reported
// are not in got and so match nothing.
func (env *searchEnv) inView(got []mailstore.UID) []mailstore.UID {
	v := env.v
	var out []mailstore.UID
	j := 0
	for _, u := range got {
		for j < len(v.uids) && v.uids[j] < u {
			j++
		}
		if j == len(v.uids) {
			break
		}
		if v.uids[j] == u {
			out = append(out, u)
		}
	}
	return out
}

// systemFlagConj translates k into system flags a message must have (set)
// and must not have (clear), for a store that answers such a conjunction
// itself (mailstore.SystemFlagSearcher): only when k is one of the system
// flag keys (SEEN, UNSEEN, ANSWERED, ... RFC 9051 6.4.4), NOT of one, or
// an AND of such keys. Keywords, RECENT/NEW/OLD (the session's view) and
// OR are left to the per-message evaluation.
func systemFlagConj(k *imap.SearchKey) (set, clear []string, ok bool) {
	var walk func(k *imap.SearchKey, neg bool) bool
	walk = func(k *imap.SearchKey, neg bool) bool {
		pos := map[string]string{"SEEN": mailstore.FlagSeen, "ANSWERED": mailstore.FlagAnswered, "FLAGGED": mailstore.FlagFlagged,
			"DELETED": mailstore.FlagDeleted, "DRAFT": mailstore.FlagDraft}
		if f, ok := pos[k.Op]; ok {
			if neg {
				clear = append(clear, f)
			} else {
				set = append(set, f)
			}
			return true
		}
		if f, ok := pos[strings.TrimPrefix(k.Op, "UN")]; ok && strings.HasPrefix(k.Op, "UN") {
			if neg {
				set = append(set, f)
			} else {
				clear = append(clear, f)
			}
			return true
		}
		switch {
		case k.Op == "NOT" && len(k.Children) == 1:
			// Only NOT of one flag key: NOT (a b) is an OR.
			c := k.Children[0]
			return c.Op != "AND" && c.Op != "NOT" && walk(c, !neg)
		case k.Op == "AND" && !neg && len(k.Children) > 0:
			for _, c := range k.Children {
				if !walk(c, false) {
					return false
				}
			}
			return true
		}
		return false
	}
	if !walk(k, false) {
		return nil, nil, false
	}
	return set, clear, true
}

// checkCharset accepts the charsets SEARCH supports (RFC 9051 6.4.4: "US-ASCII
// and UTF-8 charsets MUST be supported"); others get NO [BADCHARSET].
func checkCharset(cs string) error {
	switch strings.ToUpper(cs) {
	case "", "UTF-8", "US-ASCII":
		return nil
	}
	return statusNO("BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset.")
}
