package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// QuotaLimits is the QuotaFunc RunQuota gives a store: limits that a test
// sets per user while the store is open.
type QuotaLimits struct {
	mu     sync.Mutex
	limits map[string]mailstore.Quota
}

// Set sets user's limits; they apply from the next store operation.
func (l *QuotaLimits) Set(user string, q mailstore.Quota) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits == nil {
		l.limits = map[string]mailstore.Quota{}
	}
	l.limits[user] = q
}

// Func is the mailstore.QuotaFunc to configure the store with.
func (l *QuotaLimits) Func(user string) mailstore.Quota {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limits[user]
}

// RunQuota runs the quota conformance tests. open must return a new, empty
// store whose size limit is MaxMessageSize and whose QuotaFunc is
// limits.Func.
func RunQuota(t *testing.T, open func(t *testing.T, limits *QuotaLimits) mailstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite, l *QuotaLimits)
	}{
		{"Unlimited", testQuotaUnlimited},
		{"StorageLimit", testQuotaStorage},
		{"MessageLimit", testQuotaMessages},
		{"UsageExact", testQuotaUsageExact},
		{"CopyMove", testQuotaCopyMove},
		{"ConcurrentAtLimit", testQuotaConcurrent},
		{"Recalc", testQuotaRecalc},
		{"ImportBypasses", testQuotaImport},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &QuotaLimits{}
			st := open(t, l)
			t.Cleanup(func() { st.Close() })
			tc.fn(t, &suite{t: t, st: st, ctx: t.Context()}, l)
		})
	}
}

// qmsg returns message n (100 <= n < 1000), all of the same size.
func qmsg(n int) string { return msg(n) }

var qsize = int64(len(qmsg(100)))

func (s *suite) quota(acc mailstore.Account) (mailstore.Quota, mailstore.Usage) {
	s.t.Helper()
	q, u, err := acc.Quota(s.ctx)
	if err != nil {
		s.t.Fatalf("quota: %v", err)
	}
	return q, u
}

func (s *suite) wantUsage(acc mailstore.Account, want mailstore.Usage, what string) {
	s.t.Helper()
	if _, u := s.quota(acc); u != want {
		s.t.Fatalf("%s: usage %+v, want %+v", what, u, want)
	}
}

// countAll sums Status over every mailbox: the usage a counter must match.
func (s *suite) countAll(acc mailstore.Account) mailstore.Usage {
	s.t.Helper()
	mbs, err := acc.Mailboxes(s.ctx)
	if err != nil {
		s.t.Fatalf("mailboxes: %v", err)
	}
	var u mailstore.Usage
	for _, m := range mbs {
		st := s.status(acc, m.Name)
		u.Storage += st.Size
		u.Messages += int64(st.Messages)
	}
	return u
}

func (s *suite) tryAppend(acc mailstore.Account, mbox, body string) error {
	_, _, err := acc.Append(s.ctx, mbox, mailstore.NewMessage{}, strings.NewReader(body))
	return err
}

func testQuotaUnlimited(t *testing.T, s *suite, l *QuotaLimits) {
	acc := s.account("alice")
	q, u := s.quota(acc)
	if q != (mailstore.Quota{}) || u != (mailstore.Usage{}) {
		t.Fatalf("new account: quota %+v usage %+v, want zero", q, u)
	}
	for i := range 5 {
		s.append(acc, "INBOX", qmsg(100+i))
	}
	s.wantUsage(acc, mailstore.Usage{Storage: 5 * qsize, Messages: 5}, "five messages, no limits")
}

func testQuotaStorage(t *testing.T, s *suite, l *QuotaLimits) {
	l.Set("alice", mailstore.Quota{Storage: 3 * qsize})
	acc := s.account("alice")
	other := s.account("bob")
	for i := range 3 {
		s.append(acc, "INBOX", qmsg(100+i))
	}
	// Exactly at the limit: allowed. One octet more: refused.
	q, u := s.quota(acc)
	if q.Storage != 3*qsize || u != (mailstore.Usage{Storage: 3 * qsize, Messages: 3}) {
		t.Fatalf("at the limit: quota %+v usage %+v", q, u)
	}
	wantKind(t, s.tryAppend(acc, "INBOX", "x"), mailstore.KindOverQuota, "append one octet at the storage limit")
	wantKind(t, s.tryAppend(acc, "Sent", qmsg(200)), mailstore.KindOverQuota, "append to another mailbox at the limit")
	if st := s.status(acc, "INBOX"); st.Messages != 3 {
		t.Fatalf("refused message was stored: INBOX has %d messages", st.Messages)
	}
	s.wantUsage(acc, mailstore.Usage{Storage: 3 * qsize, Messages: 3}, "after refusals")
	// Limits are per user.
	for i := range 5 {
		s.append(other, "INBOX", qmsg(100+i))
	}
	// Expunging makes room again.
	inbox := s.mailbox(acc, "INBOX")
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{1}}); err != nil {
		t.Fatal(err)
	}
	s.wantUsage(acc, mailstore.Usage{Storage: 2 * qsize, Messages: 2}, "after expunge")
	s.append(acc, "INBOX", qmsg(300))
	// A smaller limit set while the store is open applies at once.
	l.Set("alice", mailstore.Quota{Storage: qsize})
	wantKind(t, s.tryAppend(acc, "INBOX", "x"), mailstore.KindOverQuota, "append over a lowered limit")
	l.Set("alice", mailstore.Quota{})
	s.append(acc, "INBOX", qmsg(301))
}

