package imapserver

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// quotaLimits is a QuotaFunc whose limits a test changes.
type quotaLimits struct {
	mu sync.Mutex
	m  map[string]mailstore.Quota
}

func (l *quotaLimits) set(user string, q mailstore.Quota) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[user] = q
}

func (l *quotaLimits) get(user string) mailstore.Quota {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[user]
}

func newQuotaServer(t *testing.T, opts ...func(*testConfig)) (*testServer, *quotaLimits) {
	l := &quotaLimits{m: map[string]mailstore.Quota{}}
	opts = append(opts, withStore(func(o *sqlite.Options) { o.Quota = l.get }))
	return newTestServer(t, opts...), l
}

func TestQuotaCapabilities(t *testing.T) {
	ts, _ := newQuotaServer(t)
	c := ts.login("alice")
	caps := c.do("a CAPABILITY").untaggedPrefix("* CAPABILITY ")[0]
	for _, want := range []string{" QUOTA ", " QUOTA=RES-STORAGE ", " QUOTA=RES-MESSAGE "} {
		if !strings.Contains(caps+" ", want) {
			t.Errorf("capabilities %q lack %q", caps, strings.TrimSpace(want))
		}
	}
	// SETQUOTA is refused, so QUOTASET is not advertised (RFC 9208 3.1.1).
	if strings.Contains(caps, "QUOTASET") {
		t.Errorf("QUOTASET advertised: %q", caps)
	}
	// Not before login.
	if g := ts.dial().greeting; strings.Contains(g, "QUOTA") {
		t.Errorf("greeting %q advertises QUOTA", g)
	}
}

func TestGetQuotaRoot(t *testing.T) {
	ts, l := newQuotaServer(t)
	c := ts.login("alice")
	// No limits: the root exists, with no resources (as Dovecot).
	c.do(`a1 GETQUOTAROOT INBOX`).untagged(`* QUOTAROOT INBOX "User quota"`, `* QUOTA "User quota" ()`).ok()

	l.set("alice", mailstore.Quota{Storage: 10 << 20, Messages: 100})
	m := testMsg("one")
	ts.deliver("alice", "INBOX", m)
	ts.deliver("alice", "Sent", strings.Repeat("x", 1025))
	used := (len(m) + 1025 + 1023) / 1024 // KiB, rounded up
	quota := fmt.Sprintf(`* QUOTA "User quota" (STORAGE %d 10240 MESSAGE 2 100)`, used)
	c.do(`a2 GETQUOTAROOT Sent`).untagged(`* QUOTAROOT Sent "User quota"`, quota).ok()
	c.do(`a3 GETQUOTA "User quota"`).untagged(quota).ok()
	// One resource limited: only it is listed.
	l.set("alice", mailstore.Quota{Messages: 5})
	c.do(`a4 GETQUOTA "User quota"`).untagged(`* QUOTA "User quota" (MESSAGE 2 5)`).ok()

	// A mailbox that does not exist (yet) has the same root, as in Dovecot.
	c.do(`a5 GETQUOTAROOT Later`).untagged(`* QUOTAROOT Later "User quota"`, `* QUOTA "User quota" (MESSAGE 2 5)`).ok()
	c.do(`a5b GETQUOTAROOT "bad//name"`).no()
	c.do(`a6 GETQUOTA "Other root"`).no("NONEXISTENT")
	c.do(`a7 GETQUOTA ""`).no("NONEXISTENT")
	c.do(`a8 SETQUOTA "User quota" (STORAGE 1)`).no("NOPERM")
	c.do(`a9 SETQUOTA "User quota" STORAGE`).bad()
	c.do(`a10 GETQUOTAROOT`).bad()
	// Another user's usage is theirs.
	ts.login("bob").do(`b1 GETQUOTAROOT INBOX`).untagged(`* QUOTAROOT INBOX "User quota"`, `* QUOTA "User quota" ()`).ok()
}

func TestQuotaRootName(t *testing.T) {
	ts, _ := newQuotaServer(t, withOptions(func(o *Options) { o.QuotaRoot = "Mail space" }))
	c := ts.login("alice")
	c.do(`a1 GETQUOTAROOT inbox`).untagged(`* QUOTAROOT INBOX "Mail space"`, `* QUOTA "Mail space" ()`).ok()
	c.do(`a2 GETQUOTA "User quota"`).no("NONEXISTENT")
}

