package imapserver

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/roost-mail/roost/internal/mailstore"
)

// flagIndexes holds the process-wide flag index of every mailbox for which
// at least one session has its flag cache filled (docs/imap-scale.md,
// "Shared flag index"). The first session's whole-mailbox flag read scans
// the mailbox (Account.ScanFlags) into the index; later sessions bring the
// index up to date from the modseq log (Account.Changes since the index's
// modseq: O(changes)) and copy their flag cache from it in memory, with no
// scan. Sessions hold a reference while their flag cache exists; the index
// is dropped when the last one leaves the mailbox.
//
// The zero value is ready to use.
type flagIndexes struct {
	mu sync.Mutex
	m  map[flagIndexKey]*flagIndex
	// scans counts the mailbox scans done to build indexes (tests,
	// measurements).
	scans atomic.Int64
}

// flagIndexKey names a mailbox: MailboxIDs are never reused within an
// account; the UIDVALIDITY guards against a store where they are.
type flagIndexKey struct {
	user        string
	mailbox     mailstore.MailboxID
	uidValidity mailstore.UIDValidity
}

// flagIndex is one mailbox's flags as of modSeq: for every message, in UID
// order, its UID, MODSEQ and flag set (an index into sets). 14 bytes per
// message, once per process (not per session). Fields are guarded by mu,
// which is held while the index is read from or brought up to date from
// the store (never while writing to a client).
type flagIndex struct {
	key  flagIndexKey
	refs int // guarded by flagIndexes.mu

	mu      sync.Mutex
	built   bool
	modSeq  mailstore.ModSeq
	uids    []mailstore.UID
	modSeqs []mailstore.ModSeq
	idx     []uint16
	sets    [][]string
	set     map[string]uint16
}

// acquire returns the index of the mailbox with a reference taken (built
// or not: fill builds or updates it).
func (fi *flagIndexes) acquire(key flagIndexKey) *flagIndex {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if fi.m == nil {
		fi.m = map[flagIndexKey]*flagIndex{}
	}
	x := fi.m[key]
	if x == nil {
		x = &flagIndex{key: key, set: map[string]uint16{}}
		fi.m[key] = x
	}
	x.refs++
	return x
}

// release drops a reference; the last one removes the index.
func (fi *flagIndexes) release(x *flagIndex) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	x.refs--
	if x.refs == 0 && fi.m[x.key] == x {
		delete(fi.m, x.key)
	}
}

// len reports how many indexes exist (tests).
func (fi *flagIndexes) len() int {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return len(fi.m)
}

func (x *flagIndex) intern(flags []string) uint16 {
	key := strings.Join(flags, " ")
	if i, ok := x.set[key]; ok {
		return i
	}
	if len(x.sets) >= flagsUnknown {
		return flagsUnknown
	}
	i := uint16(len(x.sets))
	x.sets = append(x.sets, slices.Clone(flags))
	x.set[key] = i
	return i
}

// update brings the index to the mailbox's current state: a scan the
// first time, the changes since its modseq afterwards. Called with x.mu
// held. scanned reports whether it scanned.
func (x *flagIndex) update(ctx context.Context, acct mailstore.Account, scans *atomic.Int64) (scanned bool, err error) {
	if !x.built {
		scans.Add(1)
		var hi mailstore.ModSeq
		err := acct.ScanFlags(ctx, x.key.mailbox, func(uid mailstore.UID, ms mailstore.ModSeq, flags []string) error {
			x.uids = append(x.uids, uid)
			x.modSeqs = append(x.modSeqs, ms)
			x.idx = append(x.idx, x.intern(flags))
			hi = max(hi, ms)
			return nil
		})
		if err != nil {
			x.uids, x.modSeqs, x.idx = nil, nil, nil
			return true, wrapf(err, "build flag index")
		}
		// Every change committed after the scan's snapshot has a MODSEQ
		// above every MODSEQ in it, so the changes since hi are all the
		// index misses; expunges at or below the snapshot may come again
		// and are no-ops.
		x.modSeq, x.built = hi, true
		return true, nil
	}
	c, err := acct.Changes(ctx, x.key.mailbox, x.modSeq)
	if err != nil {
		return false, wrapf(err, "update flag index")
	}
	x.apply(c)
	return false, nil
}

// apply applies a Changes (updated and new messages, tombstones) to the
// index: O(changes) lookups, one pass of block copies for removals.
func (x *flagIndex) apply(c mailstore.Changes) {
	for i := range c.Updated {
		m := &c.Updated[i]
		j, found := slices.BinarySearch(x.uids, m.UID)
		switch {
		case found:
			x.modSeqs[j], x.idx[j] = m.ModSeq, x.intern(m.Flags)
		case j == len(x.uids):
			x.uids = append(x.uids, m.UID)
			x.modSeqs = append(x.modSeqs, m.ModSeq)
			x.idx = append(x.idx, x.intern(m.Flags))
		default:
			// A UID below the last one that the index does not have:
			// only possible if it was expunged and reported again, or a
			// move back into the mailbox gave an old UID (never: UIDs
			// only grow). Insert to stay correct.
			x.uids = slices.Insert(x.uids, j, m.UID)
			x.modSeqs = slices.Insert(x.modSeqs, j, m.ModSeq)
			x.idx = slices.Insert(x.idx, j, x.intern(m.Flags))
		}
	}
	if len(c.Expunged) > 0 {
		gone := c.Expunged // ascending
		w, g := 0, 0
		for r, u := range x.uids {
			for g < len(gone) && gone[g] < u {
				g++
			}
			if g < len(gone) && gone[g] == u {
				continue
			}
			x.uids[w], x.modSeqs[w], x.idx[w] = u, x.modSeqs[r], x.idx[r]
			w++
		}
		x.uids, x.modSeqs, x.idx = x.uids[:w], x.modSeqs[:w], x.idx[:w]
	}
	x.modSeq = max(x.modSeq, c.HighestModSeq)
}

// fillFrom sets the flag cache fc of view v from the index (which must be
// up to date, x.mu held): a message gets its flags when the index has it
// with a MODSEQ at or below the view's sync point and the view holds no
// unreported change for it; any other is flagsUnknown (exactly what a scan
// would have given, see useFlagCache).
func (x *flagIndex) fillFrom(v *selected, fc *flagCache) {
	remap := make([]uint16, len(x.sets))
	for i := range remap {
		remap[i] = flagsUnknown
	}
	j := 0
	for i, u := range v.uids {
		for j < len(x.uids) && x.uids[j] < u {
			j++
		}
		if j >= len(x.uids) || x.uids[j] != u || x.modSeqs[j] > v.modSeq || x.idx[j] == flagsUnknown {
			continue
		}
		if v.isExpunged(u) {
			continue
		}
		if _, dirty := v.dirty[u]; dirty {
			continue
		}
		s := x.idx[j]
		if remap[s] == flagsUnknown {
			remap[s] = fc.intern(x.sets[s])
		}
		fc.idx[i] = remap[s]
	}
}
