package imapserver

import (
	"context"
	"slices"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
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
	if v.flagIdx != nil {
		// From the process's shared index of the mailbox: a scan only
		// for the first session (flagindex.go).
		x := v.flagIdx.acquire(flagIndexKey{v.user, v.mailbox.ID, v.mailbox.UIDValidity})
		x.mu.Lock()
		_, err := x.update(ctx, acct, &v.flagIdx.scans)
		if err == nil {
			x.fillFrom(v, fc)
		}
		x.mu.Unlock()
		if err != nil {
			v.flagIdx.release(x)
			return false, err
		}
		v.fc, v.shared = fc, x
		return true, nil
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

// flagsOnlyKey reports whether k needs nothing but flags, \Recent,
// sequence numbers and UIDs: the flag cache can evaluate it.
func flagsOnlyKey(k *imap.SearchKey) bool {
	switch k.Op {
	case "ALL", "AND", "OR", "NOT", "ANSWERED", "UNANSWERED", "DELETED", "UNDELETED", "DRAFT", "UNDRAFT",
		"FLAGGED", "UNFLAGGED", "SEEN", "UNSEEN", "KEYWORD", "UNKEYWORD", "RECENT", "NEW", "OLD", "SEQSET", "UIDSET":
	default:
		return false
	}
	for _, c := range k.Children {
		if !flagsOnlyKey(c) {
			return false
		}
	}
	return true
}

// searchCached evaluates a flag-only key over the flag cache (filling it
// for a large mailbox); messages without a cached entry are read from the
// store. ok is false when the cache is not used: the caller searches the
// store.
func (env *searchEnv) searchCached(ctx context.Context, acct mailstore.Account, k *imap.SearchKey) (out []mailstore.UID, ok bool, err error) {
	v := env.v
	if !flagsOnlyKey(k) {
		return nil, false, nil
	}
	if ok, err := v.useFlagCache(ctx, acct, len(v.uids)); !ok || err != nil {
		return nil, false, err
	}
	env.maxModSeq = 0
	var unknown []mailstore.UID
	var m mailstore.MessageMeta
	for i, u := range v.uids {
		fl, known := v.cachedFlags(i)
		if !known {
			unknown = append(unknown, u)
			continue
		}
		m = mailstore.MessageMeta{UID: u, Flags: fl}
		t, err := env.eval(k, i, &m, nil)
		if err != nil {
			return nil, true, err
		}
		if t == triYes {
			out = append(out, u)
		}
	}
	if len(unknown) == 0 {
		return out, true, nil
	}
	err = v.metas(ctx, acct, unknown, func(_ []mailstore.UID, ms []mailstore.MessageMeta) error {
		for j := range ms {
			i, _ := v.index(ms[j].UID)
			t, err := env.eval(k, i, &ms[j], nil)
			if err != nil {
				return err
			}
			if t == triYes {
				out = append(out, ms[j].UID)
			}
		}
		return nil
	})
	slices.Sort(out)
	return out, true, err
}
