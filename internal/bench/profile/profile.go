// Package profile holds the workloads of `roost bench`: each models what a
// kind of real client sends, so that throughput and latency measured with
// them say something about a server under real traffic.
package profile

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/bench/load"
	"github.com/roost-mail/roost/internal/bench/mailgen"
)

// Settings tune the profiles; the zero value gets the defaults.
type Settings struct {
	// IdleHold is how long the caching profile stays in IDLE per cycle
	// before DONE. The default, zero, sends DONE as soon as the server
	// has answered "+ idling": IDLE's setup and teardown are measured,
	// the wait is not. A hold is client think time: in a closed-loop run
	// every session spends Cycles x IdleHold asleep whichever server
	// answers, so at low concurrency throughput measures the sleep, and
	// the ratio between two servers can never exceed (slower session) /
	// (Cycles x IdleHold) however fast one of them is (docs/BENCHMARKS.md,
	// "caching: IDLE without think time"). What idling costs a server is
	// the idle profile's job, how fast it pushes a change bench/idle.sh's.
	IdleHold time.Duration
	// Cycles is how many flag-change-and-IDLE cycles a caching session
	// runs before LOGOUT (default 3): the reconnect ratio. Phones on
	// mobile networks reconnect after few, desktops after many.
	Cycles int
	// Seed selects the generated messages (internal/bench/mailgen).
	Seed uint64
	// Messages is how many messages --prepare puts in each INBOX.
	Messages int
}

// Names lists the profiles.
var Names = []string{"caching", "webmail", "append", "pop3", "idle"}

// New returns the named profile.
func New(name string, s Settings) (load.Profile, error) {
	if s.Cycles <= 0 {
		s.Cycles = 3
	}
	switch name {
	case "caching":
		return caching{s}, nil
	case "webmail":
		return webmail{s}, nil
	case "append":
		return appendProfile{s}, nil
	case "pop3":
		return pop3{s}, nil
	case "idle":
		return idle{s}, nil
	}
	return nil, fmt.Errorf("unknown profile %q (have %s)", name, strings.Join(Names, ", "))
}

// message returns corpus message i with CRLF line ends, as IMAP APPEND
// needs (RFC 9051 section 6.3.12: the literal is an RFC 5322 message).
func message(seed uint64, i int) mailgen.Message {
	m := mailgen.Generate(seed, i)
	m.Body = bytes.ReplaceAll(m.Body, []byte("\n"), []byte("\r\n"))
	return m
}

// appendArgs returns the flag list and internal date of an APPEND.
func appendArgs(m mailgen.Message, flags ...string) string {
	if m.Seen {
		flags = append(flags, `\Seen`)
	}
	return "(" + strings.Join(flags, " ") + `) "` + m.Date.Format("02-Jan-2006 15:04:05 -0700") + `"`
}

// check records a KindCheck failure: the server answered OK but the
// answer does not add up.
func check(w *load.Worker, op, format string, args ...any) error {
	e := &load.Error{Kind: load.KindCheck, Op: op, Detail: fmt.Sprintf(format, args...)}
	w.Fail(e)
	return e
}

func uidSet(uids []uint32) string {
	sort.Slice(uids, func(a, b int) bool { return uids[a] < uids[b] })
	var b strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", uids[i])
		} else {
			fmt.Fprintf(&b, "%d:%d", uids[i], uids[j])
		}
		i = j + 1
	}
	return b.String()
}

// login connects and logs in as w.User(), inside the engine's connect
// gate.
func login(ctx context.Context, w *load.Worker) (*load.IMAP, error) {
	release, err := w.Gate(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	c, err := w.DialIMAP(ctx)
	if err != nil {
		return nil, err
	}
	u := w.User()
	if err := c.Login(u.User, u.Pass); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
