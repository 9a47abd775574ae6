package cli

import (
	"fmt"

	"github.com/roost-mail/roost/internal/config"
)

// runConfigCheck loads and validates the configuration. Errors come
// first, then dangerous settings under their own heading, then the other
// warnings. Exit 1 on errors, or with -strict on any warning; else 0.
func runConfigCheck(e *env) int {
	fs := newFlags(e, "config check")
	cfgFlag := fs.String("c", "", "configuration `file`")
	strict := fs.Bool("strict", false, "fail (exit 1) on warnings too")
	if err := fs.Parse(e.args); err != nil {
		return exitUsage
	}
	path := configPath(*cfgFlag)
	cfg, err := config.Load(path)
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	var errs, dangers, warns []config.Problem
	for _, p := range cfg.Validate() {
		switch {
		case p.Severity == config.Error:
			errs = append(errs, p)
		case p.Dangerous:
			dangers = append(dangers, p)
		default:
			warns = append(warns, p)
		}
	}
	for _, p := range errs {
		fmt.Fprintf(e.stdout, "error: %s\n", p)
	}
	if len(dangers) > 0 {
		fmt.Fprintf(e.stdout, "dangerous settings (see docs/SECURITY.md):\n")
		for _, p := range dangers {
			fmt.Fprintf(e.stdout, "warning: %s\n", p)
		}
	}
	for _, p := range warns {
		fmt.Fprintf(e.stdout, "warning: %s\n", p)
	}
	nw := len(dangers) + len(warns)
	switch {
	case len(errs) > 0:
		fmt.Fprintf(e.stdout, "%s: %d error(s), %d warning(s) (%d dangerous)\n", path, len(errs), nw, len(dangers))
		return exitFailure
	case *strict && nw > 0:
		fmt.Fprintf(e.stdout, "%s: %d warning(s) (%d dangerous), failing because of -strict\n", path, nw, len(dangers))
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "%s: OK, %d warning(s) (%d dangerous)\n", path, nw, len(dangers))
	return exitOK
}

func runConfigDump(e *env) int {
	fs := newFlags(e, "config dump")
	cfgFlag := fs.String("c", "", "configuration `file`")
	nonDefault := fs.Bool("n", false, "only settings that differ from the defaults")
	if err := fs.Parse(e.args); err != nil {
		return exitUsage
	}
	cfg, err := config.Load(configPath(*cfgFlag))
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	if err := cfg.Dump(e.stdout, *nonDefault); err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	return exitOK
}
