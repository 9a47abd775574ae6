package imapserver

import (
	"cmp"
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
// decision 3, section 3; docs/imap-scale.md): the UIDs of the messages the
// client knows about, in sequence number order (sequence number = position
// + 1, UIDs ascending), and the MODSEQ up to which the view is synced with
// the store. Flags, MODSEQs, dates and sizes are not kept (except the
// optional compact flag cache): commands read them from the store in
// batches (Account.Metas), so a session's memory
// does not hold an object per message.
//
// The view changes only at sync points (syncPending) and through the
// session's own commands; between two sync points the client and the view
// agree on every sequence number. A message expunged by another session
// stays in the view, marked expunged, until an EXPUNGE response may be sent
// (RFC 9051 7.5.1); until then it keeps its sequence number.
//
// Memory: 4 bytes per message (the UID), 2 more once the optional flag
// cache is filled (flagcache.go), plus per-session state that is
// proportional to what changed (pending expunges, unreported flag changes,
// flags told ahead of the next sync), never to the mailbox.
//
// Only the session's goroutine uses a selected.
type selected struct {
	mailbox  mailstore.Mailbox // ID, Name, UIDValidity as selected (Name follows renames only on reselect)
	readOnly bool              // EXAMINE, or a mailbox the user may not change

	// searchRes is the saved search result "$" (RFC 5182), as UIDs in
	// ascending order. resolve drops UIDs that are no longer in the view.
	searchRes []mailstore.UID

	uids   []mailstore.UID  // ascending; sequence number = index + 1
	modSeq mailstore.ModSeq // the view reflects every change up to here

	// stamp is the account's change stamp (mailstore.ChangeStamper) taken
	// before the last read of the changes at stampAt; stampOK: valid.
	stamp   uint64
	stampOK bool
	stampAt time.Time

	// HIGHESTMODSEQ reporting to QRESYNC clients after updates
	// (condstore.go, noteModSeqReport): fullModSeq is the modseq up to
	// which the client has every change, expunges included; fetchModSeq
	// the highest MODSEQ in an unsolicited FETCH it got; reportModSeq the
	// HIGHESTMODSEQ still to send (0: none).
	fullModSeq, fetchModSeq, reportModSeq mailstore.ModSeq

	told    uint32 // the message count the client was last told (EXISTS)
	toldRec uint32 // the \Recent count the client was last told

	// expunged holds messages still in uids that are gone from the
	// store (EXPUNGE not sent yet).
	expunged map[mailstore.UID]struct{}
	// dirty holds flag changes by others, read at a sync point, whose
	// FETCH is not sent yet: the state to report.
	dirty map[mailstore.UID]mailstore.MessageMeta
	// noted holds the MODSEQ of flags the client was told that are newer
	// than modSeq (its own STORE, FETCH FLAGS): the next sync does not
	// report them again. Entries at or below modSeq are dropped.
	noted map[mailstore.UID]mailstore.ModSeq

	// firstUnseen is the lowest UID without \Seen at SELECT, 0 if none.
	firstUnseenUID mailstore.UID

	// keywords are the keywords announced in the last "* FLAGS" response;
	// keywordsNew is set when a message uses one that is not among them
	// (listed in newKeywords).
	keywords    []string
	keywordsNew bool
	newKeywords []string

	// trackRecent is set for IMAP4rev1 sessions (RFC 9051 removed
	// \Recent). Messages get \Recent in this view only: those in the
	// recent UID ranges (ascending).
	trackRecent bool
	recent      []mailstore.UIDRange
	nRecent     uint32

	// fc is the optional flag cache (flagcache.go), nil until a
	// whole-mailbox read of flags fills it.
	fc *flagCache
	// flagIdx, when set, is the process's shared flag indexes
	// (flagindex.go) and user the account's name: the flag cache is then
	// filled from the shared index of the mailbox, whose reference the
	// view holds in shared until closeSelected.
	flagIdx *flagIndexes
	user    string
	shared  *flagIndex
}

// newSelected builds the view of mbox from the store's full listing
// (Changes since 0). recentAbove is the UID above which messages are
// \Recent for this session, or 0 with trackRecent false. SELECT uses
// newSelectedView, which does not load the messages.
func newSelected(mbox mailstore.Mailbox, readOnly bool, all mailstore.Changes, trackRecent bool, recentAbove mailstore.UID) *selected {
	mv := mailstore.MailboxView{HighestModSeq: all.HighestModSeq, UIDNext: all.UIDNext}
	uids := make([]mailstore.UID, len(all.Updated))
	for i := range all.Updated {
		m := &all.Updated[i]
		uids[i] = m.UID
		if mv.FirstUnseen == 0 && !m.HasFlag(mailstore.FlagSeen) {
			mv.FirstUnseen = m.UID
		}
		for _, f := range m.Flags {
			if !strings.HasPrefix(f, `\`) && !containsFold(mv.Keywords, f) {
				mv.Keywords = append(mv.Keywords, f)
			}
		}
	}
	sort.Strings(mv.Keywords)
	return newSelectedUIDs(mbox, readOnly, mv, uids, trackRecent, recentAbove)
}

// newSelectedView builds the view of mbox from Account.View: the UID runs
// are expanded to 4 bytes per message.
func newSelectedView(mbox mailstore.Mailbox, readOnly bool, mv mailstore.MailboxView, trackRecent bool, recentAbove mailstore.UID) *selected {
	uids := make([]mailstore.UID, 0, mv.Messages)
	for _, r := range mv.UIDs {
		for u := r.First; ; u++ {
			uids = append(uids, u)
			if u == r.Last {
				break
			}
		}
	}
	return newSelectedUIDs(mbox, readOnly, mv, uids, trackRecent, recentAbove)
}

func newSelectedUIDs(mbox mailstore.Mailbox, readOnly bool, mv mailstore.MailboxView, uids []mailstore.UID, trackRecent bool, recentAbove mailstore.UID) *selected {
	v := &selected{
		mailbox:        mbox,
		readOnly:       readOnly,
		uids:           uids,
		modSeq:         mv.HighestModSeq,
		fullModSeq:     mv.HighestModSeq,
		expunged:       map[mailstore.UID]struct{}{},
		dirty:          map[mailstore.UID]mailstore.MessageMeta{},
		noted:          map[mailstore.UID]mailstore.ModSeq{},
		firstUnseenUID: mv.FirstUnseen,
		keywords:       slices.Clone(mv.Keywords),
		trackRecent:    trackRecent,
	}
	v.mailbox.UIDNext = mv.UIDNext
	v.mailbox.HighestModSeq = mv.HighestModSeq
	if trackRecent && v.lastUID() > recentAbove {
		v.addRecent(recentAbove+1, v.lastUID())
	}
	v.told = uint32(len(v.uids))
	v.toldRec = v.nRecent
	return v
}

// addRecent makes the view's messages with UIDs lo..hi \Recent; lo is
// above every recent UID so far.
func (v *selected) addRecent(lo, hi mailstore.UID) {
	i, _ := v.index(lo)
	j := sort.Search(len(v.uids), func(k int) bool { return v.uids[k] > hi })
	if i >= j {
		return
	}
	v.nRecent += uint32(j - i)
	if n := len(v.recent); n > 0 && v.recent[n-1].Last+1 >= lo {
		v.recent[n-1].Last = hi
		return
	}
	v.recent = append(v.recent, mailstore.UIDRange{First: lo, Last: hi})
}

// isRecent reports whether uid is \Recent in this session.
func (v *selected) isRecent(uid mailstore.UID) bool {
	i := sort.Search(len(v.recent), func(k int) bool { return v.recent[k].Last >= uid })
	return i < len(v.recent) && v.recent[i].First <= uid
}

// checkKeywords notes the keywords of flags that the client has not been
// told about in a FLAGS response.
func (v *selected) checkKeywords(flags []string) {
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) && !containsFold(v.keywords, f) && !containsFold(v.newKeywords, f) {
			v.newKeywords = append(v.newKeywords, f)
			v.keywordsNew = true
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// flagList returns the FLAGS response list: the system flags and the
// announced keywords. It also marks the keywords as announced.
func (v *selected) flagList() []string {
	v.keywords = append(v.keywords, v.newKeywords...)
	v.newKeywords = nil
	sort.Strings(v.keywords)
	v.keywordsNew = false
	return append(slices.Clone(mailstore.SystemFlags), v.keywords...)
}

// count returns the number of messages in the client's view (the last
// EXISTS), including messages expunged by others but not yet reported.
func (v *selected) count() uint32 { return uint32(len(v.uids)) }

// uidAt returns the UID of the message with sequence number seq, or 0 if
// seq is out of range.
func (v *selected) uidAt(seq mailstore.SeqNum) mailstore.UID {
	if seq == 0 || int(seq) > len(v.uids) {
		return 0
	}
	return v.uids[seq-1]
}

// index returns the position of uid in v.uids.
func (v *selected) index(uid mailstore.UID) (int, bool) {
	return slices.BinarySearch(v.uids, uid)
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
	if len(v.uids) == 0 {
		return 0
	}
	return v.uids[len(v.uids)-1]
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
	n := len(v.uids)
	if n == 0 {
		return nil
	}
	// Turn every range into a half-open index span [lo, hi) of v.uids.
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
			hi := sort.Search(n, func(i int) bool { return uint32(v.uids[i]) > b })
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
		if s.lo < s.hi {
			out = append(out, v.uids[s.lo:s.hi]...)
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
	n := uint32(len(v.uids))
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

// flagRecent is the session flag of RFC 3501 2.3.2, reported only to
// IMAP4rev1 sessions.
const flagRecent = `\Recent`

// flagsOf returns the flags of m (as read from the store) as the client
// should see them: with \Recent when the message is recent to this
// session. The result may share m.Flags.
func (v *selected) flagsOf(m *mailstore.MessageMeta) []string {
	if v.trackRecent && v.isRecent(m.UID) {
		return append(slices.Clip(m.Flags), flagRecent)
	}
	return m.Flags
}

// metaBatch is how many messages' metadata a command reads per store call.
const metaBatch = 2048

// metas reads the metadata of uids (ascending, from the view) from the
// store in batches of metaBatch and calls fn for each batch, in order.
// Messages gone from the store are missing from a batch.
func (v *selected) metas(ctx context.Context, acct mailstore.Account, uids []mailstore.UID, fn func(batch []mailstore.UID, ms []mailstore.MessageMeta) error) error {
	for start := 0; start < len(uids); start += metaBatch {
		batch := uids[start:min(start+metaBatch, len(uids))]
		ms, err := acct.Metas(ctx, v.mailbox.ID, batch)
		if err != nil {
			return err
		}
		if err := fn(batch, ms); err != nil {
			return err
		}
	}
	return nil
}

// isExpunged reports whether uid was expunged by another session and the
// client has not been told yet. FETCH answers such a message from what the
// view knows (or leaves it out); STORE skips it.
func (v *selected) isExpunged(uid mailstore.UID) bool {
	_, ok := v.expunged[uid]
	return ok
}

// noteFlags records that the client has been told (or, with STORE .SILENT,
// knows) the state of m, as returned by the store after this session's
// own change or read by FETCH: a later sync does not report it again.
// Messages not in the view are ignored. It returns true when m introduces
// a keyword the client has not been told about in a FLAGS response (the
// caller sends flagsUpdate before its FETCH responses).
func (v *selected) noteFlags(m *mailstore.MessageMeta) bool {
	if m.ModSeq <= v.modSeq && len(v.dirty) == 0 {
		// The common case (FETCH FLAGS of unchanged messages): nothing
		// to note, and its keywords were announced at SELECT or by the
		// sync that read the change.
		return v.keywordsNew
	}
	if _, ok := v.index(m.UID); !ok {
		return v.keywordsNew
	}
	v.checkKeywords(m.Flags)
	if m.ModSeq > v.modSeq && m.ModSeq > v.noted[m.UID] {
		v.noted[m.UID] = m.ModSeq
	}
	if d, ok := v.dirty[m.UID]; ok && d.ModSeq <= m.ModSeq {
		delete(v.dirty, m.UID)
	}
	if _, ok := v.dirty[m.UID]; !ok {
		v.setCachedFlags(m.UID, m.Flags)
	}
	return v.keywordsNew
}

// knows reports whether the client has been told the state of m (its
// flags at m.ModSeq) or a newer one: m changed no later than the view's
// sync point, or the change was noted.
func (v *selected) knows(m *mailstore.MessageMeta) bool {
	return m.ModSeq <= v.modSeq || m.ModSeq <= v.noted[m.UID]
}

// apply brings the view up to date with changes read from the store since
// v.modSeq: new messages are appended (and get \Recent when above
// recentAbove, for IMAP4rev1 sessions), flag changes are kept to report,
// and expunged messages are marked; nothing is removed here. The work is
// proportional to the changes.
func (v *selected) apply(c mailstore.Changes, recentAbove mailstore.UID) {
	for i := range c.Updated {
		m := &c.Updated[i]
		if last := v.lastUID(); m.UID > last {
			v.uids = append(v.uids, m.UID)
			if v.fc != nil {
				v.fc.idx = append(v.fc.idx, v.fc.intern(m.Flags))
			}
			if v.trackRecent && m.UID > recentAbove {
				v.addRecent(max(m.UID, recentAbove+1), m.UID)
			}
			v.checkKeywords(m.Flags)
			continue
		}
		if _, ok := v.index(m.UID); !ok {
			continue // expunged and already reported
		}
		if v.isExpunged(m.UID) || m.ModSeq <= v.noted[m.UID] {
			continue
		}
		v.checkKeywords(m.Flags)
		v.dirty[m.UID] = *m
		v.setCachedFlags(m.UID, m.Flags) // reported by this sync
	}
	for _, u := range c.Expunged {
		if _, ok := v.index(u); ok {
			v.expunged[u] = struct{}{}
		}
	}
	if c.HighestModSeq > v.modSeq {
		v.modSeq = c.HighestModSeq
	}
	for u, ms := range v.noted {
		if ms <= v.modSeq {
			delete(v.noted, u)
		}
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
		if _, ok := v.index(u); ok {
			v.expunged[u] = struct{}{}
		}
	}
}

// removeUIDs removes the given UIDs (ascending, all in the view) from
// v.uids and the per-message state, and returns their sequence numbers in
// descending order. The UID list is compacted in one pass of block copies.
func (v *selected) removeUIDs(gone []mailstore.UID) []mailstore.SeqNum {
	seqs := make([]mailstore.SeqNum, 0, len(gone))
	idx := make([]int, 0, len(gone))
	for _, u := range gone {
		i, _ := v.index(u)
		idx = append(idx, i)
		if v.trackRecent && v.isRecent(u) {
			v.nRecent--
		}
		delete(v.expunged, u)
		delete(v.dirty, u)
		delete(v.noted, u)
	}
	for k := len(idx) - 1; k >= 0; k-- {
		seqs = append(seqs, mailstore.SeqNum(idx[k]+1))
	}
	w := idx[0]
	for k, i := range idx {
		next := len(v.uids)
		if k+1 < len(idx) {
			next = idx[k+1]
		}
		if v.fc != nil {
			copy(v.fc.idx[w:], v.fc.idx[i+1:next])
		}
		w += copy(v.uids[w:], v.uids[i+1:next])
	}
	v.uids = v.uids[:w]
	if v.fc != nil {
		v.fc.idx = v.fc.idx[:w]
	}
	v.told -= uint32(len(seqs))
	v.toldRec = min(v.toldRec, v.nRecent)
	if len(v.searchRes) > 0 {
		v.searchRes = slices.DeleteFunc(v.searchRes, func(u mailstore.UID) bool {
			_, ok := slices.BinarySearch(gone, u)
			return ok
		})
	}
	return seqs
}

// removeNow removes exactly the given messages (moved away by this
// session's MOVE, which must report them at once, RFC 6851 3.3) and
// returns their sequence numbers in descending order. Expunges by other
// sessions stay pending.
func (v *selected) removeNow(uids []mailstore.UID) []mailstore.SeqNum {
	var gone []mailstore.UID
	for _, u := range uids {
		if _, ok := v.index(u); ok {
			gone = append(gone, u)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	slices.Sort(gone)
	gone = slices.Compact(gone)
	return v.removeUIDs(gone)
}

// takeExpunges removes the messages marked expunged and returns their
// sequence numbers in descending order: sent in that order, every EXPUNGE
// response names the message by its sequence number at that moment (RFC
// 9051 7.5.1: "the message sequence number of each successive message in
// the mailbox is immediately decremented by 1").
func (v *selected) takeExpunges() []mailstore.SeqNum {
	if len(v.expunged) == 0 {
		return nil
	}
	return v.removeUIDs(v.expungedUIDs())
}

// takeDirty returns the flag changes by others not reported yet, in UID
// order, and clears them. Messages expunged meanwhile are left out.
func (v *selected) takeDirty() []mailstore.MessageMeta {
	if len(v.dirty) == 0 {
		return nil
	}
	out := make([]mailstore.MessageMeta, 0, len(v.dirty))
	for u, m := range v.dirty {
		if !v.isExpunged(u) {
			out = append(out, m)
		}
	}
	clear(v.dirty)
	slices.SortFunc(out, func(a, b mailstore.MessageMeta) int { return cmp.Compare(a.UID, b.UID) })
	return out
}

// takeExists returns the message count and \Recent count to report, and
// whether either changed since the client was last told.
func (v *selected) takeExists() (exists, recent uint32, changed bool) {
	exists, recent = uint32(len(v.uids)), v.nRecent
	changed = exists != v.told || (v.trackRecent && recent != v.toldRec)
	v.told, v.toldRec = exists, recent
	return exists, recent, changed
}

// firstUnseen returns the sequence number of the first message without
// \Seen at SELECT, 0 if there is none (RFC 3501 6.3.1 [UNSEEN n]).
func (v *selected) firstUnseen() mailstore.SeqNum {
	if v.firstUnseenUID == 0 {
		return 0
	}
	seq, _ := v.seqOf(v.firstUnseenUID)
	return seq
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
// stampMaxAge bounds how long syncPending trusts an unchanged change
// stamp: a store whose stamp missed a commit (a change file another
// process could not write) costs at most this much delay.
const stampMaxAge = time.Second

func (s *session) syncPending(ctx context.Context, allowExpunge bool) error {
	v := s.sel
	if v == nil {
		return nil
	}
	// Nothing committed since the last read (mailstore.ChangeStamper):
	// the view is current, only what is held back is left to write. The
	// stamp is taken before the read, so a commit racing with it changes
	// the stamp and the next sync point reads again. At least once a
	// second the changes are read anyway, whatever the stamp says.
	stamp, stampOK := uint64(0), false
	if cs, ok := s.acct.(mailstore.ChangeStamper); ok {
		stamp, stampOK = cs.ChangeStamp()
	}
	now := time.Now()
	if stampOK && v.stampOK && stamp == v.stamp && now.Sub(v.stampAt) < stampMaxAge {
		s.writeUpdates(allowExpunge)
		s.noteModSeqReport()
		return s.enc.Err()
	}
	c, err := s.acct.Changes(ctx, v.mailbox.ID, v.modSeq)
	if err == nil {
		v.stamp, v.stampOK, v.stampAt = stamp, stampOK, now
	}
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
	s.noteModSeqReport()
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
	for _, m := range v.takeDirty() {
		// RFC 9051 7.5.2: unsolicited FETCH responses carry the UID, so
		// that a client in the middle of UID commands can place them
		// (Dovecot and mox do the same).
		s.writeFetchFlags(&m, true)
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
func (s *session) writeFetchFlags(m *mailstore.MessageMeta, withUID bool) {
	v := s.sel
	seq, ok := v.seqOf(m.UID)
	if !ok {
		return
	}
	cs := s.condStore()
	s.enc.Untagged().Number(uint32(seq)).SP().Atom("FETCH").SP().BeginList()
	if withUID || cs {
		s.enc.Atom("UID").SP().Number(uint32(m.UID)).SP()
	}
	s.enc.Atom("FLAGS").SP().Flags(v.flagsOf(m))
	if cs {
		s.enc.SP().Atom("MODSEQ").SP().Special('(').Number64(uint64(m.ModSeq)).Special(')')
		v.fetchModSeq = max(v.fetchModSeq, m.ModSeq)
	}
	s.enc.EndList().CRLF()
}

// writeFetchModSeq writes "* seq FETCH (UID u MODSEQ (m))": the answer to
// a STORE .SILENT for a CONDSTORE client, which still needs the new
// modseq (RFC 7162 3.1.3 example 3; Dovecot does the same).
func (s *session) writeFetchModSeq(uid mailstore.UID, modSeq mailstore.ModSeq) {
	seq, ok := s.sel.seqOf(uid)
	if !ok {
		return
	}
	s.sel.fetchModSeq = max(s.sel.fetchModSeq, modSeq)
	s.enc.Untagged().Number(uint32(seq)).SP().Atom("FETCH").SP().BeginList().
		Atom("UID").SP().Number(uint32(uid)).SP().
		Atom("MODSEQ").SP().Special('(').Number64(uint64(modSeq)).Special(')').EndList().CRLF()
}

// expungedUIDs returns the UIDs of the messages marked expunged, ascending
// (for VANISHED; takeExpunges then removes them).
func (v *selected) expungedUIDs() []mailstore.UID {
	if len(v.expunged) == 0 {
		return nil
	}
	out := make([]mailstore.UID, 0, len(v.expunged))
	for u := range v.expunged {
		out = append(out, u)
	}
	slices.Sort(out)
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
	if v := s.sel; v != nil && v.shared != nil {
		v.flagIdx.release(v.shared)
		v.shared = nil
	}
	s.sel = nil
	s.noteMailbox("")
	if s.state == stateSelected {
		s.state = stateAuthenticated
	}
}
