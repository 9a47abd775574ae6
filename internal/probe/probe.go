package probe

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"time"
)

// DefaultTimeout bounds each protocol step (dial, one reply, one handshake).
const DefaultTimeout = 5 * time.Second

// enumTries is how many failed logins per user name the enumeration check
// makes (3 known-user and 3 unknown-user attempts): enough for a median,
// few enough to stay below per-connection and per-IP failure limits.
const enumTries = 3

// timingFactor and timingFloor decide a timing difference: the slower median
// must exceed timingFactor times the faster one and differ by at least
// timingFloor (sub-millisecond loopback jitter is not a finding).
const (
	timingFactor = 3
	timingFloor  = 20 * time.Millisecond
)

// Options configures a run.
type Options struct {
	Timeout  time.Duration // per step; 0 means DefaultTimeout
	Source   string        // local IP to connect from ("" any)
	User     string        // with Password: enumeration check, one login, folders
	Password string
	Roots    *x509.CertPool // nil: the system roots
}

type prober struct {
	o        Options
	loggedIn map[string]string // "imap host" -> URL where the login was done
}

// Run probes every target in order and returns the report. It never changes
// anything on the servers: see the package documentation.
func Run(ctx context.Context, targets []Target, o Options) *Report {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	p := &prober{o: o, loggedIn: map[string]string{}}
	r := &Report{Schema: SchemaVersion, Services: []*Service{}, Findings: []Finding{}}
	for _, t := range targets {
		s := &Service{URL: t.URL(), Protocol: t.Protocol(), Implicit: t.Implicit(), Address: t.Addr()}
		if t.Protocol() == "imap" {
			p.probeIMAP(ctx, t, s)
		} else {
			p.probePOP3(ctx, t, s)
		}
		r.Services = append(r.Services, s)
		r.Findings = append(r.Findings, Findings(s)...)
	}
	sortFindings(r.Findings)
	return r
}

// dialRaw opens a TCP connection without TLS.
func (p *prober) dialRaw(ctx context.Context, t Target) (*conn, error) {
	return dial(ctx, t.Addr(), p.o.Source, p.o.Timeout)
}

// dial opens a connection, with TLS already up for imaps/pop3s.
func (p *prober) dial(ctx context.Context, t Target) (*conn, error) {
	c, err := p.dialRaw(ctx, t)
	if err != nil {
		return nil, err
	}
	if t.Implicit() {
		if err := c.startTLS(scanConfig(t.Host, 0)); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// fail records why the first connection failed.
func (p *prober) fail(s *Service, err error) {
	var oe *net.OpError
	if st := dialError(err); st != "" && errors.As(err, &oe) && oe.Op == "dial" {
		s.State = st
		return
	}
	s.State, s.Error = StateError, err.Error()
}

// randomName is a user name (or password) that exists nowhere.
func randomName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "probe" + hex.EncodeToString(b)
}

// mayLogin decides whether the given credentials may be used on this
// service: once per host and protocol, and only where TLS protects them.
// When not, it records why in s.Login. When so, it marks the host as done.
func (p *prober) mayLogin(s *Service, t Target, proto string) bool {
	key := proto + " " + t.Host
	if done, ok := p.loggedIn[key]; ok {
		s.Login = &AuthAttempt{Method: "login", Skipped: "done once per host, on " + done}
		return false
	}
	if !t.Implicit() && !s.StartTLS {
		s.Login = &AuthAttempt{Method: "login", Skipped: "no TLS on this port: the password is never sent in the clear"}
		return false
	}
	p.loggedIn[key] = s.URL
	return true
}

// checkEnumeration runs the user-enumeration check of a service: enumTries
// rounds of one failing login for the given user (wrong password) and one
// for a random user name, each on a fresh connection; try performs one and
// returns the reply and how long the login itself took. A connection or
// protocol error ends the check with a note instead of a verdict.
func (p *prober) checkEnumeration(s *Service, try func(user string) (reply string, d time.Duration, err error)) {
	e := &Enumeration{Tries: enumTries}
	var known, unknown []time.Duration
	for i := 0; i < enumTries; i++ {
		for _, u := range []string{p.o.User, randomName()} {
			reply, d, err := try(u)
			if err != nil {
				s.Notes = append(s.Notes, "enumeration check: "+err.Error())
				return
			}
			if u == p.o.User {
				known, e.KnownReply = append(known, d), reply
			} else {
				unknown, e.UnknownReply = append(unknown, d), reply
			}
		}
	}
	judgeEnumeration(e, known, unknown)
	s.Enumeration = e
}

// judgeEnumeration compares replies and median timings.
func judgeEnumeration(e *Enumeration, known, unknown []time.Duration) {
	km, um := median(known), median(unknown)
	e.KnownMedianMS, e.UnknownMedianMS = ms(km), ms(um)
	e.TextDiffers = e.KnownReply != e.UnknownReply
	lo, hi := min(km, um), max(km, um)
	e.TimingDiffers = hi > timingFactor*lo && hi-lo >= timingFloor
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