// TestOverQuota: APPEND and COPY beyond a limit are NO [OVERQUOTA]
// (RFC 9208 4.3 / RFC 5530); MOVE is not refused since usage does not
// change; expunging makes room again.
func TestOverQuota(t *testing.T) {
	ts, l := newQuotaServer(t)
	c := ts.login("alice")
	l.set("alice", mailstore.Quota{Messages: 2})
	c.appendMsg("a1", "INBOX", testMsg("1")).ok()
	c.appendMsg("a2", "INBOX", testMsg("2")).ok()
	r := c.appendMsg("a3", "INBOX", testMsg("3")).no("OVERQUOTA")
	if r.text() != "Quota exceeded (mailbox for user is full)." {
		t.Errorf("text %q", r.text())
	}
	c.do("a4 SELECT INBOX").ok()
	c.do("a5 COPY 1 Archive").no("OVERQUOTA")
	c.do("a6 UID COPY 1:* Archive").no("OVERQUOTA")
	c.do("a7 MOVE 1 Archive").contains("* 1 EXPUNGE").ok()
	c.do(`a8 STATUS Archive (MESSAGES SIZE)`).untagged(fmt.Sprintf("* STATUS Archive (MESSAGES 1 SIZE %d)", len(testMsg("1")))).ok()
	c.do("a9 STORE 1 +FLAGS.SILENT (\\Deleted)").ok()
	c.do("a10 EXPUNGE").ok()
	c.appendMsg("a11", "INBOX", testMsg("4")).ok()
	// Storage: a message that does not fit is refused, one that does is not.
	l.set("alice", mailstore.Quota{Storage: int64(2*len(testMsg("1")) + 20)})
	c.appendMsg("a12", "Drafts", testMsg("long subject")).no("OVERQUOTA")
	c.appendMsg("a13", "Drafts", "Subject: s\r\n\r\nx\r\n").ok()
	c.do(`a14 GETQUOTA "User quota"`).untagged(`* QUOTA "User quota" (STORAGE 1 1)`).ok()
}

// TestStatusQuotaItems: STATUS SIZE (RFC 8438) and DELETED-STORAGE (RFC
// 9208 4.1.4) agree with the quota usage.
func TestStatusQuotaItems(t *testing.T) {
	ts, l := newQuotaServer(t)
	l.set("alice", mailstore.Quota{Storage: 1 << 30})
	c := ts.login("alice")
	sizes := []int{len(testMsg("a")), len(testMsg("bb")), len(testMsg("ccc"))}
	for _, s := range []string{"a", "bb", "ccc"} {
		ts.deliver("alice", "INBOX", testMsg(s))
	}
	total := sizes[0] + sizes[1] + sizes[2]
	c.do(`a1 STATUS INBOX (SIZE DELETED DELETED-STORAGE)`).untagged(fmt.Sprintf("* STATUS INBOX (SIZE %d DELETED 0 DELETED-STORAGE 0)", total)).ok()
	c.do("a2 SELECT INBOX").ok()
	c.do("a3 STORE 1,3 +FLAGS.SILENT (\\Deleted)").ok()
	c.do(`a4 STATUS INBOX (DELETED-STORAGE DELETED)`).untagged(fmt.Sprintf("* STATUS INBOX (DELETED-STORAGE %d DELETED 2)", sizes[0]+sizes[2])).ok()
	c.do(`a5 GETQUOTA "User quota"`).untagged(fmt.Sprintf(`* QUOTA "User quota" (STORAGE %d 1048576)`, (total+1023)/1024)).ok()
	c.do(`a6 LIST "" INBOX RETURN (STATUS (DELETED-STORAGE))`).contains(fmt.Sprintf("* STATUS INBOX (DELETED-STORAGE %d)", sizes[0]+sizes[2])).ok()
	c.do("a7 EXPUNGE").ok()
	c.do(`a8 STATUS INBOX (SIZE DELETED-STORAGE)`).untagged(fmt.Sprintf("* STATUS INBOX (SIZE %d DELETED-STORAGE 0)", sizes[1])).ok()
	c.do(`a9 GETQUOTA "User quota"`).untagged(fmt.Sprintf(`* QUOTA "User quota" (STORAGE 1 1048576)`)).ok()
}
