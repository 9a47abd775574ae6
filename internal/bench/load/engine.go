package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Cred is one user's login.
type Cred struct{ User, Pass string }

// Profile is a workload: what one simulated user does.
type Profile interface {
	Name() string
	Proto() string // "imap" or "pop3"
	// Session runs one client session, connect to disconnect, as
	// w.User(). It records its commands through w (the IMAP and POP3
	// connections do so themselves) and returns an error when the session
	// could not go on; the engine then starts the next session. It must
	// return soon after ctx is done, finishing the command in flight.
	Session(ctx context.Context, w *Worker) error
}

// Options configure a run.
type Options struct {
	Target      Target
	Users       []Cred
	Concurrency int
	Duration    time.Duration // run for this long, or
	Count       int           // stop after this many sessions in all
	Seed        uint64
	// Spread binds each worker's connections to its own source address
	// in 127.0.0.0/8 (127.0.1.1, 127.0.1.2, ...), so that thousands of
	// connections or fast reconnects do not run out of ephemeral ports
	// towards one loopback address.
	Spread bool
	// Progress gets one line per second while running, if not nil.
	Progress io.Writer
	// ServerPIDs, if set, are the roots of the server's process tree: its
	// CPU time is read before and after the run; for profiles whose
	// workers call Ready, its memory is read before the workers start and
	// once every worker has called Ready (or the run ends), see
	// Report.Memory.
	ServerPIDs func() ([]int, error)
	// MaxConnecting, if > 0, bounds the sessions that are between connect
	// and a completed login at any moment (Worker.Gate), as real clients
	// do not all connect in the same millisecond; servers cap
	// unauthenticated connections (Dovecot and Roost: login_max_preauth).
	MaxConnecting int
	// OncePerUser runs exactly one session per user and then stops
	// (--prepare); Concurrency must not exceed the number of users.
	OncePerUser bool
	// Settle is how long to wait after the last Ready before reading the
	// server's memory (default 2 s).
	Settle time.Duration
}

// Engine runs one benchmark.
type Engine struct {
	target  Target
	tlsConf *tls.Config
	opts    Options
	prof    Profile

	sessions atomic.Int64 // sessions started
	ops      atomic.Int64 // successful operations
	errs     atomic.Int64
	perrs    atomic.Int64 // protocol errors
	conns    atomic.Int64 // connections open
	ready    atomic.Int64

	gate chan struct{} // MaxConnecting slots, nil if unbounded

	mu      sync.Mutex
	samples map[Kind][]string
	kinds   map[Kind]uint64
}

// Worker is one simulated user slot: it runs sessions one after another.
type Worker struct {
	ID   int
	Rand *rand.Rand
	eng  *Engine
	user Cred
	// users are the credentials this worker cycles through.
	users   []Cred
	session int
	retries int
	local   net.Addr
	readied bool

	mu    sync.Mutex
	ops   map[string]*opStat
	state map[string]any
}

type opStat struct {
	hist   Histogram
	errors uint64
}

// User is the account of the current session.
func (w *Worker) User() Cred { return w.user }

// State returns the value stored under key for the current user (a
// caching client's knowledge of the mailbox, for instance), or nil.
func (w *Worker) State(key string) any { return w.state[w.user.User+"\x00"+key] }

// SetState stores v under key for the current user.
func (w *Worker) SetState(key string, v any) { w.state[w.user.User+"\x00"+key] = v }

// Record adds one successful operation.
func (w *Worker) Record(op string, d time.Duration) {
	w.mu.Lock()
	s := w.stat(op)
	s.hist.Record(d)
	w.mu.Unlock()
	w.eng.ops.Add(1)
}

// Fail records a failed operation.
func (w *Worker) Fail(e *Error) {
	w.mu.Lock()
	w.stat(e.Op).errors++
	w.mu.Unlock()
	w.eng.errs.Add(1)
	if e.Kind.Protocol() {
		w.eng.perrs.Add(1)
	}
	w.eng.mu.Lock()
	if s := w.eng.samples[e.Kind]; len(s) < 5 {
		w.eng.samples[e.Kind] = append(s, fmt.Sprintf("%s (user %s)", e.Error(), w.user.User))
	}
	w.eng.kinds[e.Kind]++
	w.eng.mu.Unlock()
}

func (w *Worker) stat(op string) *opStat {
	s := w.ops[op]
	if s == nil {
		s = &opStat{}
		w.ops[op] = s
	}
	return s
}

// Ready tells the engine this worker reached its steady state (the idle
// profile: logged in, selected, idling); memory is read once all are.
func (w *Worker) Ready() {
	if !w.readied {
		w.readied = true
		w.eng.ready.Add(1)
	}
}

