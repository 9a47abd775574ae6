package sqlite

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestPurgeAccount: an account in use is refused (KindInUse) and keeps its
// mail; once released (lingering open, IdleClose) it is closed and
// removed; the same name then opens as a new, empty account; a second
// purge finds nothing (KindNotFound). Other accounts are untouched.
func TestPurgeAccount(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	msg := "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
	for _, u := range []string{"alice", "bob"} {
		acc, err := st.Account(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		if u == "bob" {
			acc.Close()
			continue
		}
		if err := st.PurgeAccount(ctx, "alice"); mailstore.KindOf(err) != mailstore.KindInUse {
			t.Fatalf("purge of an open account: %v, want KindInUse", err)
		}
		if s, err := acc.Status(ctx, "INBOX"); err != nil || s.Messages != 1 {
			t.Fatalf("after a refused purge: %+v, %v", s, err)
		}
		acc.Close()
	}
	dir, _ := st.AccountDir("alice")
	if err := st.PurgeAccount(ctx, "alice"); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("account directory after purge: %v", err)
	}
	ents, _ := os.ReadDir(st.accountsDir)
	if len(ents) != 1 || ents[0].Name() != "bob" {
		t.Errorf("accounts left: %v, want only bob", ents)
	}
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := acc.Status(ctx, "INBOX"); err != nil || s.Messages != 0 {
		t.Errorf("INBOX of the new account: %+v, %v", s, err)
	}
	acc.Close()
	if err := st.PurgeAccount(ctx, "alice"); err != nil {
		t.Fatalf("second purge: %v", err)
	}
	if err := st.PurgeAccount(ctx, "alice"); mailstore.KindOf(err) != mailstore.KindNotFound {
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
}
