package imapserver

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// selected is a session's view of its selected mailbox (DESIGN.md section 1
// decision 3, section 3): the messages the client knows about, in sequence
// number order (sequence number = position + 1, UIDs ascending), the flags
// as last reported to the client, and the MODSEQ up to which the view is
// synced with the store.
//
// The view changes only at sync points (syncPending) and through the
// session's own commands; between two sync points the client and the view
// agree on every sequence number. A message expunged by another session
// stays in the view, marked expunged, until an EXPUNGE response may be sent
// (RFC 9051 7.5.1); until then it keeps its sequence number.
//
// Memory: one msgEntry (40 bytes) per message plus one shared copy of each
// distinct flag combination. TODO(issue 4): drop date and size from the
// entry (load them with the message cache) to reach <10 MB for 1M messages.
//
// Only the session's goroutine uses a selected.
type selected struct {
	mailbox  mailstore.Mailbox // ID, Name, UIDValidity as selected (Name follows renames only on reselect)
	readOnly bool              // EXAMINE, or a mailbox the user may not change

	// searchRes is the saved search result "$" (RFC 5182), as UIDs in
	// ascending order. resolve drops UIDs that are no longer in the view.
	searchRes []mailstore.UID

	msgs   []msgEntry       // ordered by UID
	modSeq mailstore.ModSeq // the view reflects every change up to here

	told     uint32          // the message count the client was last told (EXISTS)
	toldRec  uint32          // the \Recent count the client was last told
	dirty    []mailstore.UID // flags changed (by others), FETCH not sent yet
	nExpunge int             // entries with entryExpunged

	// Flag combinations are interned: msgEntry.flags indexes flagSets.
	flagSets   [][]string
	flagSetIdx map[string]uint32
	zones      map[int32]*time.Location

	// keywords are the keywords announced in the last "* FLAGS" response;
	// keywordsNew is set when a message uses one that is not among them.
	keywords    []string
	keywordsNew bool

	// trackRecent is set for IMAP4rev1 sessions (RFC 9051 removed
	// \Recent). Messages get \Recent in this view only.
	trackRecent bool
	nRecent     uint32
}

// msgEntry is one message in the view.
type msgEntry struct {
	uid    mailstore.UID
	flags  uint32 // index into selected.flagSets
	modSeq mailstore.ModSeq
	date   int64 // internal date, Unix seconds
	size   int64
	tz     int32 // internal date's zone offset, seconds east of UTC
	state  uint8 // entry* bits
}

const (
	entryExpunged uint8 = 1 << iota // expunged in the store; EXPUNGE not sent yet
	entryRecent                     // \Recent in this session (IMAP4rev1 only)
	entryDirty                      // in selected.dirty
)

// newSelected builds the view of mbox from the store's full listing
// (Changes since 0, so that the messages and HIGHESTMODSEQ come from one
// read transaction). recentAbove is the UID above which messages are
// \Recent for this session, or 0 with trackRecent false.
func newSelected(mbox mailstore.Mailbox, readOnly bool, all mailstore.Changes, trackRecent bool, recentAbove mailstore.UID) *selected {
	v := &selected{
		mailbox:     mbox,
		readOnly:    readOnly,
		modSeq:      all.HighestModSeq,
		flagSetIdx:  map[string]uint32{},
		trackRecent: trackRecent,
	}
	v.mailbox.UIDNext = all.UIDNext
	v.mailbox.HighestModSeq = all.HighestModSeq
	v.msgs = make([]msgEntry, 0, len(all.Updated))
	for i := range all.Updated {
		v.msgs = append(v.msgs, v.entry(&all.Updated[i]))
		if trackRecent && all.Updated[i].UID > recentAbove {
			v.msgs[len(v.msgs)-1].state |= entryRecent
			v.nRecent++
		}
	}
	v.told = uint32(len(v.msgs))
	v.toldRec = v.nRecent
	v.keywords = v.keywordsInUse()
	v.keywordsNew = false
	return v
}