// Gate waits for a connecting slot (Options.MaxConnecting) and returns
// the function that frees it; profiles hold it from connect to login.
func (w *Worker) Gate(ctx context.Context) (release func(), err error) {
	g := w.eng.gate
	if g == nil {
		return func() {}, nil
	}
	select {
	case g <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-g }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ConnOpened and ConnClosed keep the progress line's connection count.
func (w *Worker) ConnOpened() { w.eng.conns.Add(1) }
func (w *Worker) ConnClosed() { w.eng.conns.Add(-1) }

func (w *Worker) localAddr() net.Addr { return w.local }

// SourceAddr returns the i-th spread source address: 127.0.1.1 onwards,
// 254 per /24, skipping .0 and .255.
func SourceAddr(i int) net.IP {
	n := i % (254 * 254)
	return net.IPv4(127, 0, byte(1+n/254), byte(1+n%254))
}

// Run runs p with o and returns the report. The error is only for a run
// that could not start; failures during the run are in the report.
func Run(ctx context.Context, p Profile, o Options) (*Report, error) {
	if o.Concurrency < 1 {
		return nil, fmt.Errorf("concurrency must be at least 1")
	}
	if len(o.Users) == 0 {
		return nil, fmt.Errorf("no users")
	}
	if o.OncePerUser && o.Concurrency > len(o.Users) {
		o.Concurrency = len(o.Users)
	}
	if o.Duration <= 0 && o.Count <= 0 && !o.OncePerUser {
		return nil, fmt.Errorf("need a duration or a count")
	}
	e := &Engine{target: o.Target, tlsConf: o.Target.tlsConfig(), opts: o, prof: p, samples: map[Kind][]string{}, kinds: map[Kind]uint64{}}
	if o.MaxConnecting > 0 {
		e.gate = make(chan struct{}, o.MaxConnecting)
	}
	rep := &Report{Profile: p.Name(), Proto: p.Proto(), Addr: o.Target.Addr, TLS: tlsName(o.Target.TLS),
		Concurrency: o.Concurrency, Users: len(o.Users), Started: time.Now().UTC()}

	var base *Memory
	if o.ServerPIDs != nil {
		m, err := readMemory(o.ServerPIDs)
		if err != nil {
			return nil, fmt.Errorf("server memory: %w", err)
		}
		base = m
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	workers := make([]*Worker, o.Concurrency)
	for i := range workers {
		w := &Worker{ID: i, eng: e, Rand: rand.New(rand.NewPCG(o.Seed, uint64(i))),
			ops: map[string]*opStat{}, state: map[string]any{}}
		// Each worker owns the users i, i+C, i+2C, ... so no two workers
		// use one account at a time (POP3 maildrops are locked); with
		// fewer users than workers they have to share.
		if len(o.Users) >= o.Concurrency {
			for j := i; j < len(o.Users); j += o.Concurrency {
				w.users = append(w.users, o.Users[j])
			}
		} else {
			w.users = []Cred{o.Users[i%len(o.Users)]}
		}
		if o.Spread {
			w.local = &net.TCPAddr{IP: SourceAddr(i)}
		}
		workers[i] = w
	}

	var cpu0 float64
	if o.ServerPIDs != nil {
		cpu0, _ = readCPU(o.ServerPIDs)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.work(runCtx, w)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var memErr error
	memTaken := false
	takeMem := func() {
		// Memory per connection only means something for profiles that
		// hold connections (they call Ready).
		if memTaken || base == nil || e.ready.Load() == 0 {
			return
		}
		memTaken = true
		m, err := readMemory(o.ServerPIDs)
		if err != nil {
			memErr = err
			return
		}
		rep.Memory = memoryReport(base, m, int(e.ready.Load()), int(e.conns.Load()))
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var allReady time.Time
	settle := o.Settle
	if settle <= 0 {
		settle = 2 * time.Second
	}
	lastOps, lastSessions := int64(0), int64(0)
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			if int(e.ready.Load()) == o.Concurrency && allReady.IsZero() {
				allReady = time.Now()
			}
			if !allReady.IsZero() && time.Since(allReady) >= settle {
				takeMem()
			}
			if o.Progress != nil {
				ops, ss := e.ops.Load(), e.sessions.Load()
				fmt.Fprintf(o.Progress, "[%4.0fs] %7d ops/s %6d sessions/s  errors %d (protocol %d)  conns %d  ready %d\n",
					time.Since(start).Seconds(), ops-lastOps, ss-lastSessions, e.errs.Load(), e.perrs.Load(), e.conns.Load(), e.ready.Load())
				lastOps, lastSessions = ops, ss
			}
		}
		if runCtx.Err() != nil && !memTaken && base != nil {
			// The run is ending: read memory now, while the connections
			// are still open, even if not every worker got ready.
			takeMem()
		}
	}
	elapsed := time.Since(start)
	if base != nil && !memTaken {
		takeMem()
	}
	rep.finish(e, workers, elapsed)
	if o.ServerPIDs != nil {
		if cpu1, err := readCPU(o.ServerPIDs); err == nil && cpu1 >= cpu0 {
			rep.ServerCPUSeconds = cpu1 - cpu0
			if rep.Ops > 0 {
				rep.ServerCPUPerOpMs = rep.ServerCPUSeconds * 1000 / float64(rep.Ops)
			}
		}
	}
	if memErr != nil {
		rep.MemoryError = memErr.Error()
	}
	return rep, nil
}

// work runs sessions until the context ends or the session count is used up.
func (e *Engine) work(ctx context.Context, w *Worker) {
	for ctx.Err() == nil {
		if e.opts.OncePerUser && w.session >= len(w.users) {
			return
		}
		n := e.sessions.Add(1)
		if e.opts.Count > 0 && n > int64(e.opts.Count) {
			e.sessions.Add(-1)
			return
		}
		w.user = w.users[w.session%len(w.users)]
		w.session++
		start := time.Now()
		err := e.prof.Session(ctx, w)
		if err == nil {
			w.Record("session", time.Since(start))
			continue
		}
		if e.opts.OncePerUser && w.retries < 3 {
			// Preparing must reach every user: try this one again.
			w.retries++
			w.session--
		}
		// A failed connect would otherwise spin; anything else goes on
		// at once (the failure is already recorded).
		if ae := AsError("", err); ae.Kind == KindConnect || ae.Kind == KindTLS {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func tlsName(m TLSMode) string {
	switch m {
	case TLSImplicit:
		return "tls"
	case TLSStart:
		return "starttls"
	}
	return "none"
}

func sortedOps(m map[string]*opStat) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
