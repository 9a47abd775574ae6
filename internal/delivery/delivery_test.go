package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
	"github.com/roost-mail/roost/internal/message"
)

type users []string

func (u users) LookupUser(_ context.Context, name string) (string, bool, error) {
	for _, x := range u {
		if x == name {
			return x, true, nil
		}
	}
	return "", false, nil
}

func TestDeliver(t *testing.T) {
	st, err := sqlite.Open(sqlite.Options{Dir: t.TempDir(), MaxMessageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := New(Options{Store: st, Users: users{"alice"}})
	ctx := context.Background()

	res, err := d.Deliver(ctx, "alice", "Sent", strings.NewReader("Subject: a\n\nbare LF\n"))
	if err != nil || res.Mailbox != "Sent" {
		t.Fatalf("deliver to Sent: %+v, %v", res, err)
	}
	res, err = d.Deliver(ctx, "alice", "Nope", strings.NewReader("Subject: b\r\n\r\nx\r\n"))
	if err != nil || res.Mailbox != "INBOX" {
		t.Fatalf("deliver to a missing mailbox: %+v, %v; want INBOX", res, err)
	}
	if _, err := d.Deliver(ctx, "bob", "", strings.NewReader("x")); !errors.Is(err, ErrUnknownUser) || !Permanent(err) {
		t.Errorf("unknown user: %v", err)
	}
	_, err = d.Deliver(ctx, "alice", "", strings.NewReader(strings.Repeat("x", 2000)))
	if mailstore.KindOf(err) != mailstore.KindTooBig || !Permanent(err) {
		t.Errorf("oversize: %v, want a permanent TooBig", err)
	}

	acct, _ := st.Account(ctx, "alice")
	defer acct.Close()
	mb, _ := acct.Mailbox(ctx, "Sent")
	msgs, _ := acct.Messages(ctx, mb.ID)
	if len(msgs) != 1 {
		t.Fatalf("Sent has %d messages", len(msgs))
	}
	b, _ := acct.Open(ctx, mb.ID, msgs[0].UID)
	defer b.Close()
	got, _ := io.ReadAll(b)
	if string(got) != "Subject: a\r\n\r\nbare LF\r\n" {
		t.Errorf("stored %q, want CRLF line endings", got)
	}
}

func TestMboxFromLineDropped(t *testing.T) {
	for in, want := range map[string]string{
		"From a@b  Thu Nov 26 08:00:00 2026\nSubject: x\n\nbody\n": "Subject: x\r\n\r\nbody\r\n",
		"From: a@b\nSubject: y\n\nbody\n":                          "From: a@b\r\nSubject: y\r\n\r\nbody\r\n",
		"Fro":                                                      "Fro",
	} {
		r, err := skipMboxFrom(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(message.NewCRLFReader(r))
		if string(got) != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestPermanent(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{ErrUnknownUser, true},
		{fmt.Errorf("save: %w", mailstore.Errorf(mailstore.KindOverQuota, "quota")), true},
		{mailstore.Errorf(mailstore.KindUnavailable, "busy"), false},
		{errors.New("disk on fire"), false},
	} {
		if got := Permanent(c.err); got != c.want {
			t.Errorf("Permanent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// BenchmarkDeliver measures durable deliveries (CRLF normalization, parse,
// blob fsync, rename, directory fsync, metadata commit) of a 4 KiB message
// into one account, one after another as `roost deliver` runs them.
func BenchmarkDeliver(b *testing.B) {
	st, err := sqlite.Open(sqlite.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	d := New(Options{Store: st, Users: users{"alice"}})
	msg := "From: bob@example.org\nTo: alice@example.org\nSubject: benchmark\n\n" + strings.Repeat("The quick brown fox jumps over the lazy dog.\n", 90)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Deliver(context.Background(), "alice", "", strings.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func TestDeliverWithHeader(t *testing.T) {
	st, err := sqlite.Open(sqlite.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := New(Options{Store: st, Users: users{"alice"}})
	ctx := context.Background()
	hdr := []byte("Return-Path: <a@b>\r\nDelivered-To: alice@x\r\n")
	in := "From a@b  Thu Nov 26 08:00:00 2026\nSubject: x\n\n.dot\r\nbody\n"
	res, err := d.DeliverWithHeader(ctx, "alice", "", hdr, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := st.Account(ctx, "alice")
	defer acct.Close()
	mb, _ := acct.Mailbox(ctx, res.Mailbox)
	b, err := acct.Open(ctx, mb.ID, res.UID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, _ := io.ReadAll(b)
	want := "Return-Path: <a@b>\r\nDelivered-To: alice@x\r\nSubject: x\r\n\r\n.dot\r\nbody\r\n"
	if string(got) != want {
		t.Errorf("stored %q, want %q", got, want)
	}
}