// entry makes a view entry from store metadata, interning its flags.
func (v *selected) entry(m *mailstore.MessageMeta) msgEntry {
	_, off := m.InternalDate.Zone()
	return msgEntry{
		uid:    m.UID,
		flags:  v.internFlags(m.Flags),
		modSeq: m.ModSeq,
		date:   m.InternalDate.Unix(),
		size:   m.Size,
		tz:     int32(off),
	}
}

// internFlags returns the index of the flag combination flags (sorted and
// canonical, as the store returns them) in v.flagSets, adding it if new. A
// keyword not announced yet sets keywordsNew.
func (v *selected) internFlags(flags []string) uint32 {
	key := strings.Join(flags, " ")
	if i, ok := v.flagSetIdx[key]; ok {
		return i
	}
	i := uint32(len(v.flagSets))
	v.flagSets = append(v.flagSets, slices.Clone(flags))
	v.flagSetIdx[key] = i
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) && !containsFold(v.keywords, f) {
			v.keywordsNew = true
		}
	}
	return i
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// keywordsInUse returns the keywords of the messages in the view, sorted.
func (v *selected) keywordsInUse() []string {
	used := make([]bool, len(v.flagSets))
	for i := range v.msgs {
		used[v.msgs[i].flags] = true
	}
	var kws []string
	for i, fs := range v.flagSets {
		if !used[i] {
			continue
		}
		for _, f := range fs {
			if !strings.HasPrefix(f, `\`) && !containsFold(kws, f) {
				kws = append(kws, f)
			}
		}
	}
	sort.Strings(kws)
	return kws
}

// flagList returns the FLAGS response list: the system flags and the
// announced keywords. It also marks the keywords as announced.
func (v *selected) flagList() []string {
	for _, fs := range v.flagSets {
		for _, f := range fs {
			if !strings.HasPrefix(f, `\`) && !containsFold(v.keywords, f) {
				v.keywords = append(v.keywords, f)
			}
		}
	}
	sort.Strings(v.keywords)
	v.keywordsNew = false
	return append(slices.Clone(mailstore.SystemFlags), v.keywords...)
}

// count returns the number of messages in the client's view (the last
// EXISTS), including messages expunged by others but not yet reported.
func (v *selected) count() uint32 { return uint32(len(v.msgs)) }

// uidAt returns the UID of the message with sequence number seq, or 0 if
// seq is out of range.
func (v *selected) uidAt(seq mailstore.SeqNum) mailstore.UID {
	if seq == 0 || int(seq) > len(v.msgs) {
		return 0
	}
	return v.msgs[seq-1].uid
}

// index returns the position of uid in v.msgs.
func (v *selected) index(uid mailstore.UID) (int, bool) {
	i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid >= uid })
	return i, i < len(v.msgs) && v.msgs[i].uid == uid
}

// seqOf returns the sequence number of uid, and false if the message is
// not in the view.
func (v *selected) seqOf(uid mailstore.UID) (mailstore.SeqNum, bool) {
	i, ok := v.index(uid)
	if !ok {
		return 0, false
	}
	return mailstore.SeqNum(i + 1), true
}

// lastUID returns the highest UID in the view, 0 when it is empty.
func (v *selected) lastUID() mailstore.UID {
	if len(v.msgs) == 0 {
		return 0
	}
	return v.msgs[len(v.msgs)-1].uid
}

// resolve turns a sequence set (uid false) or a UID set (uid true) into the
// UIDs of the messages it names, ascending and without duplicates.
//
//   - "*" is the last message (RFC 9051 9: "the largest number in use");
//     "n:*" with n above every UID still names the last message (RFC 9051
//     6.4.9: "a UID range of 559:* always includes the UID of the last
//     message in the mailbox").
//   - Ranges may be reversed ("5:2" is "2:5").
//   - Sequence numbers beyond the view are ignored (see seqSetValid for the
//     strict check); UIDs that name no message are ignored (RFC 9051 6.4.9).
//   - In an empty mailbox every set names nothing.
//   - "$" (set.SearchRes) is the saved search result (RFC 5182), minus
//     messages no longer in the view.
//
// Messages expunged by another session but not yet reported are included:
// the client still sees them (RFC 9051 7.5.1).
func (v *selected) resolve(set imap.NumSet, uid bool) []mailstore.UID {
	if set.SearchRes {
		var out []mailstore.UID
		for _, u := range v.searchRes {
			if _, ok := v.index(u); ok {
				out = append(out, u)
			}
		}
		return out
	}
	n := len(v.msgs)
	if n == 0 {
		return nil
	}
	// Turn every range into a half-open index span [lo, hi) of v.msgs.
	type span struct{ lo, hi int }
	spans := make([]span, 0, len(set.Ranges))
	for _, r := range set.Ranges {
		a, b := r.Start, r.Stop
		if uid {
			last := uint32(v.lastUID())
			if a == imap.Star {
				a = last
			}
			if b == imap.Star {
				b = last
			}
			if a > b {
				a, b = b, a
			}
			lo, _ := v.index(mailstore.UID(a))
			hi := sort.Search(n, func(i int) bool { return uint32(v.msgs[i].uid) > b })
			if lo < hi {
				spans = append(spans, span{lo, hi})
			}
			continue
		}
		if a == imap.Star {
			a = uint32(n)
		}
		if b == imap.Star {
			b = uint32(n)
		}
		if a > b {
			a, b = b, a
		}
		if a == 0 {
			a = 1
		}
		if int64(a) > int64(n) {
			continue
		}
		if int64(b) > int64(n) {
			b = uint32(n)
		}
		spans = append(spans, span{int(a) - 1, int(b)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	var out []mailstore.UID
	end := 0
	for _, s := range spans {
		if s.lo < end {
			s.lo = end
		}
		for i := s.lo; i < s.hi; i++ {
			out = append(out, v.msgs[i].uid)
		}
		if s.hi > end {
			end = s.hi
		}
	}
	return out
}

// seqSetValid reports whether every sequence number in set names a message
// in the view ("*" always does in a non-empty view). RFC 9051 9 defines
// seq-number as a number "in use"; like Dovecot ("Invalid messageset") the
// caller answers BAD when it is not.
func (v *selected) seqSetValid(set imap.NumSet) bool {
	if set.SearchRes {
		return true
	}
	n := uint32(len(v.msgs))
	for _, r := range set.Ranges {
		for _, x := range [2]uint32{r.Start, r.Stop} {
			if x == imap.Star {
				if n == 0 {
					return false
				}
				continue
			}
			if x > n {
				return false
			}
		}
	}
	return true
}

// meta returns what the session knows of message uid: UID, MODSEQ, flags
// (plus \Recent for an IMAP4rev1 session when the message is recent to it),
// internal date and size. Flags is shared: callers must not modify it. ok
// is false when uid is not in the view.
func (v *selected) meta(uid mailstore.UID) (*mailstore.MessageMeta, bool) {
	i, ok := v.index(uid)
	if !ok {
		return nil, false
	}
	e := &v.msgs[i]
	return &mailstore.MessageMeta{
		UID:          e.uid,
		ModSeq:       e.modSeq,
		Flags:        v.entryFlags(e),
		InternalDate: time.Unix(e.date, 0).In(v.zone(e.tz)),
		Size:         e.size,
	}, true
}

// flagRecent is the session flag of RFC 3501 2.3.2, reported only to
// IMAP4rev1 sessions.
const flagRecent = `\Recent`

// entryFlags returns the flags of e as the client should see them.
func (v *selected) entryFlags(e *msgEntry) []string {
	fs := v.flagSets[e.flags]
	if e.state&entryRecent != 0 {
		return append(slices.Clone(fs), flagRecent)
	}
	return fs
}

func (v *selected) zone(off int32) *time.Location {
	if off == 0 {
		return time.UTC
	}
	if l, ok := v.zones[off]; ok {
		return l
	}
	if v.zones == nil {
		v.zones = map[int32]*time.Location{}
	}
	l := time.FixedZone("", int(off))
	v.zones[off] = l
	return l
}

// isExpunged reports whether uid was expunged by another session and the
// client has not been told yet. FETCH answers such a message from what the
// view knows (or leaves it out); STORE skips it.
func (v *selected) isExpunged(uid mailstore.UID) bool {
	i, ok := v.index(uid)
	return ok && v.msgs[i].state&entryExpunged != 0
}

// noteFlags records that the client has been told (or, with STORE .SILENT,
// knows) the state of m, as returned by the store after this session's
// own change: a later sync does not report it again. Messages not in the
// view are ignored. It returns true when m introduces a keyword the client
// has not been told about in a FLAGS response (the caller sends
// flagsUpdate before its FETCH responses).
func (v *selected) noteFlags(m *mailstore.MessageMeta) bool {
	i, ok := v.index(m.UID)
	if !ok {
		return v.keywordsNew
	}
	e := &v.msgs[i]
	if m.ModSeq >= e.modSeq {
		e.flags = v.internFlags(m.Flags)
		e.modSeq = m.ModSeq
	}
	if e.state&entryDirty != 0 {
		e.state &^= entryDirty
		v.dirty = slices.DeleteFunc(v.dirty, func(u mailstore.UID) bool { return u == m.UID })
	}
	return v.keywordsNew
}

// apply brings the view up to date with changes read from the store since
// v.modSeq: new messages are appended (and get \Recent when above
// recentAbove, for IMAP4rev1 sessions), flag changes mark the message
// dirty, and expunged messages are marked; nothing is removed here.
func (v *selected) apply(c mailstore.Changes, recentAbove mailstore.UID) {
	for i := range c.Updated {
		m := &c.Updated[i]
		if m.UID > v.lastUID() {
			e := v.entry(m)
			if v.trackRecent && m.UID > recentAbove {
				e.state |= entryRecent
				v.nRecent++
			}
			v.msgs = append(v.msgs, e)
			continue
		}
		j, ok := v.index(m.UID)
		if !ok {
			continue // expunged and already reported
		}
		e := &v.msgs[j]
		if e.state&entryExpunged != 0 || m.ModSeq <= e.modSeq {
			continue
		}
		fs := v.internFlags(m.Flags)
		e.modSeq = m.ModSeq
		if fs != e.flags {
			e.flags = fs
			if e.state&entryDirty == 0 {
				e.state |= entryDirty
				v.dirty = append(v.dirty, e.uid)
			}
		}
	}
	for _, u := range c.Expunged {
		if j, ok := v.index(u); ok && v.msgs[j].state&entryExpunged == 0 {
			v.msgs[j].state |= entryExpunged
			v.nExpunge++
		}
	}
	if c.HighestModSeq > v.modSeq {
		v.modSeq = c.HighestModSeq
	}
	if c.UIDNext > v.mailbox.UIDNext {
		v.mailbox.UIDNext = c.UIDNext
	}
	v.mailbox.HighestModSeq = v.modSeq
}

// markExpunged marks messages this session has just expunged (EXPUNGE,
// UID EXPUNGE): the next takeExpunges reports them with any others.
func (v *selected) markExpunged(uids []mailstore.UID) {
	for _, u := range uids {
		if j, ok := v.index(u); ok && v.msgs[j].state&entryExpunged == 0 {
			v.msgs[j].state |= entryExpunged
			v.nExpunge++
		}
	}
}

// removeNow removes exactly the given messages (moved away by this
// session's MOVE, which must report them at once, RFC 6851 3.3) and
// returns their sequence numbers in descending order. Expunges by other
// sessions stay pending.
func (v *selected) removeNow(uids []mailstore.UID) []mailstore.SeqNum {
	gone := make(map[mailstore.UID]bool, len(uids))
	for _, u := range uids {
		gone[u] = true
	}
	var seqs []mailstore.SeqNum
	for i := len(v.msgs) - 1; i >= 0; i-- {
		if gone[v.msgs[i].uid] {
			seqs = append(seqs, mailstore.SeqNum(i+1))
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	v.msgs = slices.DeleteFunc(v.msgs, func(e msgEntry) bool {
		if !gone[e.uid] {
			return false
		}
		if e.state&entryExpunged != 0 {
			v.nExpunge--
		}
		if e.state&entryRecent != 0 {
			v.nRecent--
		}
		return true
	})
	v.dirty = slices.DeleteFunc(v.dirty, func(u mailstore.UID) bool { return gone[u] })
	v.told -= uint32(len(seqs))
	v.toldRec = min(v.toldRec, v.nRecent)
	return seqs
}

// takeExpunges removes the messages marked expunged and returns their
// sequence numbers in descending order: sent in that order, every EXPUNGE
// response names the message by its sequence number at that moment (RFC
// 9051 7.5.1: "the message sequence number of each successive message in
// the mailbox is immediately decremented by 1").
func (v *selected) takeExpunges() []mailstore.SeqNum {
	if v.nExpunge == 0 {
		return nil
	}
	var seqs []mailstore.SeqNum
	for i := len(v.msgs) - 1; i >= 0; i-- {
		if v.msgs[i].state&entryExpunged != 0 {
			seqs = append(seqs, mailstore.SeqNum(i+1))
		}
	}
	v.msgs = slices.DeleteFunc(v.msgs, func(e msgEntry) bool {
		if e.state&entryExpunged == 0 {
			return false
		}
		if e.state&entryRecent != 0 {
			v.nRecent--
		}
		return true
	})
	v.dirty = slices.DeleteFunc(v.dirty, func(u mailstore.UID) bool {
		_, ok := v.index(u)
		return !ok
	})
	v.nExpunge = 0
	v.told -= uint32(len(seqs))
	if v.toldRec > v.nRecent {
		v.toldRec = v.nRecent
	}
	if len(v.searchRes) > 0 {
		v.searchRes = slices.DeleteFunc(v.searchRes, func(u mailstore.UID) bool {
			_, ok := v.index(u)
			return !ok
		})
	}
	return seqs
}

// takeDirty returns the messages whose flags changed since the client was
// last told, ascending, and clears the list. Messages expunged meanwhile
// are left out.
func (v *selected) takeDirty() []mailstore.UID {
	if len(v.dirty) == 0 {
		return nil
	}
	slices.Sort(v.dirty)
	out := v.dirty[:0:0]
	for _, u := range v.dirty {
		j, ok := v.index(u)
		if !ok {
			continue
		}
		v.msgs[j].state &^= entryDirty
		if v.msgs[j].state&entryExpunged == 0 {
			out = append(out, u)
		}
	}
	v.dirty = v.dirty[:0]
	return out
}

// takeExists returns the message count and \Recent count to report, and
// whether either changed since the client was last told.
func (v *selected) takeExists() (exists, recent uint32, changed bool) {
	exists, recent = uint32(len(v.msgs)), v.nRecent
	changed = exists != v.told || (v.trackRecent && recent != v.toldRec)
	v.told, v.toldRec = exists, recent
	return exists, recent, changed
}

// firstUnseen returns the sequence number of the first message without
// \Seen, 0 if there is none (RFC 3501 6.3.1 [UNSEEN n]).
func (v *selected) firstUnseen() mailstore.SeqNum {
	for i := range v.msgs {
		if !slices.Contains(v.flagSets[v.msgs[i].flags], mailstore.FlagSeen) {
			return mailstore.SeqNum(i + 1)
		}
	}
	return 0
}

// recentTracker remembers, per user and mailbox, the highest UID that some
// session of this Server has already taken as \Recent (RFC 3501 2.3.2:
// "the message is 'recent' in exactly one session"). It is in memory and
// per process: after a restart, or for a session on another Roost node,
// messages may be \Recent again. Dovecot keeps the same value per mailbox
// (in its index, so it survives restarts); \Recent is gone from IMAP4rev2
// and clients rarely rely on it, so this simplification is kept. The zero
// value is ready to use.
type recentTracker struct {
	mu sync.Mutex
	m  map[recentKey]mailstore.UID
}

type recentKey struct {
	user string
	mbox mailstore.MailboxID
}

// claim returns the highest UID claimed before for user's mailbox mbox;
// messages above it are \Recent for the caller. With take, it also claims
// every UID up to upTo (EXAMINE does not: RFC 3501 6.3.2, EXAMINE must not
// cause messages to lose \Recent).
func (r *recentTracker) claim(user string, mbox mailstore.MailboxID, upTo mailstore.UID, take bool) mailstore.UID {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := recentKey{user, mbox}
	prev := r.m[k]
	if take && upTo > prev {
		if r.m == nil {
			r.m = map[recentKey]mailstore.UID{}
		}
		r.m[k] = upTo
	}
	return prev
}

// syncPending brings the selected view up to date and reports what other
// sessions (or processes) changed: EXPUNGE (only when allowExpunge, RFC
// 9051 7.5.1: never during or right after FETCH, STORE, SEARCH, COPY or
// MOVE by sequence number), a new FLAGS/PERMANENTFLAGS when a new keyword
// appeared, FETCH (UID n FLAGS (...)) for flag changes, EXISTS and (for
// IMAP4rev1) RECENT for new messages. It writes to s.enc and does not
// flush. The loop calls it before every tagged reply in the selected
// state; IDLE calls it on every wake-up.
//
// If the mailbox was deleted, it returns a BYE error: the session cannot
// go on with its sequence numbers. Dovecot does the same ("* BYE Selected
// mailbox was deleted, have to disconnect."); RFC 2180 3.3 allows it.
func (s *session) syncPending(ctx context.Context, allowExpunge bool) error {
	v := s.sel
	if v == nil {
		return nil
	}
	c, err := s.acct.Changes(ctx, v.mailbox.ID, v.modSeq)
	if err != nil {
		if mailstore.KindOf(err) == mailstore.KindNotFound {
			s.closeSelected()
			return bye("Selected mailbox was deleted, have to disconnect.")
		}
		return wrapf(err, "sync mailbox %q", v.mailbox.Name)
	}
	var recentAbove mailstore.UID
	if v.trackRecent && len(c.Updated) > 0 {
		if last := c.Updated[len(c.Updated)-1].UID; last > v.lastUID() {
			recentAbove = s.srv.recent.claim(s.user, v.mailbox.ID, last, !v.readOnly)
		}
	}
	v.apply(c, recentAbove)
	s.writeUpdates(allowExpunge)
	return s.enc.Err()
}

// writeUpdates writes what the view has to report after apply (see
// syncPending). Expunges come first, in descending sequence order, so the
// sequence numbers of the FETCH responses that follow are the ones after
// the expunges; EXISTS comes last.
func (s *session) writeUpdates(allowExpunge bool) {
	v := s.sel
	if allowExpunge && s.qresync() {
		// RFC 7162 3.2.10: once QRESYNC is enabled, "* VANISHED uid-set"
		// replaces EXPUNGE (same timing rules).
		gone := v.expungedUIDs()
		v.takeExpunges()
		s.writeVanished(false, gone)
	} else if allowExpunge {
		for _, seq := range v.takeExpunges() {
			s.enc.Untagged().Number(uint32(seq)).SP().Atom("EXPUNGE").CRLF()
		}
	}
	if v.keywordsNew {
		s.writeFlags()
	}
	for _, uid := range v.takeDirty() {
		// RFC 9051 7.5.2: unsolicited FETCH responses carry the UID, so
		// that a client in the middle of UID commands can place them
		// (Dovecot and mox do the same).
		s.writeFetchFlags(uid, true)
	}
	if n, r, changed := v.takeExists(); changed {
		s.enc.Untagged().Number(n).SP().Atom("EXISTS").CRLF()
		if v.trackRecent {
			s.enc.Untagged().Number(r).SP().Atom("RECENT").CRLF()
		}
	}
}

// writeFetchFlags writes "* seq FETCH (FLAGS (...))", with the UID first
// when withUID. Once CONDSTORE is enabled it is always
// "* seq FETCH (UID u FLAGS (...) MODSEQ (m))": RFC 7162 3.1 wants UID and
// MODSEQ in every untagged FETCH caused by a flag change, ours (STORE,
// implicit \Seen) or another session's.
func (s *session) writeFetchFlags(uid mailstore.UID, withUID bool) {
	v := s.sel
	i, ok := v.index(uid)
	if !ok {
		return
	}
	cs := s.condStore()
	s.enc.Untagged().Number(uint32(i + 1)).SP().Atom("FETCH").SP().BeginList()
	if withUID || cs {
		s.enc.Atom("UID").SP().Number(uint32(uid)).SP()
	}
	s.enc.Atom("FLAGS").SP().Flags(v.entryFlags(&v.msgs[i]))
	if cs {
		s.enc.SP().Atom("MODSEQ").SP().Special('(').Number64(uint64(v.msgs[i].modSeq)).Special(')')
	}
	s.enc.EndList().CRLF()
}

// writeFetchModSeq writes "* seq FETCH (UID u MODSEQ (m))": the answer to
// a STORE .SILENT for a CONDSTORE client, which still needs the new
// modseq (RFC 7162 3.1.3 example 3; Dovecot does the same).
func (s *session) writeFetchModSeq(uid mailstore.UID) {
	v := s.sel
	i, ok := v.index(uid)
	if !ok {
		return
	}
	s.enc.Untagged().Number(uint32(i + 1)).SP().Atom("FETCH").SP().BeginList().
		Atom("UID").SP().Number(uint32(uid)).SP().
		Atom("MODSEQ").SP().Special('(').Number64(uint64(v.msgs[i].modSeq)).Special(')').EndList().CRLF()
}

// expungedUIDs returns the UIDs of the messages marked expunged, ascending
// (for VANISHED; takeExpunges then removes them).
func (v *selected) expungedUIDs() []mailstore.UID {
	if v.nExpunge == 0 {
		return nil
	}
	var out []mailstore.UID
	for i := range v.msgs {
		if v.msgs[i].state&entryExpunged != 0 {
			out = append(out, v.msgs[i].uid)
		}
	}
	return out
}

// writeFlags writes the FLAGS response and the PERMANENTFLAGS response
// code (RFC 9051 7.3.5, 7.1): the system flags and every keyword in use;
// for a read-write mailbox clients may also create keywords (\*). It is
// sent at SELECT and again when a keyword first appears.
func (s *session) writeFlags() {
	v := s.sel
	flags := v.flagList()
	s.enc.Untagged().Atom("FLAGS").SP().Flags(flags).CRLF()
	if v.readOnly {
		s.enc.Untagged().Atom("OK").SP().Raw("[PERMANENTFLAGS ()]").SP().Text("Read-only mailbox.").CRLF()
		return
	}
	s.enc.Untagged().Atom("OK").SP().Raw("[PERMANENTFLAGS ").Flags(append(flags, `\*`)).Raw("]").SP().
		Text("Flags permitted.").CRLF()
}

// closeSelected leaves the selected state without expunging anything
// (UNSELECT, SELECT of another mailbox, logout).
func (s *session) closeSelected() {
	s.sel = nil
	s.noteMailbox("")
	if s.state == stateSelected {
		s.state = stateAuthenticated
	}
}
