package imapserver

import (
	"context"
	"slices"
	"strconv"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// CONDSTORE and QRESYNC (RFC 7162). They fall out of the store's modseq
// log (DESIGN.md section 1 decision 3): every message has a MODSEQ, every
// mailbox a HIGHESTMODSEQ, and an expunge leaves a tombstone (uid, modseq)
// that Changes(since) reports. The session keeps the state in s.enabled:
// "CONDSTORE" once any CONDSTORE enabling command ran (RFC 7162 3.1),
// "QRESYNC" after ENABLE QRESYNC (which implies CONDSTORE, 3.2.3).

func init() {
	// Listed after the others; advertised because SELECT declares them
	// (cmd_select.go).
	capOrder = append(capOrder, "CONDSTORE", "QRESYNC") // RFC 7162 3.1, 3.2
}

// condStore reports whether CONDSTORE is enabled for the session.
func (s *session) condStore() bool { return s.enabled["CONDSTORE"] }

// qresync reports whether QRESYNC is enabled (ENABLE QRESYNC, RFC 7162
// 3.2.3): VANISHED replaces EXPUNGE from then on.
func (s *session) qresync() bool { return s.enabled["QRESYNC"] }

// enableCondStore is called by every CONDSTORE enabling command (RFC 7162
// 3.1: SELECT/EXAMINE (CONDSTORE), STATUS HIGHESTMODSEQ, FETCH MODSEQ or
// CHANGEDSINCE, SEARCH MODSEQ, STORE UNCHANGEDSINCE, ENABLE). From then on
// every untagged FETCH caused by a flag change carries UID and MODSEQ.
// When a mailbox is selected and CONDSTORE was not enabled yet, the client
// has not seen its HIGHESTMODSEQ: "* OK [HIGHESTMODSEQ n]" is written
// before the command's own responses (RFC 7162 3.1; Dovecot does the same).
func (s *session) enableCondStore() {
	if s.enabled["CONDSTORE"] {
		return
	}
	s.enabled["CONDSTORE"] = true
	if s.sel != nil {
		s.writeHighestModSeq()
	}
}

// writeHighestModSeq writes "* OK [HIGHESTMODSEQ n] Highest" for the
// selected mailbox: the modseq up to which the view is synced. Roost never
// answers NOMODSEQ: every mailbox has modseqs.
func (s *session) writeHighestModSeq() {
	s.enc.Untagged().Atom("OK").SP().Raw("[HIGHESTMODSEQ ").Number64(uint64(s.sel.modSeq)).Raw("]").SP().
		Text("Highest").CRLF()
}

// highestModSeqCode is the "HIGHESTMODSEQ n" response code for a tagged OK
// after expunges were reported as VANISHED: VANISHED carries no modseq, so
// a QRESYNC client learns the mailbox's new HIGHESTMODSEQ from the tagged
// reply (Dovecot does this for EXPUNGE; RFC 7162 3.2.10 lets the client
// store it). It replaces any report noteModSeqReport left pending.
func (s *session) highestModSeqCode() string {
	s.sel.reportModSeq = 0
	return "HIGHESTMODSEQ " + strconv.FormatUint(uint64(s.sel.modSeq), 10)
}

// noteModSeqReport runs after every sync point of a QRESYNC session and
// decides whether the client must be told the mailbox's HIGHESTMODSEQ, as
// Dovecot does (checked side by side, docs/imap-condstore.md):
//
//   - Updates were sent and nothing is held back: if the view's modseq is
//     above what the client can work out itself (the last HIGHESTMODSEQ
//     it got, and the MODSEQ of every FETCH it got), the modseq is to be
//     sent. That is the case after VANISHED or EXISTS, which carry no
//     modseq (RFC 7162 3.2.10: the client may then store the HIGHESTMODSEQ
//     and resync from it later); after flag updates alone their FETCH
//     MODSEQ already says it.
//   - Expunges are held back (a command using sequence numbers, RFC 9051
//     7.5.1) while a FETCH showed a MODSEQ above the last complete state:
//     a client that stored that MODSEQ as its HIGHESTMODSEQ would never
//     learn of the held-back expunges, so the last complete modseq is
//     sent again to correct it, and the next complete sync sends the new
//     one even if a FETCH showed it.
//
// Where it is sent: on the tagged OK of the command (okModSeqCode), or
// untagged as "* OK [HIGHESTMODSEQ n] Highest" when the update came
// outside a command (IDLE, NOTIFY between commands: writeModSeqReport).
// CONDSTORE-only sessions get EXPUNGE, not VANISHED, and nothing here
// (Dovecot sends nothing either).
func (s *session) noteModSeqReport() {
	v := s.sel
	if v == nil || !s.qresync() {
		return
	}
	if len(v.expunged) > 0 {
		if v.fetchModSeq > v.fullModSeq {
			// The client is told to go back to fullModSeq: from then on
			// it cannot know anything newer until told, so the next
			// complete sync reports (Dovecot leaves that one out).
			v.reportModSeq = v.fullModSeq
			v.fetchModSeq = v.fullModSeq
		}
		return
	}
	if v.modSeq > v.fullModSeq && v.modSeq > v.fetchModSeq {
		v.reportModSeq = v.modSeq
	}
	v.fullModSeq = v.modSeq
}

// okModSeqCode returns the pending HIGHESTMODSEQ report as a response code
// for a tagged OK ("" if none) and clears it.
func (s *session) okModSeqCode() string {
	v := s.sel
	if v == nil || v.reportModSeq == 0 {
		return ""
	}
	code := "HIGHESTMODSEQ " + strconv.FormatUint(uint64(v.reportModSeq), 10)
	v.reportModSeq = 0
	return code
}

// writeModSeqReport writes the pending HIGHESTMODSEQ report as an untagged
// "* OK [HIGHESTMODSEQ n] Highest" (updates sent outside a command: IDLE,
// NOTIFY) and clears it.
func (s *session) writeModSeqReport() {
	v := s.sel
	if v == nil || v.reportModSeq == 0 {
		return
	}
	s.enc.Untagged().Atom("OK").SP().Raw("[HIGHESTMODSEQ ").Number64(uint64(v.reportModSeq)).Raw("]").SP().
		Text("Highest").CRLF()
	v.reportModSeq = 0
}

// writeVanished writes "* VANISHED uid-set" (earlier false: the messages
// leave the view now, replacing EXPUNGE for QRESYNC clients, RFC 7162
// 3.2.10) or "* VANISHED (EARLIER) uid-set" (messages expunged before,
// which do not change the message count). uids must be ascending; nothing
// is written for none.
func (s *session) writeVanished(earlier bool, uids []mailstore.UID) {
	if len(uids) == 0 {
		return
	}
	nums := make([]uint32, len(uids))
	for i, u := range uids {
		nums[i] = uint32(u)
	}
	s.enc.Untagged().Atom("VANISHED").SP()
	if earlier {
		s.enc.Raw("(EARLIER)").SP()
	}
	s.enc.Raw(compactSet(nums)).CRLF()
}

// setHas reports whether the UID set contains u. "*" stands for every UID
// from the range's other end up: in a set of UIDs that may be gone (QRESYNC
// known-uids, UID FETCH VANISHED) the largest UID in use says nothing about
// the expunged ones above it, and "1:*" must mean all of them.
func setHas(set imap.NumSet, u mailstore.UID) bool {
	for _, r := range set.Ranges {
		a, b := r.Start, r.Stop
		if a == imap.Star {
			a, b = b, a
		}
		if b == imap.Star {
			if uint32(u) >= a {
				return true
			}
			continue
		}
		if a > b {
			a, b = b, a
		}
		if uint32(u) >= a && uint32(u) <= b {
			return true
		}
	}
	return false
}

// vanishedSince returns the UIDs expunged from the selected mailbox after
// modseq since (from the store's tombstones), ascending, restricted to set
// when set is non-nil. UIDs still in the view (expunged by another session
// but not reported yet) are left out: the next sync point reports them
// with a plain VANISHED, which also removes them from the message count.
func (s *session) vanishedSince(ctx context.Context, since mailstore.ModSeq, set *imap.NumSet) ([]mailstore.UID, error) {
	v := s.sel
	c, err := s.acct.Changes(ctx, v.mailbox.ID, since)
	if err != nil {
		return nil, wrapf(err, "expunges of %q since %d", v.mailbox.Name, since)
	}
	out := c.Expunged[:0]
	for _, u := range c.Expunged {
		if _, inView := v.index(u); inView {
			continue
		}
		if set != nil && !setHas(*set, u) {
			continue
		}
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

// qresyncSelect sends what a client that selected with QRESYNC (RFC 7162
// 3.2.5) lacks, after the usual SELECT responses: "* VANISHED (EARLIER)"
// for the messages expunged since the client's modseq (only those among
// known-uids when given), then "* n FETCH (UID u FLAGS (...) MODSEQ (m))"
// for every message changed or added since then. Nothing is sent when the
// UIDVALIDITY differs: the client must drop its cache anyway (RFC 7162
// 3.2.5.1).
//
// The tombstones are read after the view was built, so a message expunged
// in between is still in the view and is reported later by a plain
// VANISHED; none is missed.
//
// seq-match-data narrows the report (RFC 7162 3.2.5.2): when the client's
// sequence number of a UID equals ours, the client and we agree on the
// messages below that UID, so UIDs below it need no VANISHED. With every
// tombstone kept (docs/imap-condstore.md) the report is exact without it;
// it only makes the answer shorter.
func (s *session) qresyncSelect(ctx context.Context, q *imap.QResyncParams) error {
	v := s.sel
	if q.UIDValidity != v.mailbox.UIDValidity {
		return nil
	}
	gone, err := s.vanishedSince(ctx, q.ModSeq, q.KnownUIDs)
	if err != nil {
		return err
	}
	if q.SeqMatch != nil && len(gone) > 0 {
		if below := v.seqMatchBelow(q.SeqMatch.Seqs, q.SeqMatch.UIDs); below > 0 {
			gone = slices.DeleteFunc(gone, func(u mailstore.UID) bool { return u < below })
		}
	}
	s.writeVanished(true, gone)
	// The messages changed or added since the client's modseq, from the
	// store's modseq index: work in proportion to the changes.
	c, err := s.acct.Changes(ctx, v.mailbox.ID, q.ModSeq)
	if err != nil {
		return wrapf(err, "changes of %q since %d", v.mailbox.Name, q.ModSeq)
	}
	for i := range c.Updated {
		m := &c.Updated[i]
		if _, ok := v.index(m.UID); ok && !v.isExpunged(m.UID) {
			v.noteFlags(m)
			s.writeFetchFlags(m, true)
		}
	}
	return nil
}

// maxSeqMatch bounds the pairs of seq-match-data looked at; clients send a
// few (RFC 7162 3.2.5.2 suggests an exponential sample).
const maxSeqMatch = 10000

// seqMatchBelow returns the largest UID of the seq-match-data whose
// sequence number in the view equals the client's, or 0 when none does or
// the two sets differ in size (then the data is ignored).
func (v *selected) seqMatchBelow(seqs, uids imap.NumSet) mailstore.UID {
	sl, ok1 := expandSet(seqs, maxSeqMatch)
	ul, ok2 := expandSet(uids, maxSeqMatch)
	if !ok1 || !ok2 || len(sl) != len(ul) {
		return 0
	}
	var best mailstore.UID
	for i := range ul {
		seq, ok := v.seqOf(mailstore.UID(ul[i]))
		if ok && uint32(seq) == sl[i] && mailstore.UID(ul[i]) > best {
			best = mailstore.UID(ul[i])
		}
	}
	return best
}

// expandSet lists the numbers of a set in the order given, or false when
// it has "*" or more than max numbers.
func expandSet(set imap.NumSet, max int) ([]uint32, bool) {
	var out []uint32
	for _, r := range set.Ranges {
		if r.Start == imap.Star || r.Stop == imap.Star {
			return nil, false
		}
		a, b := r.Start, r.Stop
		if a > b {
			a, b = b, a
		}
		if len(out)+int(b-a)+1 > max {
			return nil, false
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, true
}
