package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/roost-mail/roost/internal/bench/load"
	"github.com/roost-mail/roost/internal/bench/profile"
)

const benchUsage = "bench --addr HOST:PORT --users FILE|PATTERN [--proto imap|pop3] [--tls|--starttls] [--profile P] [-n N] [--duration D|--count N] [--prepare] [--json]"

// Exit statuses of `roost bench`: a script (and the e2e tests) tell a clean
// run from one that saw errors.
const (
	benchExitErrors = 1 // the run saw errors (see the report)
	benchExitUsage  = 2
)

func runBench(e *env) int {
	fs := newFlags(e, "bench")
	proto := fs.String("proto", "", "`protocol`: imap or pop3 (default: the profile's)")
	addr := fs.String("addr", "", "server `host:port`")
	useTLS := fs.Bool("tls", false, "implicit TLS (IMAPS, POP3S)")
	startTLS := fs.Bool("starttls", false, "STARTTLS (IMAP) or STLS (POP3) after the greeting")
	insecure := fs.Bool("insecure", false, "do not verify the server's certificate")
	tlsResume := fs.Bool("tls-resume", true, "resume TLS sessions on reconnect, as clients do (false: a full handshake every time)")
	caFile := fs.String("ca", "", "verify the certificate against the CAs in this PEM `file`")
	users := fs.String("users", "", "users `FILE` (lines user:password) or PATTERN with %d, e.g. user%d:pass")
	nusers := fs.Int("nusers", 0, "number of users a PATTERN makes, numbered from 1 (default: the concurrency)")
	conc := fs.Int("concurrency", 10, "simulated users at a time (idle: connections to hold)")
	fs.IntVar(conc, "n", 10, "short for --concurrency")
	duration := fs.Duration("duration", 0, "run for this long (default 10s unless --count)")
	count := fs.Int("count", 0, "stop after this many sessions in all")
	prof := fs.String("profile", "caching", "workload: "+strings.Join(profile.Names, ", "))
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout")
	quiet := fs.Bool("quiet", false, "no progress line")
	seed := fs.Uint64("seed", 1, "random seed (sessions and generated messages)")
	prepare := fs.Bool("prepare", false, "load the message corpus into each user's INBOX (up to --messages) instead of measuring")
	messages := fs.Int("messages", 100, "messages per INBOX for --prepare")
	idleHold := fs.Duration("idle-hold", 0, "caching profile: time in IDLE per cycle before DONE (0: DONE as soon as the server answers; a hold is client think time)")
	cycles := fs.Int("cycles", 3, "caching profile: flag-change and IDLE cycles per session before LOGOUT")
	serverPID := fs.Int("server-pid", 0, "server process `PID`: report the CPU time of its process tree (idle profile: and its memory per connection)")
	serverPIDFile := fs.String("server-pidfile", "", "read the server's PID from this `file`")
	spread := fs.Bool("spread", false, "connect from 127.0.1.1, 127.0.1.2, ..., one source address per simulated user (default when --addr is an IPv4 loopback address; --spread=false: from the kernel's choice)")
	maxConnecting := fs.Int("max-connecting", 0, "at most this many sessions between connect and login at a time (default: 100 for idle, else unlimited)")
	timeout := fs.Duration("timeout", 30*time.Second, "connect and per-command timeout")
	args, err := parseInterspersed(fs, e.args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return benchExitUsage
	}
	if len(args) > 0 {
		e.errorf("bench: unexpected argument %q", args[0])
		return benchExitUsage
	}
	usageErr := func(format string, a ...any) int {
		e.errorf("bench: "+format, a...)
		return benchExitUsage
	}
	if *addr == "" {
		return usageErr("--addr is required")
	}
	if *users == "" {
		return usageErr("--users is required (a file of user:password lines, or a pattern like user%%d:pass)")
	}
	if *useTLS && *startTLS {
		return usageErr("--tls and --starttls exclude each other")
	}
	if *conc < 1 {
		return usageErr("--concurrency must be at least 1")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["duration"] && set["count"] {
		return usageErr("--duration and --count exclude each other")
	}
	if *duration <= 0 && *count <= 0 {
		*duration = 10 * time.Second
	}
	settings := profile.Settings{IdleHold: *idleHold, Cycles: *cycles, Seed: *seed, Messages: *messages}
	var p load.Profile
	if *prepare {
		p = profile.Prepare{S: settings}
	} else if p, err = profile.New(*prof, settings); err != nil {
		return usageErr("%v", err)
	}
	if *proto == "" {
		*proto = p.Proto()
	}
	if *proto != p.Proto() {
		return usageErr("profile %s speaks %s, not %s", p.Name(), p.Proto(), *proto)
	}
	creds, err := parseUsers(*users, *nusers, *conc)
	if err != nil {
		return usageErr("%v", err)
	}

	if len(creds) < *conc && !*prepare {
		// Workers then share accounts: POP3 maildrop locks and one
		// client's expunges seen by another count as errors.
		fmt.Fprintf(e.stderr, "roost bench: warning: %d users for %d simulated users; give at least as many (--nusers)\n", len(creds), *conc)
	}
	t := load.Target{Addr: *addr, Timeout: *timeout, NoResume: !*tlsResume, TLSConf: &tls.Config{InsecureSkipVerify: *insecure}}
	switch {
	case *useTLS:
		t.TLS = load.TLSImplicit
	case *startTLS:
		t.TLS = load.TLSStart
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return usageErr("%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usageErr("%s: no PEM certificates", *caFile)
		}
		t.TLSConf.RootCAs = pool
	}
	o := load.Options{Target: t, Users: creds, Concurrency: *conc, Duration: *duration, Count: *count,
		Seed: *seed, Spread: *spread}
	if *prepare {
		o.OncePerUser, o.Duration, o.Count = true, 0, 0
	}
	o.MaxConnecting = *maxConnecting
	if p.Name() == "idle" && !set["max-connecting"] {
		// Thousands of connections at once would meet the server's cap
		// on unauthenticated connections, not measure it.
		o.MaxConnecting = 100
	}
	if !set["spread"] {
		if host, _, err := net.SplitHostPort(*addr); err == nil {
			if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() && ip.To4() != nil {
				o.Spread = true
			}
		}
	}
	switch {
	case *serverPID > 0:
		pid := *serverPID
		o.ServerPIDs = func() ([]int, error) { return []int{pid}, nil }
	case *serverPIDFile != "":
		o.ServerPIDs = load.PIDFile(*serverPIDFile)
	}
	if !*quiet {
		o.Progress = e.stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := load.Run(ctx, p, o)
	if err != nil {
		e.errorf("bench: %v", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			e.errorf("bench: %v", err)
			return exitFailure
		}
	} else {
		rep.WriteText(e.stdout)
	}
	if rep.Errors > 0 {
		return benchExitErrors
	}
	return exitOK
}

// parseUsers reads --users: a pattern with %d (numbered 1..n) or a file of
// "user:password" lines (a passwd-file with {PLAIN} passwords works too;
// blank lines and # comments are skipped).
func parseUsers(spec string, n, conc int) ([]load.Cred, error) {
	if strings.Contains(spec, "%d") {
		if n <= 0 {
			n = conc
		}
		user, pass, ok := strings.Cut(spec, ":")
		if !ok {
			return nil, fmt.Errorf("--users pattern %q: want USER%%d:PASSWORD", spec)
		}
		out := make([]load.Cred, n)
		for i := range out {
			out[i] = load.Cred{User: strings.ReplaceAll(user, "%d", fmt.Sprint(i+1)), Pass: strings.ReplaceAll(pass, "%d", fmt.Sprint(i+1))}
		}
		return out, nil
	}
	f, err := os.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("--users: %w", err)
	}
	defer f.Close()
	return readUsers(f, spec)
}

func readUsers(r io.Reader, name string) ([]load.Cred, error) {
	var out []load.Cred
	sc := bufio.NewScanner(r)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%s:%d: want user:password", name, ln)
		}
		if p, ok := strings.CutPrefix(pass, "{PLAIN}"); ok {
			pass, _, _ = strings.Cut(p, ":")
		}
		out = append(out, load.Cred{User: user, Pass: pass})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no users", name)
	}
	return out, nil
}
