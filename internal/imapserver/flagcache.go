package imapserver

import (
	"context"
	"slices"
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
)

// flagCache is the selected view's optional compact copy of every
// message's flags (docs/imap-scale.md): 2 bytes per message, an index into
// the distinct flag combinations, filled by the first whole-mailbox FETCH
// of flags or flag-only SEARCH (Account.ScanFlags, one narrow read) and
// then kept by the view like its UID list. An entry holds the flags the
// client knows (the state at the view's sync point, or newer ones it was
// told); flagsUnknown means "ask the store" (the message changed after the
// sync point and the client was not told yet, or too many combinations).
type flagCache struct {
	idx  []uint16 // parallel to selected.uids
	sets [][]string
	set  map[string]uint16
}

const flagsUnknown = 0xFFFF

// minFlagCache is the smallest request (messages) that fills the cache;
// smaller ones read the store in batches.
var minFlagCache = 1000

func (c *flagCache) intern(flags []string) uint16 {
	key := strings.Join(flags, " ")
	if i, ok := c.set[key]; ok {
		return i
	}
	if len(c.sets) >= flagsUnknown {
		return flagsUnknown
	}
	i := uint16(len(c.sets))
	c.sets = append(c.sets, slices.Clone(flags))
	c.set[key] = i
	return i
}

// cachedFlags returns the cached flags of the message at view index i.
func (v *selected) cachedFlags(i int) ([]string, bool) {
	if v.fc == nil || i >= len(v.fc.idx) || v.fc.idx[i] == flagsUnknown {
		return nil, false
	}
	return v.fc.sets[v.fc.idx[i]], true
}

// setCachedFlags records flags as what the client knows of uid.
func (v *selected) setCachedFlags(uid mailstore.UID, flags []string) {
	if v.fc == nil {
		return
	}
	if i, ok := v.index(uid); ok && i < len(v.fc.idx) {
		v.fc.idx[i] = v.fc.intern(flags)
	}
}

// useFlagCache fills the cache for a command about n messages when it is
// worth it, and reports whether the cache is there.
func (v *selected) useFlagCache(ctx context.Context, acct mailstore.Account, n int) (bool, error) {
	if v.fc != nil {
		return true, nil
	}
	if n < minFlagCache {
		return false, nil
	}
	fc := &flagCache{idx: make([]uint16, len(v.uids)), set: map[string]uint16{}}
	for i := range fc.idx {
		fc.idx[i] = flagsUnknown
	}
	j := 0
	err := acct.ScanFlags(ctx, v.mailbox.ID, func(uid mailstore.UID, ms mailstore.ModSeq, flags []string) error {
		for j < len(v.uids) && v.uids[j] < uid {
			j++
		}
		if j >= len(v.uids) || v.uids[j] != uid || ms > v.modSeq || v.isExpunged(uid) {
			return nil
		}
		if _, dirty := v.dirty[uid]; !dirty {
			fc.idx[j] = fc.intern(flags)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	v.fc = fc
	return true, nil
}
