package imapserver

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/imapwire"
)

func TestCreateMailboxLimit(t *testing.T) {
	// alice starts with INBOX (and whatever default mailboxes the store
	// creates); count them through LIST first.
	ts := newTestServer(t)
	c := ts.login("alice")
	r := c.do(`a0 LIST "" *`).ok()
	have := 0
	for _, l := range r.untag {
		if strings.HasPrefix(l, "* LIST ") {
			have++
		}
	}
	if have == 0 {
		t.Fatal("no mailboxes listed")
	}
	c.do("a1 LOGOUT")

	ts = newTestServer(t, withOptions(func(o *Options) { o.MaxMailboxes = have + 2 }))
	c = ts.login("alice")
	c.do("b1 CREATE one").ok()
	// Two new mailboxes (x and its parent) do not fit in the one left.
	c.do("b2 CREATE x/y").tagged("NO [LIMIT] Too many mailboxes (limit " + strconv.Itoa(have+2) + ").")
	c.do(`b3 LIST "" x*`).untagged().ok() // nothing was created
	c.do("b4 CREATE one/two").ok()
	c.do("b5 CREATE three").tagged("NO [LIMIT] Too many mailboxes (limit " + strconv.Itoa(have+2) + ").")
	// An existing name is still ALREADYEXISTS, not LIMIT.
	c.do("b6 CREATE one").tagged("NO [ALREADYEXISTS] Mailbox already exists.")
	c.do("b7 DELETE one/two").ok()
	c.do("b8 CREATE three").ok()
	if strings.Count(ts.logs.String(), "mailbox limit") != 2 {
		t.Errorf("want one log line per refusal:\n%s", ts.logs.String())
	}
}

func TestSequenceSetRangeCap(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do("a1 SELECT INBOX").ok()
	set := func(n int) string { return strings.Repeat("3,", n-1) + "3" }
	c.do("a2 UID FETCH " + set(imapwire.MaxNumSetRanges) + " FLAGS").ok()
	r := c.do("a3 UID FETCH " + set(imapwire.MaxNumSetRanges+1) + " FLAGS").bad()
	if !strings.Contains(r.text(), "ranges") {
		t.Errorf("BAD text %q", r.text())
	}
	// The rest of the line was discarded: the session goes on.
	c.do("a4 NOOP").ok()
}

// intervals (search's resolved sequence sets) agree with the definition:
// n is in the set when some range, with "*" as star, contains it.
func TestIntervalsMatchRanges(t *testing.T) {
	naive := func(ranges []imap.NumRange, n, star uint32) bool {
		for _, r := range ranges {
			a, b := r.Start, r.Stop
			if a == imap.Star {
				a = star
			}
			if b == imap.Star {
				b = star
			}
			if min(a, b) <= n && n <= max(a, b) {
				return true
			}
		}
		return false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		star := uint32(rng.IntN(50))
		var ranges []imap.NumRange
		for range 1 + rng.IntN(6) {
			ranges = append(ranges, imap.NumRange{Start: uint32(rng.IntN(60)), Stop: uint32(rng.IntN(60))})
		}
		ranges = append(ranges, imap.NumRange{Start: math.MaxUint32 - 1, Stop: math.MaxUint32})
		iv := newIntervals(ranges, star)
		for n := uint32(0); n < 70; n++ {
			if got, want := iv.has(n), naive(ranges, n, star); got != want {
				t.Fatalf("ranges %v star %d: has(%d) = %v, want %v (intervals %v)", ranges, star, n, got, want, iv)
			}
		}
		if !iv.has(math.MaxUint32) {
			t.Fatalf("max uint32 lost: %v", iv)
		}
	}
}

// A SEARCH with the longest allowed set over the whole mailbox is answered
// (and correctly): the set is resolved once, not per message.
func TestSearchLongSequenceSet(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	for i := range 3 {
		c.appendMsg("a"+strconv.Itoa(i), "INBOX", "Subject: m\r\n\r\nbody\r\n").ok()
	}
	c.do("b1 SELECT INBOX").ok()
	set := strings.Repeat("2,", imapwire.MaxNumSetRanges-1) + "2"
	c.do("b2 SEARCH " + set).untagged("* SEARCH 2").ok()
	c.do("b3 UID SEARCH RETURN (SAVE) 1:2").ok()
	c.do("b4 SEARCH $ " + set).untagged("* SEARCH 2").ok()
}
