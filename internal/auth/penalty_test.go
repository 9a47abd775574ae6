package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the penalty's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newPenaltyService(t *testing.T, opts Options) (*Service, *sleepRecorder, *fakeClock) {
	t.Helper()
	if opts.Penalty == (Penalty{}) {
		opts.Penalty = DefaultPenalty
	}
	s, rec := newService(t, opts)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.now = clock.now
	return s, rec, clock
}

func from(ip string) ConnInfo {
	ci := secure
	ci.Remote = netip.AddrPortFrom(netip.MustParseAddr(ip), 4000)
	return ci
}

// login runs one LOGIN and returns the waits it asked for.
func login(t *testing.T, s *Service, rec *sleepRecorder, ci ConnInfo, user, pass string) []time.Duration {
	t.Helper()
	_, err := s.Login(context.Background(), ci, user, pass)
	if pass == "secret" && err != nil || pass != "secret" && !errors.Is(err, ErrFailed) {
		t.Fatalf("login %s/%s from %v: %v", user, pass, ci.Remote, err)
	}
	return nonzero(rec.take())
}

// nonzero drops the zero waits (a zero failure delay) from recorded waits.
func nonzero(ds []time.Duration) []time.Duration {
	return slices.DeleteFunc(ds, func(d time.Duration) bool { return d == 0 })
}

func TestPenaltyGrowsPerIP(t *testing.T) {
	const fd = 2 * time.Second
	s, rec, _ := newPenaltyService(t, Options{FailureDelay: fd})
	attacker := from("198.51.100.7")
	s2 := 2 * time.Second
	// First failure: no penalty yet, only the failure delay. Then each
	// attempt waits the penalty first: 2, 4, 8, 15, 15 s.
	want := [][]time.Duration{
		{fd},
		{s2, fd},
		{2 * s2, fd},
		{4 * s2, fd},
		{15 * time.Second, fd},
		{15 * time.Second, fd},
	}
	for i, w := range want {
		got := login(t, s, rec, attacker, "alice", "guess"+string(rune('a'+i)))
		if !slices.Equal(got, w) {
			t.Fatalf("attempt %d: waits %v, want %v", i+1, got, w)
		}
	}
	// Another address is not slowed down, neither its success nor its
	// failure; an IPv6 neighbour of the attacker's /48 would be, but a
	// different /48 is not.
	if got := login(t, s, rec, from("203.0.113.9"), "alice", "secret"); len(got) != 0 {
		t.Errorf("other IP success waited %v", got)
	}
	if got := login(t, s, rec, from("203.0.113.9"), "alice", "nope"); !slices.Equal(got, []time.Duration{fd}) {
		t.Errorf("other IP failure waited %v, want only the failure delay", got)
	}

	// A success from the attacker's address is delayed, not refused, and
	// resets the penalty.
	if got := login(t, s, rec, attacker, "alice", "secret"); !slices.Equal(got, []time.Duration{15 * time.Second}) {
		t.Errorf("success after failures waited %v, want one 15s penalty", got)
	}
	if got := login(t, s, rec, attacker, "alice", "secret"); len(got) != 0 {
		t.Errorf("second success waited %v: penalty not reset", got)
	}
	if got := login(t, s, rec, attacker, "alice", "x"); !slices.Equal(got, []time.Duration{fd}) {
		t.Errorf("failure after reset waited %v", got)
	}
}

func TestPenaltyDecay(t *testing.T) {
	s, rec, clock := newPenaltyService(t, Options{})
	ip := from("198.51.100.7")
	for i := range 4 {
		login(t, s, rec, ip, "alice", "bad"+string(rune('a'+i)))
	}
	// Level 4 now: each 15 minutes without a failure takes a level off.
	for _, want := range []time.Duration{15 * time.Second, 8 * time.Second, 4 * time.Second, 2 * time.Second, 0} {
		if got := s.penalty.Delay(ip.Remote.Addr()); got != want {
			t.Fatalf("at %v: delay %v, want %v", clock.now(), got, want)
		}
		clock.advance(15*time.Minute + time.Second)
	}
	// An hour after the last failure the entry is gone.
	if n := s.penalty.Len(); n != 0 {
		t.Errorf("table has %d entries after the timeout", n)
	}
	if got := login(t, s, rec, ip, "alice", "secret"); len(got) != 0 {
		t.Errorf("login after decay waited %v", got)
	}
}

