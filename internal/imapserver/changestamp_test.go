package imapserver

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// changesCounting is a store whose accounts count Changes calls and pass
// the store's ChangeStamp (if it has one) through.
type changesCounting struct {
	mailstore.Store
	calls *atomic.Int64
}

func (s changesCounting) Account(ctx context.Context, user string) (mailstore.Account, error) {
	a, err := s.Store.Account(ctx, user)
	if err != nil {
		return nil, err
	}
	return &changesCountingAccount{Account: a, calls: s.calls}, nil
}

type changesCountingAccount struct {
	mailstore.Account
	calls *atomic.Int64
}

func (a *changesCountingAccount) Changes(ctx context.Context, mbox mailstore.MailboxID, since mailstore.ModSeq) (mailstore.Changes, error) {
	a.calls.Add(1)
	return a.Account.Changes(ctx, mbox, since)
}

func (a *changesCountingAccount) ChangeStamp() (uint64, bool) {
	if cs, ok := a.Account.(mailstore.ChangeStamper); ok {
		return cs.ChangeStamp()
	}
	return 0, false
}

// TestSyncSkipsUnchangedMailbox: after every command the session reports
// what others changed in the selected mailbox. With a store that has a
// change stamp (SQLite) a command after which nothing was committed reads
// no changes; a commit by another session of this process, or by another
// process (a second store on the same directory, as `roost deliver`), is
// still reported at the very next command. A store without a stamp reads
// the changes every time.
func TestSyncSkipsUnchangedMailbox(t *testing.T) {
	var calls atomic.Int64
	ts := newTestServer(t, withOptions(func(o *Options) {
		o.Store = changesCounting{Store: o.Store, calls: &calls}
	}))
	_, stamped := ts.account("alice").(mailstore.ChangeStamper)

	c := ts.login("alice")
	c.do("a1 SELECT INBOX").contains("* 0 EXISTS").ok()
	before := calls.Load()
	for i := 0; i < 5; i++ {
		c.do("a2 NOOP").ok()
	}
	noops := calls.Load() - before
	if stamped && noops > 1 {
		t.Errorf("5 NOOPs with nothing committed read the changes %d times, want at most once", noops)
	}
	if !stamped && noops < 5 {
		t.Errorf("store without a change stamp: 5 NOOPs read the changes %d times, want 5", noops)
	}

	// Another session of this process.
	d := ts.login("alice")
	d.appendMsg("b1", "INBOX", testMsg("one")).ok()
	c.do("a3 NOOP").contains("* 1 EXISTS").ok()
	d.do("b2 SELECT INBOX").ok()
	d.do(`b3 STORE 1 +FLAGS (\Flagged)`).ok()
	c.do("a4 NOOP").contains(`* 1 FETCH (UID 1 FLAGS (\Flagged \Recent))`).ok()

	if !stamped {
		return
	}
	// Another process: its own store object on the same directory, so
	// only the account's change file tells this one.
	other, err := sqlite.Open(sqlite.Options{Dir: filepath.Join(ts.dir, "mail")})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	acct, err := other.Account(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	if _, _, err := acct.Append(context.Background(), "INBOX", mailstore.NewMessage{}, strings.NewReader(testMsg("two"))); err != nil {
		t.Fatal(err)
	}
	c.do("a5 NOOP").contains("* 2 EXISTS").ok()
}
