package sqlstore

import (
	"sort"
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
)

// System flag bits of the flags column of a message row, the same in both
// backends (their SQL tests them as literals, e.g. (flags & 1) = 0 for
// unseen).
const (
	bitSeen     = 1
	bitAnswered = 2
	bitFlagged  = 4
	bitDeleted  = 8
	bitDraft    = 16
	bitsAll     = 31
)

var flagBits = [...]struct {
	name string
	bit  int64
}{
	// Sorted by name, so that FlagList needs no sort without keywords.
	{mailstore.FlagAnswered, bitAnswered},
	{mailstore.FlagDeleted, bitDeleted},
	{mailstore.FlagDraft, bitDraft},
	{mailstore.FlagFlagged, bitFlagged},
	{mailstore.FlagSeen, bitSeen},
}

// ParseFlags validates flags and splits them into system flag bits and
// keywords (not yet in their stored spelling: each backend maps them to
// the spelling of their first use in the account).
func ParseFlags(flags []string) (int64, []string, error) {
	norm, err := mailstore.NormalizeFlags(flags)
	if err != nil {
		return 0, nil, err
	}
	var bits int64
	var kws []string
	for _, f := range norm {
		if strings.HasPrefix(f, `\`) {
			for _, fb := range flagBits {
				if fb.name == f {
					bits |= fb.bit
				}
			}
			continue
		}
		kws = append(kws, f)
	}
	return bits, kws, nil
}

// SplitKeywords parses the stored keyword list.
func SplitKeywords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// JoinKeywords renders a keyword set for storage: sorted, space-separated.
func JoinKeywords(kws []string) string {
	sort.Strings(kws)
	return strings.Join(kws, " ")
}

// FlagList renders stored flags as MessageMeta.Flags: sorted.
func FlagList(bits int64, keywords string) []string {
	n := 0
	for _, fb := range flagBits {
		if bits&fb.bit != 0 {
			n++
		}
	}
	if n == 0 && keywords == "" {
		return nil
	}
	kws := SplitKeywords(keywords)
	out := make([]string, 0, n+len(kws))
	for _, fb := range flagBits {
		if bits&fb.bit != 0 {
			out = append(out, fb.name)
		}
	}
	if len(kws) > 0 {
		out = append(out, kws...)
		sort.Strings(out)
	}
	return out
}

// ApplyFlags computes the new flags of a message for op (STORE FLAGS,
// +FLAGS, -FLAGS; RFC 9051 section 6.4.6) from its old bits and stored
// keyword list; kws must already be in their stored spelling.
func ApplyFlags(op mailstore.FlagOp, oldBits int64, oldKws string, bits int64, kws []string) (int64, string) {
	switch op {
	case mailstore.FlagsReplace:
		return bits, JoinKeywords(append([]string(nil), kws...))
	case mailstore.FlagsAdd:
		have := SplitKeywords(oldKws)
		changed := false
		for _, k := range kws {
			if !contains(have, k) {
				have = append(have, k)
				changed = true
			}
		}
		if changed {
			oldKws = JoinKeywords(have)
		}
		return oldBits | bits, oldKws
	case mailstore.FlagsRemove:
		if oldKws != "" && len(kws) > 0 {
			have := SplitKeywords(oldKws)
			keep := have[:0]
			for _, k := range have {
				if !contains(kws, k) {
					keep = append(keep, k)
				}
			}
			oldKws = strings.Join(keep, " ")
		}
		return oldBits &^ bits, oldKws
	}
	return oldBits, oldKws
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CheckFlagOp refuses a FlagOp that is none of FLAGS, +FLAGS and -FLAGS.
func CheckFlagOp(op mailstore.FlagOp) error {
	if op != mailstore.FlagsReplace && op != mailstore.FlagsAdd && op != mailstore.FlagsRemove {
		return mailstore.Errorf(mailstore.KindInvalid, "unknown flag operation")
	}
	return nil
}

// FlagChange is one message a STORE changes: its index in the updated
// list of PlanStore and its new stored flags.
type FlagChange struct {
	I        int
	Bits     int64
	Keywords string
}

// PlanStore reads rows (MetaColumns, the messages a STORE names, in UID
// order) and computes the STORE: updated lists the messages it applies to
// with their old flags; failed those left alone because their MODSEQ is
// above unchangedSince (RFC 7162 section 3.1.3; 0: no condition); changes
// the messages whose flags differ afterwards. kws must already be in their
// stored spelling. The caller closes rows, writes the changes, and then
// calls SetStored.
func PlanStore(rows Rows, op mailstore.FlagOp, bits int64, kws []string, unchangedSince mailstore.ModSeq) (
	updated []mailstore.MessageMeta, failed []mailstore.UID, changes []FlagChange, err error) {
	var ms MetaScanner
	for rows.Next() {
		meta, oldBits, oldKws, err := ms.Scan(rows)
		if err != nil {
			return nil, nil, nil, err
		}
		if unchangedSince > 0 && meta.ModSeq > unchangedSince {
			failed = append(failed, meta.UID)
			continue
		}
		newBits, newKws := ApplyFlags(op, oldBits, oldKws, bits, kws)
		if newBits != oldBits || newKws != oldKws {
			changes = append(changes, FlagChange{len(updated), newBits, newKws})
		}
		updated = append(updated, meta)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, err
	}
	return updated, failed, changes, nil
}

// SetStored gives the changed messages of updated their new flags and
// modseq, the one new MODSEQ of the whole STORE (RFC 7162 section 3.1:
// each STORE gets a different, higher mod-sequence).
func SetStored(updated []mailstore.MessageMeta, changes []FlagChange, modseq mailstore.ModSeq) {
	for _, c := range changes {
		updated[c.I].Flags = FlagList(c.Bits, c.Keywords)
		updated[c.I].ModSeq = modseq
	}
}
