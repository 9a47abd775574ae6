package sqlstore

import (
	"slices"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestUIDSpan: FETCH 1:* style sets are dense (one range scan), a few UIDs
// far apart are not (looked up one by one); KeepAsked drops the rows of
// the range that were not asked for.
func TestUIDSpan(t *testing.T) {
	if lo, hi, dense := UIDSpan([]mailstore.UID{7, 3, 5, 4}); lo != 3 || hi != 7 || !dense {
		t.Errorf("UIDSpan(7 3 5 4) = %d %d %v", lo, hi, dense)
	}
	if _, _, dense := UIDSpan([]mailstore.UID{1, 1000}); dense {
		t.Error("UIDSpan(1 1000) is dense")
	}
	var rows []mailstore.MessageMeta
	for u := mailstore.UID(3); u <= 7; u++ {
		rows = append(rows, mailstore.MessageMeta{UID: u})
	}
	got := KeepAsked(slices.Clone(rows), []mailstore.UID{7, 3, 5, 4}, 3, 7)
	var uids []mailstore.UID
	for _, m := range got {
		uids = append(uids, m.UID)
	}
	if !slices.Equal(uids, []mailstore.UID{3, 4, 5, 7}) {
		t.Errorf("KeepAsked = %v", got)
	}
	if got := KeepAsked(slices.Clone(rows), []mailstore.UID{3, 4, 5, 6, 7}, 3, 7); len(got) != 5 {
		t.Errorf("KeepAsked of the whole range = %v", got)
	}
	set := AddKeywords(nil, "$Junk Work")
	set = AddKeywords(set, "Work $Label")
	slices.Sort(set)
	if !slices.Equal(set, []string{"$Junk", "$Label", "Work"}) {
		t.Errorf("AddKeywords: %q", set)
	}
}