func testQuotaMessages(t *testing.T, s *suite, l *QuotaLimits) {
	l.Set("alice", mailstore.Quota{Messages: 2, Storage: 1 << 30})
	acc := s.account("alice")
	s.append(acc, "INBOX", qmsg(100))
	s.append(acc, "Drafts", qmsg(101))
	wantKind(t, s.tryAppend(acc, "INBOX", "x"), mailstore.KindOverQuota, "third message with messages=2")
	q, u := s.quota(acc)
	if q != (mailstore.Quota{Messages: 2, Storage: 1 << 30}) || u.Messages != 2 {
		t.Fatalf("quota %+v usage %+v", q, u)
	}
	if err := acc.DeleteMailbox(s.ctx, "Drafts"); err != nil {
		t.Fatal(err)
	}
	s.wantUsage(acc, mailstore.Usage{Storage: qsize, Messages: 1}, "after deleting a mailbox")
	s.append(acc, "INBOX", qmsg(102))
}

// testQuotaUsageExact changes the account every way there is and checks the
// counter against a recount after each step.
func testQuotaUsageExact(t *testing.T, s *suite, l *QuotaLimits) {
	acc := s.account("alice")
	check := func(what string) {
		t.Helper()
		s.wantUsage(acc, s.countAll(acc), what)
	}
	s.create(acc, "a")
	s.create(acc, "a/b")
	for i := range 4 {
		s.append(acc, "INBOX", qmsg(100+i)+strings.Repeat("x", i)) // different sizes
		s.append(acc, "a/b", qmsg(200+i))
	}
	check("appends")
	inbox := s.mailbox(acc, "INBOX")
	if _, err := acc.Copy(s.ctx, inbox.ID, []mailstore.UID{1, 2}, "a"); err != nil {
		t.Fatal(err)
	}
	check("copy")
	if _, err := acc.Move(s.ctx, inbox.ID, []mailstore.UID{3}, "a"); err != nil {
		t.Fatal(err)
	}
	check("move")
	s.storeFlags(acc, inbox.ID, []mailstore.UID{4}, mailstore.FlagsAdd, mailstore.FlagDeleted)
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{OnlyDeleted: true}); err != nil {
		t.Fatal(err)
	}
	check("expunge")
	if err := acc.RenameMailbox(s.ctx, "INBOX", "old-inbox"); err != nil {
		t.Fatal(err)
	}
	check("rename INBOX")
	if err := acc.DeleteMailbox(s.ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	check("delete mailbox")
	if _, u := s.quota(acc); u.Messages != 5 {
		t.Fatalf("usage %+v, want 5 messages (2 in old-inbox, 3 in a)", u)
	}
}

func testQuotaCopyMove(t *testing.T, s *suite, l *QuotaLimits) {
	acc := s.account("alice")
	s.create(acc, "Keep")
	for i := range 3 {
		s.append(acc, "INBOX", qmsg(100+i))
	}
	inbox := s.mailbox(acc, "INBOX")
	l.Set("alice", mailstore.Quota{Storage: 5 * qsize})
	// Copying three would make six: refused as a whole.
	_, err := acc.Copy(s.ctx, inbox.ID, []mailstore.UID{1, 2, 3}, "Keep")
	wantKind(t, err, mailstore.KindOverQuota, "copy over the storage limit")
	if st := s.status(acc, "Keep"); st.Messages != 0 {
		t.Fatalf("refused copy left %d messages in Archive", st.Messages)
	}
	// Two fit exactly.
	if _, err := acc.Copy(s.ctx, inbox.ID, []mailstore.UID{1, 2}, "Keep"); err != nil {
		t.Fatalf("copy up to the limit: %v", err)
	}
	s.wantUsage(acc, mailstore.Usage{Storage: 5 * qsize, Messages: 5}, "after copy")
	// Over quota (limit lowered): moves are still allowed and change nothing.
	l.Set("alice", mailstore.Quota{Storage: qsize, Messages: 1})
	res, err := acc.Move(s.ctx, inbox.ID, []mailstore.UID{3}, "Keep")
	if err != nil || len(res.Dest) != 1 {
		t.Fatalf("move while over quota: %+v, %v", res, err)
	}
	s.wantUsage(acc, mailstore.Usage{Storage: 5 * qsize, Messages: 5}, "after move")
	_, err = acc.Copy(s.ctx, inbox.ID, []mailstore.UID{1}, "Keep")
	wantKind(t, err, mailstore.KindOverQuota, "copy while over quota")
}

