package sqlite

import (
	"context"
	"testing"
	"time"
)

// An account released by its last user stays open for IdleClose, so a
// burst of deliveries doesn't reopen the databases each time, and is closed
// after that.
func TestIdleClose(t *testing.T) {
	ctx := context.Background()
	st, err := Open(Options{Dir: t.TempDir(), IdleClose: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	open := func() *account {
		t.Helper()
		ref, err := st.Account(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		a := ref.(*accountRef).account
		ref.Close()
		return a
	}
	first := open()
	if second := open(); second != first {
		t.Fatal("account reopened although it was released moments ago")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.mu.Lock()
		_, still := st.accounts["alice"]
		st.mu.Unlock()
		if !still {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle account was never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if third := open(); third == first {
		t.Fatal("closed account was handed out again")
	}

	st2, err := Open(Options{Dir: t.TempDir(), IdleClose: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	ref, _ := st2.Account(ctx, "bob")
	ref.Close()
	st2.mu.Lock()
	n := len(st2.accounts)
	st2.mu.Unlock()
	if n != 0 {
		t.Errorf("IdleClose < 0: %d accounts still open after release", n)
	}
}
