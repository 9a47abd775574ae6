package auth

import (
	"container/list"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Penalty configures the per-IP authentication penalty (Dovecot's anvil
// auth penalty, src/auth/auth-penalty.c). Every failed attempt from a
// remote address raises the address's penalty level by one, up to 4; the
// next attempt from that address (successful or not) is delayed by
// Init·2^(level-1), at most Max, before its password is even looked at.
// A success resets the level. The level drops by one for every Timeout/4
// without a failure, so it is forgotten Timeout after the last failure.
//
// Differences from Dovecot, on purpose:
//   - Levels 1..4 wait 2, 4, 8, 15 s. Dovecot's auth_penalty_to_secs
//     doubles once before the first wait (4, 8, 15, 15 s) although its
//     header says the penalty starts at 2 s.
//   - Dovecot forgets a penalty 29 s after the last failure
//     (AUTH_PENALTY_TIMEOUT = 2+4+8+15); Roost remembers it for an hour
//     (anvil's own default expiry), decaying by one level per 15 minutes,
//     so a slow guesser stays slowed down. A legitimate user is never
//     locked out: the worst case is one 15 s wait, and the success resets
//     the level.
//
// As in Dovecot:
//   - IPv6 addresses are grouped by /48 (PENALTY_IPV6_MASK_BITS), so one
//     host cannot escape by cycling through its addresses.
//   - Retrying the same user name and password does not raise the level
//     (Dovecot's user+password checksum): a client with a stale saved
//     password that retries is not escalated.
//   - The penalty is waited before the attempt, the failure delay
//     (auth_failure_delay) after a failure: they add up.
type Penalty struct {
	Init    time.Duration // wait at level 1; 0 disables the penalty
	Max     time.Duration // longest wait
	Timeout time.Duration // memory after the last failure
	// MaxEntries bounds the table; the least recently failed address is
	// forgotten first. 0 means DefaultPenaltyEntries.
	MaxEntries int
}

// DefaultPenalty is the penalty Roost runs with (app wiring).
var DefaultPenalty = Penalty{Init: 2 * time.Second, Max: 15 * time.Second, Timeout: time.Hour}

const (
	// penaltyMaxLevel is Dovecot's AUTH_PENALTY_MAX_PENALTY.
	penaltyMaxLevel = 4
	// penaltyIPv6Bits groups IPv6 addresses as Dovecot does.
	penaltyIPv6Bits = 48
	// penaltyChecksums is how many recent user+password checksums an
	// entry remembers.
	penaltyChecksums = 4
	// DefaultPenaltyEntries caps the table: about 100 bytes per entry, so
	// at most ~10 MB however many addresses an attacker uses.
	DefaultPenaltyEntries = 100_000
)

// penaltyTable holds the penalty per remote address prefix. It is safe
// for concurrent use.
type penaltyTable struct {
	cfg  Penalty
	now  func() time.Time
	seed maphash.Seed

	mu      sync.Mutex
	entries map[netip.Prefix]*list.Element // of *penaltyEntry
	lru     list.List                      // front: most recent failure
}

type penaltyEntry struct {
	key       netip.Prefix
	level     int
	last      time.Time // last failure
	checksums [penaltyChecksums]uint64
	next      int // ring index into checksums
}

func newPenaltyTable(cfg Penalty, now func() time.Time) *penaltyTable {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultPenaltyEntries
	}
	if cfg.Max < cfg.Init {
		cfg.Max = cfg.Init
	}
	return &penaltyTable{cfg: cfg, now: now, seed: maphash.MakeSeed(), entries: map[netip.Prefix]*list.Element{}}
}

// penaltyKey is the table key of a remote address: the address itself for
// IPv4, its /48 for IPv6. ok is false for an unknown address (a Unix
// socket, a test), which is never penalised.
func penaltyKey(ip netip.Addr) (netip.Prefix, bool) {
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = penaltyIPv6Bits
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// level returns e's level after decay at now.
func (t *penaltyTable) level(e *penaltyEntry, now time.Time) int {
	step := t.cfg.Timeout / penaltyMaxLevel
	if step <= 0 {
		return e.level
	}
	return max(0, e.level-int(now.Sub(e.last)/step))
}

// delayFor returns the wait for a level.
func (t *penaltyTable) delayFor(level int) time.Duration {
	if level <= 0 {
		return 0
	}
	return min(t.cfg.Init<<(level-1), t.cfg.Max)
}

// Delay returns how long an attempt from ip must wait.
func (t *penaltyTable) Delay(ip netip.Addr) time.Duration {
	key, ok := penaltyKey(ip)
	if !ok {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if !ok {
		return 0
	}
	e := el.Value.(*penaltyEntry)
	lv := t.level(e, t.now())
	if lv == 0 {
		t.lru.Remove(el)
		delete(t.entries, key)
	}
	return t.delayFor(lv)
}

// Failed records a failed attempt from ip. sum identifies the attempt's
// user and password (checksum; 0 when there was none): a repeat of one of
// the last few pairs does not raise the level. It returns the new level.
func (t *penaltyTable) Failed(ip netip.Addr, sum uint64) (level int) {
	key, ok := penaltyKey(ip)
	if !ok {
		return 0
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	var e *penaltyEntry
	if ok {
		e = el.Value.(*penaltyEntry)
		e.level = t.level(e, now)
		t.lru.MoveToFront(el)
	} else {
		for len(t.entries) >= t.cfg.MaxEntries {
			old := t.lru.Back()
			t.lru.Remove(old)
			delete(t.entries, old.Value.(*penaltyEntry).key)
		}
		e = &penaltyEntry{key: key}
		t.entries[key] = t.lru.PushFront(e)
	}
	repeat := false
	if sum != 0 {
		for _, c := range e.checksums {
			repeat = repeat || c == sum
		}
	}
	if !repeat || e.level == 0 {
		e.level = min(e.level+1, penaltyMaxLevel)
	}
	if sum != 0 && !repeat {
		e.checksums[e.next] = sum
		e.next = (e.next + 1) % penaltyChecksums
	}
	e.last = now
	return e.level
}

// Succeeded forgets ip's penalty.
func (t *penaltyTable) Succeeded(ip netip.Addr) {
	key, ok := penaltyKey(ip)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		t.lru.Remove(el)
		delete(t.entries, key)
	}
}

// Len returns the number of remembered addresses.
func (t *penaltyTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// checksum keys user+password with a per-process random seed, so the table
// never holds anything from which a password could be recovered offline.
// 0 means "no password" (malformed SASL input), which always counts.
func (t *penaltyTable) checksum(user, pass string) uint64 {
	if user == "" && pass == "" {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteString(user)
	h.WriteByte(0)
	h.WriteString(pass)
	return h.Sum64() | 1
}
