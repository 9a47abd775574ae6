package imapserver

import (
	"context"
	"slices"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

func init() {
	commands["STORE"] = commandSpec{states: selectedOnly, flags: flagUsesSeqs, run: (*session).cmdStore}
	commands["UID STORE"] = commandSpec{states: selectedOnly, flags: flagUID, run: (*session).cmdStore}
}

// errInvalidSeqSet answers a sequence set naming numbers beyond the
// mailbox (RFC 9051 9: seq-number is a number "in use"); Dovecot answers
// "BAD Error in IMAP command STORE: Invalid messageset".
var errInvalidSeqSet = statusBAD("", "Invalid messageset.")

// cmdStore is STORE and UID STORE (RFC 9051 6.4.6), with UNCHANGEDSINCE
// (RFC 7162 3.1.3) passed to the store.
//
// Messages expunged by another session (not yet reported) are skipped and
// the command still succeeds (RFC 2180 4.2.1 allows either; Dovecot
// answers OK). Each message's new flags are returned as
// "* seq FETCH (FLAGS (...))" (with UID for UID STORE, RFC 9051 6.4.9),
// unless .SILENT. A keyword used for the first time is announced first with
// a new FLAGS and PERMANENTFLAGS.
func (s *session) cmdStore(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.StoreCmd)
	v := s.sel
	if v.readOnly {
		return errReadOnly
	}
	if !cmd.UID && !v.seqSetValid(args.Set) {
		return errInvalidSeqSet
	}
	for _, f := range args.Flags {
		// RFC 3501 2.3.2: \Recent "cannot be altered by the client".
		if strings.EqualFold(f, flagRecent) {
			return statusBAD("", `Cannot store the \Recent flag.`)
		}
	}
	if args.HasUnchangedSince {
		// RFC 7162 3.1: STORE UNCHANGEDSINCE enables CONDSTORE.
		s.enableCondStore()
	}
	var uids []mailstore.UID
	for _, u := range v.resolve(args.Set, cmd.UID) {
		if !v.isExpunged(u) {
			uids = append(uids, u)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	if args.HasUnchangedSince && args.UnchangedSince == 0 {
		// RFC 7162 3.1.3: "Use of UNCHANGEDSINCE with a modification
		// sequence of 0 always fails if the metadata item exists. A
		// system flag MUST always be considered existent": every
		// message fails, nothing is stored (the store reads 0 as "no
		// condition").
		return modifiedReply(v, uids, cmd.UID)
	}
	// What the client will believe after a .SILENT store, per message.
	// Only messages whose current state the client knows are in expect:
	// for the others the sync point still has a change to report.
	var expect map[mailstore.UID][]string
	if args.Silent {
		expect = make(map[mailstore.UID][]string, len(uids))
		err := v.metas(ctx, s.acct, uids, func(_ []mailstore.UID, ms []mailstore.MessageMeta) error {
			for i := range ms {
				if v.knows(&ms[i]) {
					expect[ms[i].UID] = applyFlagOp(args.Op, ms[i].Flags, args.Flags)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	updated, failed, err := s.acct.StoreFlags(ctx, v.mailbox.ID, uids, args.Op, args.Flags, args.UnchangedSince)
	if err != nil {
		return err
	}
	noted := make([]bool, len(updated))
	for i := range updated {
		m := &updated[i]
		if exp, ok := expect[m.UID]; args.Silent && (!ok || !sameFlags(exp, m.Flags)) {
			// Another session changed the message too: leave it to the
			// sync point, which reports the flags that differ from what
			// the client expects ("changes by others are still
			// reported").
			continue
		}
		v.noteFlags(m)
		noted[i] = true
	}
	if v.keywordsNew {
		s.writeFlags()
	}
	for i := range updated {
		switch {
		case !args.Silent:
			s.writeFetchFlags(&updated[i], cmd.UID)
		case s.condStore() && noted[i]:
			// RFC 7162 3.1.3: with .SILENT a CONDSTORE client still
			// gets the new MODSEQ (example 3: "* 1 FETCH (UID 4 MODSEQ
			// (12121231000))"). A message another session changed too
			// was not noted above; the sync point reports its flags.
			s.writeFetchModSeq(updated[i].UID, updated[i].ModSeq)
		}
	}
	if len(failed) > 0 {
		return modifiedReply(v, failed, cmd.UID)
	}
	return nil
}

// modifiedReply is the tagged "OK [MODIFIED set]" of RFC 7162 3.1.3: the
// messages that failed the UNCHANGEDSINCE test, as UIDs for UID STORE and
// sequence numbers for STORE.
func modifiedReply(v *selected, failed []mailstore.UID, uid bool) error {
	nums := make([]uint32, 0, len(failed))
	for _, u := range failed {
		if uid {
			nums = append(nums, uint32(u))
		} else if seq, ok := v.seqOf(u); ok {
			nums = append(nums, uint32(seq))
		}
	}
	return okText("MODIFIED "+compactSet(nums), "Conditional STORE failed.")
}

// applyFlagOp returns the flags after op with args applied to cur, sorted,
// without \Recent (which the store does not keep).
func applyFlagOp(op mailstore.FlagOp, cur, args []string) []string {
	var out []string
	switch op {
	case mailstore.FlagsReplace:
	default:
		for _, f := range cur {
			if f != flagRecent {
				out = append(out, f)
			}
		}
	}
	for _, f := range args {
		f = mailstore.CanonicalFlag(f)
		switch op {
		case mailstore.FlagsRemove:
			out = slices.DeleteFunc(out, func(g string) bool { return strings.EqualFold(f, g) })
		default:
			if !containsFold(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// sameFlags compares two flag lists as case-insensitive sets.
func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !containsFold(b, f) {
			return false
		}
	}
	return true
}
