package cli

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"os"
	"strings"

	"github.com/roost-mail/roost/internal/probe"
)

// Exit statuses of `roost probe` (documented in the README; a script
// checks them, so 2 for usage as most scanners do, not EX_USAGE).
const (
	probeExitFindings = 1 // a finding at or above --fail-on, or a probe error
	probeExitUsage    = 2
)

func runProbe(e *env) int {
	fs := newFlags(e, "probe")
	timeout := fs.Duration("timeout", probe.DefaultTimeout, "timeout per protocol step")
	source := fs.String("source", "", "local IP `address` to connect from")
	user := fs.String("user", "", "user name for the enumeration check and one login (needs --password-stdin)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	failOn := fs.String("fail-on", "none", "exit 1 if a finding has at least this `severity` (info, low, medium, high, critical, none)")
	caFile := fs.String("ca", "", "verify certificates against the CAs in this PEM `file` instead of the system roots")
	args, err := parseInterspersed(fs, e.args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return probeExitUsage
	}
	if len(args) == 0 {
		e.errorf("probe: no target (imap://HOST[:PORT], imaps://, pop3://, pop3s://, or a bare HOST for all four)")
		return probeExitUsage
	}
	var targets []probe.Target
	for _, a := range args {
		ts, err := probe.ParseTarget(a)
		if err != nil {
			e.errorf("probe: %v", err)
			return probeExitUsage
		}
		targets = append(targets, ts...)
	}
	threshold := probe.Severity(-1)
	if *failOn != "none" {
		if threshold, err = probe.ParseSeverity(*failOn); err != nil {
			e.errorf("probe: --fail-on: %v", err)
			return probeExitUsage
		}
	}
	if *timeout <= 0 {
		e.errorf("probe: --timeout must be positive")
		return probeExitUsage
	}
	o := probe.Options{Timeout: *timeout, Source: *source, User: *user}
	if (*user != "") != *pwStdin {
		e.errorf("probe: --user and --password-stdin go together")
		return probeExitUsage
	}
	if *pwStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			e.errorf("probe: reading the password from stdin: %v", err)
			return probeExitUsage
		}
		o.Password = strings.TrimRight(line, "\r\n")
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			e.errorf("probe: %v", err)
			return probeExitUsage
		}
		o.Roots = x509.NewCertPool()
		if !o.Roots.AppendCertsFromPEM(pem) {
			e.errorf("probe: %s: no PEM certificates", *caFile)
			return probeExitUsage
		}
	}

	r := probe.Run(context.Background(), targets, o)
	if *asJSON {
		err = r.WriteJSON(e.stdout)
	} else {
		err = r.WriteText(e.stdout)
	}
	if err != nil {
		e.errorf("probe: %v", err)
		return probeExitFindings
	}
	if r.Errors() {
		return probeExitFindings
	}
	if m, any := r.Max(); any && threshold >= 0 && m >= threshold {
		return probeExitFindings
	}
	return exitOK
}
