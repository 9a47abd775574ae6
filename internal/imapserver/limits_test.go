package imapserver

import (
	"strconv"
	"strings"
	"testing"

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