func TestPenaltySamePasswordDoesNotEscalate(t *testing.T) {
	s, rec, _ := newPenaltyService(t, Options{})
	ip := from("192.0.2.50")
	// A client retrying a stale saved password: the level stays at 1.
	for i := range 5 {
		got := login(t, s, rec, ip, "alice", "stale")
		if i > 0 && !slices.Equal(got, []time.Duration{2 * time.Second}) {
			t.Fatalf("retry %d waited %v, want the level-1 penalty", i, got)
		}
	}
	// A different password does escalate.
	login(t, s, rec, ip, "alice", "other")
	if got := s.penalty.Delay(ip.Remote.Addr()); got != 4*time.Second {
		t.Errorf("after a new password: delay %v, want 4s", got)
	}
}

func TestPenaltyIPv6Grouping(t *testing.T) {
	s, rec, _ := newPenaltyService(t, Options{})
	login(t, s, rec, from("2001:db8:1:2::1"), "alice", "x")
	if got := login(t, s, rec, from("2001:db8:1:ffff::9"), "alice", "secret"); !slices.Equal(got, []time.Duration{2 * time.Second}) {
		t.Errorf("same /48 waited %v, want 2s", got)
	}
	login(t, s, rec, from("2001:db8:1:2::1"), "alice", "x")
	if got := login(t, s, rec, from("2001:db8:2::1"), "alice", "secret"); len(got) != 0 {
		t.Errorf("other /48 waited %v", got)
	}
	// IPv4-mapped IPv6 is the IPv4 address.
	login(t, s, rec, from("192.0.2.77"), "alice", "x")
	if got := s.penalty.Delay(netip.MustParseAddr("::ffff:192.0.2.77")); got != 2*time.Second {
		t.Errorf("mapped address delay %v", got)
	}
}

func TestPenaltySASL(t *testing.T) {
	s, rec, _ := newPenaltyService(t, Options{})
	ip := from("198.51.100.8")
	run := func(resp string) ([]time.Duration, error) {
		x, err := s.NewSASL(ip, "PLAIN")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = x.Next(context.Background(), []byte(resp))
		return nonzero(rec.take()), err
	}
	if _, err := run("\x00alice\x00bad"); !errors.Is(err, ErrFailed) {
		t.Fatal(err)
	}
	// Malformed input counts as a failure too.
	if got, err := run("garbage"); !errors.Is(err, ErrFailed) || !slices.Equal(got, []time.Duration{2 * time.Second}) {
		t.Fatalf("malformed: waits %v, err %v", got, err)
	}
	if got, err := run("\x00alice\x00secret"); err != nil || !slices.Equal(got, []time.Duration{4 * time.Second}) {
		t.Fatalf("success: waits %v, err %v", got, err)
	}
	if got, _ := run("\x00alice\x00secret"); len(got) != 0 {
		t.Fatalf("after success: waits %v", got)
	}
	// A cancelled context ends the penalty wait with its error.
	run("\x00alice\x00bad")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x, _ := s.NewSASL(ip, "PLAIN")
	if _, _, err := x.Next(ctx, []byte("\x00alice\x00secret")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled penalty wait: %v", err)
	}
	if p := x.Principal(); p.User != "" {
		t.Errorf("principal after cancelled wait: %v", x.Principal())
	}
}

func TestPenaltyDisabled(t *testing.T) {
	s, rec := newService(t, Options{FailureDelay: time.Second})
	for range 3 {
		if got := login(t, s, rec, from("198.51.100.9"), "alice", "x"); !slices.Equal(got, []time.Duration{time.Second}) {
			t.Fatalf("no penalty configured, waits %v", got)
		}
	}
}

func TestPenaltyTableBounded(t *testing.T) {
	tab := newPenaltyTable(Penalty{Init: time.Second, Max: 15 * time.Second, Timeout: time.Hour, MaxEntries: 100}, time.Now)
	for i := range 1000 {
		tab.Failed(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 0)
	}
	if n := tab.Len(); n != 100 {
		t.Fatalf("table holds %d entries, want 100", n)
	}
	// The newest survive, the oldest went first.
	if tab.Delay(netip.AddrFrom4([4]byte{10, 0, 3, 231})) == 0 {
		t.Error("newest entry evicted")
	}
	if tab.Delay(netip.AddrFrom4([4]byte{10, 0, 0, 0})) != 0 {
		t.Error("oldest entry kept")
	}
	// Unknown addresses (Unix sockets) are never penalised.
	tab.Failed(netip.Addr{}, 0)
	if tab.Delay(netip.Addr{}) != 0 {
		t.Error("invalid address penalised")
	}
}

func TestPenaltyLoggedOnceAtMaximum(t *testing.T) {
	var buf bytes.Buffer
	s, rec, _ := newPenaltyService(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for i := range 8 {
		login(t, s, rec, from("198.51.100.10"), "alice", "bad"+string(rune('a'+i)))
	}
	if n := strings.Count(buf.String(), "auth penalty at maximum"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, buf.String())
	}
	if strings.Contains(buf.String(), "bad") {
		t.Errorf("password in log:\n%s", buf.String())
	}
}
