package cli

import (
	"fmt"

	"github.com/roost-mail/roost/internal/config"
)

// runConfigCheck loads and validates the configuration; errors exit 1,
// warnings are printed and exit 0.
func runConfigCheck(e *env) int {
	fs := newFlags(e, "config check")
	cfgFlag := fs.String("c", "", "configuration `file`")
	if err := fs.Parse(e.args); err != nil {
		return exitUsage
	}
	path := configPath(*cfgFlag)
	cfg, err := config.Load(path)
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	errs, warns := 0, 0
	for _, p := range cfg.Validate() {
		if p.Severity == config.Error {
			errs++
			fmt.Fprintf(e.stdout, "error: %s\n", p)
		} else {
			warns++
			fmt.Fprintf(e.stdout, "warning: %s\n", p)
		}
	}
	if errs > 0 {
		fmt.Fprintf(e.stdout, "%s: %d error(s), %d warning(s)\n", path, errs, warns)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "%s: OK, %d warning(s)\n", path, warns)
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