// testQuotaConcurrent delivers from many goroutines at once into an account
// with room for exactly one more message: exactly one must succeed.
func testQuotaConcurrent(t *testing.T, s *suite, l *QuotaLimits) {
	const workers = 8
	for round := range 3 {
		user := []string{"alice", "bob", "carol"}[round]
		acc := s.account(user)
		s.append(acc, "INBOX", qmsg(100))
		// Round 0 limits storage, round 1 messages, round 2 both.
		q := [...]mailstore.Quota{{Storage: 2 * qsize}, {Messages: 2}, {Storage: 2 * qsize, Messages: 2}}[round]
		l.Set(user, q)
		var wg sync.WaitGroup
		errs := make([]error, workers)
		start := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := s.st.Account(s.ctx, user)
				if err != nil {
					errs[w] = err
					return
				}
				defer a.Close()
				<-start
				_, _, errs[w] = a.Append(s.ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(qmsg(200+w)))
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for w, err := range errs {
			switch {
			case err == nil:
				ok++
			case mailstore.KindOf(err) != mailstore.KindOverQuota:
				t.Fatalf("%s worker %d: %v, want success or over quota", user, w, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%s (%+v): %d of %d concurrent appends at the limit succeeded, want exactly 1", user, q, ok, workers)
		}
		s.wantUsage(acc, mailstore.Usage{Storage: 2 * qsize, Messages: 2}, user+" after the race")
		if st := s.status(acc, "INBOX"); st.Messages != 2 {
			t.Fatalf("%s: INBOX holds %d messages, want 2", user, st.Messages)
		}
	}
}

func testQuotaRecalc(t *testing.T, s *suite, l *QuotaLimits) {
	acc := s.account("alice")
	u, err := acc.RecalcUsage(s.ctx)
	if err != nil || u != (mailstore.Usage{}) {
		t.Fatalf("recalc of an empty account: %+v, %v", u, err)
	}
	s.create(acc, "x")
	for i := range 3 {
		s.append(acc, "INBOX", qmsg(100+i))
		s.append(acc, "x", qmsg(200+i)+"extra\r\n")
	}
	want := mailstore.Usage{Storage: 6*qsize + 3*7, Messages: 6}
	s.wantUsage(acc, want, "before recalc")
	u, err = acc.RecalcUsage(s.ctx)
	if err != nil || u != want {
		t.Fatalf("recalc: %+v, %v; want %+v", u, err, want)
	}
	s.wantUsage(acc, want, "after recalc")
}

// testQuotaImport: AppendUID (roost import) is counted but never refused.
func testQuotaImport(t *testing.T, s *suite, l *QuotaLimits) {
	acc := s.account("alice")
	imp, ok := acc.(mailstore.Importer)
	if !ok {
		t.Fatalf("%T does not implement mailstore.Importer", acc)
	}
	l.Set("alice", mailstore.Quota{Messages: 1})
	s.append(acc, "INBOX", qmsg(100))
	if _, err := imp.AppendUID(s.ctx, "INBOX", 10, mailstore.NewMessage{}, strings.NewReader(qmsg(101))); err != nil {
		t.Fatalf("import over quota: %v", err)
	}
	s.wantUsage(acc, mailstore.Usage{Storage: 2 * qsize, Messages: 2}, "after import")
	wantKind(t, s.tryAppend(acc, "INBOX", qmsg(102)), mailstore.KindOverQuota, "append after import went over quota")
	// The ledger's import (roost import with source identities) likewise.
	if led, ok := acc.(mailstore.ImportLedger); ok {
		src := mailstore.ImportSource{Key: "maildir:quota-test"}
		if _, _, err := led.ImportMessage(s.ctx, "INBOX", 0, src, mailstore.NewMessage{}, strings.NewReader(qmsg(103))); err != nil {
			t.Fatalf("ledger import over quota: %v", err)
		}
		s.wantUsage(acc, mailstore.Usage{Storage: 3 * qsize, Messages: 3}, "after ledger import")
	}
}
