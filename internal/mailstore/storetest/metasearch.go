package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// testSearchMeta checks the optional mailstore.MetaSearcher against the
// same conditions evaluated over Metas: days in the message's own zone
// (around midnight on both sides of UTC), sizes at the boundaries, AND,
// OR, NOT. A backend without the interface passes by not having it (the
// IMAP server then searches through Metas).
func testSearchMeta(t *testing.T, s *suite) {
	acc := s.account("alice")
	ms, ok := acc.(mailstore.MetaSearcher)
	if !ok {
		t.Log("backend does not implement mailstore.MetaSearcher (optional)")
		return
	}
	mb := s.mailbox(acc, "INBOX")
	if got, err := ms.SearchMeta(s.ctx, mb.ID, mailstore.MetaCond{Op: mailstore.MetaAll}); err != nil || len(got) != 0 {
		t.Fatalf("empty mailbox: %v %v", got, err)
	}
	// Internal dates near day boundaries in several zones: 23:30 at
	// +14:00 is still that day locally although UTC is the day before;
	// 00:30 at -12:00 likewise the other way.
	zones := []int{0, 14 * 3600, -12 * 3600, 3600, -5 * 3600}
	var n int
	for d := 0; d < 3; d++ {
		for zi, z := range zones {
			for _, hm := range [][2]int{{0, 30}, {23, 30}} {
				loc := time.FixedZone("", z)
				date := time.Date(2026, 3, 1+d, hm[0], hm[1], 0, 0, loc)
				body := msg(n) + strings.Repeat("x", (n*37)%200)
				n++
				if _, _, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{InternalDate: date}, strings.NewReader(body)); err != nil {
					t.Fatalf("append %d (zone %d): %v", n, zi, err)
				}
			}
		}
	}
	all := s.messages(acc, mb.ID)
	day := func(m mailstore.MessageMeta) int64 {
		y, mo, d := m.InternalDate.Date()
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	d2 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Unix() / 86400
	sizes := make([]int64, 0, len(all))
	for _, m := range all {
		sizes = append(sizes, m.Size)
	}
	slices.Sort(sizes)
	mid := sizes[len(sizes)/2]

	var eval func(c mailstore.MetaCond, m mailstore.MessageMeta) bool
	eval = func(c mailstore.MetaCond, m mailstore.MessageMeta) bool {
		switch c.Op {
		case mailstore.MetaAll:
			return true
		case mailstore.MetaAnd:
			for _, ch := range c.Children {
				if !eval(ch, m) {
					return false
				}
			}
			return true
		case mailstore.MetaOr:
			for _, ch := range c.Children {
				if eval(ch, m) {
					return true
				}
			}
			return false
		case mailstore.MetaNot:
			return !eval(c.Children[0], m)
		case mailstore.MetaDayBefore:
			return day(m) < c.Day
		case mailstore.MetaDayOn:
			return day(m) == c.Day
		case mailstore.MetaDaySince:
			return day(m) >= c.Day
		case mailstore.MetaLarger:
			return m.Size > c.Size
		case mailstore.MetaSmaller:
			return m.Size < c.Size
		}
		panic(c.Op)
	}
	conds := []mailstore.MetaCond{
		{Op: mailstore.MetaAll},
		{Op: mailstore.MetaDayBefore, Day: d2},
		{Op: mailstore.MetaDayOn, Day: d2},
		{Op: mailstore.MetaDaySince, Day: d2},
		{Op: mailstore.MetaDaySince, Day: d2 + 5},
		{Op: mailstore.MetaLarger, Size: mid},
		{Op: mailstore.MetaSmaller, Size: mid},
		{Op: mailstore.MetaLarger, Size: sizes[len(sizes)-1]},
		{Op: mailstore.MetaAnd, Children: []mailstore.MetaCond{{Op: mailstore.MetaDayOn, Day: d2}, {Op: mailstore.MetaLarger, Size: mid}}},
		{Op: mailstore.MetaOr, Children: []mailstore.MetaCond{{Op: mailstore.MetaDayBefore, Day: d2}, {Op: mailstore.MetaSmaller, Size: sizes[2]}}},
		{Op: mailstore.MetaNot, Children: []mailstore.MetaCond{{Op: mailstore.MetaDayOn, Day: d2}}},
	}
	onD2 := 0
	for _, m := range all {
		if day(m) == d2 {
			onD2++
		}
	}
	if onD2 != len(zones)*2 {
		t.Fatalf("test data: %d messages on day 2, want %d (internal dates lost their zone?)", onD2, len(zones)*2)
	}
	for _, c := range conds {
		var want []mailstore.UID
		for _, m := range all {
			if eval(c, m) {
				want = append(want, m.UID)
			}
		}
		got, err := ms.SearchMeta(s.ctx, mb.ID, c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: got %v, want %v", c, got, want)
		}
	}
	if _, err := ms.SearchMeta(s.ctx, 999999, mailstore.MetaCond{Op: mailstore.MetaAll}); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Errorf("unknown mailbox: %v, want KindNotFound", err)
	}
}
