package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// RunPurge checks a backend's mailstore.AccountPurger. alice and bob each
// have one message in INBOX with the keyword $Label, copied to Archive. A
// purge of alice while her handle is open is refused (KindInUse) and keeps
// her mail; once closed, the purge succeeds and check (if not nil)
// inspects the backend's own storage: nothing of alice's may be left, and
// bob's two copies of his one message must be. alice then opens as a new,
// empty account, a purge of nothing is KindNotFound, and bob's mail and
// usage are untouched. open must return a new, empty store whose size
// limit is MaxMessageSize, with expunged bodies removed at once; the suite
// closes it.
func RunPurge(t *testing.T, open func(t *testing.T) mailstore.Store, check func(t *testing.T, st mailstore.Store)) {
	ctx := context.Background()
	st := open(t)
	defer st.Close()
	p, ok := st.(mailstore.AccountPurger)
	if !ok {
		t.Fatal("store does not implement mailstore.AccountPurger")
	}
	msg := "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
	for _, u := range []string{"alice", "bob"} {
		acc, err := st.Account(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{Flags: []string{"$Label"}}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		inbox, err := acc.Mailbox(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := acc.Copy(ctx, inbox.ID, []mailstore.UID{1}, "Archive"); err != nil {
			t.Fatal(err)
		}
		if u == "bob" {
			acc.Close()
			continue
		}
		if err := p.PurgeAccount(ctx, "alice"); mailstore.KindOf(err) != mailstore.KindInUse {
			t.Fatalf("purge of an open account: %v, want KindInUse", err)
		}
		if s, err := acc.Status(ctx, "INBOX"); err != nil || s.Messages != 1 {
			t.Fatalf("after a refused purge: %+v, %v", s, err)
		}
		acc.Close()
		acc.Close() // idempotent: must not make bob's count or a later handle wrong
	}
	if err := p.PurgeAccount(ctx, "alice"); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if check != nil {
		check(t, st)
	}
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := acc.Status(ctx, "INBOX"); err != nil || s.Messages != 0 || s.UIDNext != 1 {
		t.Errorf("INBOX of the new account: %+v, %v", s, err)
	}
	if _, u, err := acc.Quota(ctx); err != nil || u != (mailstore.Usage{}) {
		t.Errorf("usage of the new account: %+v, %v", u, err)
	}
	acc.Close()
	if err := p.PurgeAccount(ctx, "alice"); err != nil {
		t.Fatalf("second purge: %v", err)
	}
	if err := p.PurgeAccount(ctx, "alice"); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Errorf("purge of nothing: %v, want KindNotFound", err)
	}
	bob, err := st.Account(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if s, err := bob.Status(ctx, "INBOX"); err != nil || s.Messages != 1 {
		t.Errorf("bob after alice's purge: %+v, %v", s, err)
	}
	if _, u, err := bob.Quota(ctx); err != nil || u.Messages != 2 {
		t.Errorf("bob's usage after alice's purge: %+v, %v", u, err)
	}
}
