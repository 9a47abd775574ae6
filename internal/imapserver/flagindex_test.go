package imapserver

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestFlagIndexUpdate applies random changes through the store (flag
// changes on random subsets, expunges, deliveries, several per update)
// and checks after each round that the index brought up to date from the
// modseq log equals a fresh scan of the mailbox: same UIDs, MODSEQs and
// flags.
func TestFlagIndexUpdate(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	acct := ts.account("alice")
	deliverN(ts, 40)
	mb, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var scans atomic.Int64
	x := &flagIndex{key: flagIndexKey{"alice", mb.ID, mb.UIDValidity}, set: map[string]uint16{}}
	if _, err := x.update(ctx, acct, &scans); err != nil {
		t.Fatal(err)
	}
	flags := []string{mailstore.FlagSeen, mailstore.FlagFlagged, mailstore.FlagAnswered, "$Work", "$Junk"}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 60 {
		for range 1 + rng.IntN(3) {
			msgs, err := acct.Messages(ctx, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			var some []mailstore.UID
			for _, m := range msgs {
				if rng.IntN(4) == 0 {
					some = append(some, m.UID)
				}
			}
			switch op := rng.IntN(5); {
			case op <= 1 && len(some) > 0:
				fop := []mailstore.FlagOp{mailstore.FlagsAdd, mailstore.FlagsRemove, mailstore.FlagsReplace}[rng.IntN(3)]
				if _, _, err := acct.StoreFlags(ctx, mb.ID, some, fop, []string{flags[rng.IntN(len(flags))], flags[rng.IntN(len(flags))]}, 0); err != nil {
					t.Fatal(err)
				}
			case op == 2 && len(some) > 0:
				if _, err := acct.Expunge(ctx, mb.ID, mailstore.ExpungeOptions{UIDs: some[:1+rng.IntN(len(some))]}); err != nil {
					t.Fatal(err)
				}
			default:
				ts.deliver("alice", "INBOX", testMsg("r"+itoa(round)))
			}
		}
		if scanned, err := x.update(ctx, acct, &scans); err != nil || scanned {
			t.Fatalf("round %d: update scanned=%v err=%v", round, scanned, err)
		}
		var want []string
		if err := acct.ScanFlags(ctx, mb.ID, func(uid mailstore.UID, ms mailstore.ModSeq, fl []string) error {
			want = append(want, itoa(int(uid))+"/"+itoa(int(ms))+"/"+strings.Join(fl, " "))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, u := range x.uids {
			got = append(got, itoa(int(u))+"/"+itoa(int(x.modSeqs[i]))+"/"+strings.Join(x.sets[x.idx[i]], " "))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: index\n%v\nscan\n%v", round, got, want)
		}
	}
	if n := scans.Load(); n != 1 {
		t.Fatalf("%d scans, want 1", n)
	}
}
