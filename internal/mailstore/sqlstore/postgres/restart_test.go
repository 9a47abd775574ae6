package postgres

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestServerRestart: while PostgreSQL is down a node reports itself
// unhealthy and fails operations with KindUnavailable (a temporary
// failure: LMTP 4xx, IMAP NO [UNAVAILABLE]); once it is back the node
// reconnects on its own, reports healthy again, and changes made through
// another node reach its watchers again.
func TestServerRestart(t *testing.T) {
	if pgtestExternal() {
		t.Skip("restarting needs the private cluster, not " + pgtest.EnvServer)
	}
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := context.Background()
	waitUp(t, a)
	ch, stop := a.Watch("alice")
	defer stop()
	accA, err := a.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	accB, err := b.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := accB.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(1)))); err != nil {
		t.Fatal(err)
	}
	// A POP3 session on node A holds alice's maildrop across the restart.
	release, err := accA.LockMaildrop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	pgtest.Restart(t, func() {
		hctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := a.Healthy(hctx); err == nil {
			t.Error("Healthy while PostgreSQL is down")
		}
		_, _, err := accA.Append(hctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(2))))
		if k := mailstore.KindOf(err); k != mailstore.KindUnavailable {
			t.Errorf("Append while PostgreSQL is down: %v (kind %v), want KindUnavailable", err, k)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.Healthy(hctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy again after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Node A took its POP3 lock again when it reconnected.
	if _, err := accB.LockMaildrop(ctx); mailstore.KindOf(err) != mailstore.KindInUse {
		t.Fatalf("maildrop lock on node B after the restart: %v, want KindInUse (A holds it)", err)
	}
	drainWakes(ch)
	if _, _, err := accB.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(3)))); err != nil {
		t.Fatalf("append after the restart: %v", err)
	}
	waitWake(t, ch, "append through the other node after the restart")
	st, err := accA.Status(ctx, "INBOX")
	if err != nil || st.Messages != 2 {
		t.Fatalf("INBOX after the restart: %+v, %v; want the 2 acknowledged messages", st, err)
	}
}
