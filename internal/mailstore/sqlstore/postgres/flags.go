package postgres

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
)

// System flag bits of message.flags.
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
	// Sorted by name, so that flagList needs no sort without keywords.
	{mailstore.FlagAnswered, bitAnswered},
	{mailstore.FlagDeleted, bitDeleted},
	{mailstore.FlagDraft, bitDraft},
	{mailstore.FlagFlagged, bitFlagged},
	{mailstore.FlagSeen, bitSeen},
}

// parseFlags validates flags and splits them into system flag bits and
// keywords (not yet in their stored spelling; see canonicalKeywords).
func parseFlags(flags []string) (int64, []string, error) {
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

// canonicalKeywords returns keywords in the spelling of their first use in
// the account. With create, unknown keywords are recorded with the given
// spelling (in sorted order, so that concurrent transactions lock keyword
// rows in one order); without, they are left out (no message can have
// them).
func canonicalKeywords(ctx context.Context, tx pgx.Tx, acct int64, kws []string, create bool) ([]string, error) {
	if len(kws) == 0 {
		return nil, nil
	}
	lower := make([]string, len(kws))
	for i, k := range kws {
		lower[i] = asciiLower(k)
	}
	if create {
		sorted := slices.Clone(kws)
		slices.SortFunc(sorted, func(a, b string) int { return strings.Compare(asciiLower(a), asciiLower(b)) })
		lsorted := make([]string, len(sorted))
		for i, k := range sorted {
			lsorted[i] = asciiLower(k)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO keywords (account_id, lname, name)
			SELECT $1, l, k FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(k, l, i) ORDER BY i
			ON CONFLICT DO NOTHING`, acct, sorted, lsorted); err != nil {
			return nil, err
		}
	}
	rows, err := tx.Query(ctx, `SELECT lname, name FROM keywords WHERE account_id = $1 AND lname = ANY($2)`, acct, lower)
	if err != nil {
		return nil, err
	}
	spelling := map[string]string{}
	var l, n string
	if _, err := pgx.ForEachRow(rows, []any{&l, &n}, func() error {
		spelling[l] = n
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(kws))
	for _, k := range lower {
		if c, ok := spelling[k]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// asciiLower lower-cases ASCII letters only, as PostgreSQL's lower() does
// in the C locale and for the ASCII atoms that keywords are.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// splitKeywords parses the stored keyword list.
func splitKeywords(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// joinKeywords renders a keyword set for storage: sorted, space-separated.
func joinKeywords(kws []string) string {
	sort.Strings(kws)
	return strings.Join(kws, " ")
}

// flagList renders stored flags as MessageMeta.Flags: sorted.
func flagList(bits int64, keywords string) []string {
	n := 0
	for _, fb := range flagBits {
		if bits&fb.bit != 0 {
			n++
		}
	}
	if n == 0 && keywords == "" {
		return nil
	}
	kws := splitKeywords(keywords)
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

// applyFlags computes the new flags of a message for op.
func applyFlags(op mailstore.FlagOp, oldBits int64, oldKws string, bits int64, kws []string) (int64, string) {
	switch op {
	case mailstore.FlagsReplace:
		return bits, joinKeywords(append([]string(nil), kws...))
	case mailstore.FlagsAdd:
		have := splitKeywords(oldKws)
		changed := false
		for _, k := range kws {
			if !contains(have, k) {
				have = append(have, k)
				changed = true
			}
		}
		if changed {
			oldKws = joinKeywords(have)
		}
		return oldBits | bits, oldKws
	case mailstore.FlagsRemove:
		if oldKws != "" && len(kws) > 0 {
			have := splitKeywords(oldKws)
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
