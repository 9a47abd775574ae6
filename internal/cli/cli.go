// Package cli implements the roost command line: thin commands that parse
// flags and call app, config, auth and the store. Each command returns its
// exit status.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore"
)

// Exit statuses (sysexits.h, as dovecot-lda uses them).
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 64 // EX_USAGE
	exitNoUser      = 67 // EX_NOUSER
	exitUnavailable = 69 // EX_UNAVAILABLE
	exitTempFail    = 75 // EX_TEMPFAIL
	exitNoPerm      = 77 // EX_NOPERM
	exitConfig      = 78 // EX_CONFIG
)

// env is what a command may touch: its arguments and standard streams.
type env struct {
	args   []string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// switchUser: commands that open the mail store themselves switch to
	// the server's unprivileged user first when run as root, so the files
	// they create stay the server's. Off in tests, which run Main inside
	// the test process.
	switchUser bool
}

func (e *env) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "roost: "+format+"\n", args...)
}

type command struct {
	name  string // "config check"
	usage string
	short string
	run   func(e *env) int
}

var commands []command

func init() {
	commands = []command{
		{"serve", "serve [-c FILE] [-data DIR]", "run the server in the foreground (embedded default without -c)", runServe},
		{"config check", "config check [-c FILE] [--strict]", "validate; warn about dangerous settings (--strict: warnings fail)", runConfigCheck},
		{"config dump", "config dump [-c FILE] [-n]", "print the effective (-n: non-default) settings", runConfigDump},
		{"pw", "pw [-s SCHEME] [-p PASSWORD]", "hash a password (like doveadm pw)", runPW},
		{"deliver", "deliver [-c FILE] -d USER [-m MAILBOX] < MESSAGE", "deliver one message from stdin (like dovecot-lda)", runDeliver},
		{"user add", "user add [-c FILE] [-s SCHEME] NAME [-p PASSWORD | --password-stdin]", "add a user to the passwd-file", runUserAdd},
		{"user passwd", "user passwd [-c FILE] [-s SCHEME] NAME [-p PASSWORD | --password-stdin]", "change a user's password", runUserPasswd},
		{"user del", "user del [-c FILE] [--purge [--force]] NAME", "remove a user (--purge: and its mail; --force: kick its sessions)", runUserDel},
		{"user list", "user list [-c FILE]", "list users", runUserList},
		{"import", importUsage, "import a Dovecot Maildir or mbox, keeping UIDs (idempotent)", runImport},
		{"export", exportUsage, "export to a Maildir or mbox that Dovecot reads with the same UIDs", runExport},
		{"probe", "probe [--json] [--fail-on SEV] [--user U --password-stdin] [--source IP] URL|HOST...", "footprint an IMAP/POP3 server as an attacker would; report findings", runProbe},
		{"who", "who [-c FILE] [--json] [--health]", "list logged-in IMAP/POP3 sessions; --health: exit 0 if the server and its store are reachable, else 1", runWho},
		{"kick", "kick [-c FILE] -u USER [--json]", "disconnect a user's sessions (needs the running server)", runKick},
		{"mailbox list", "mailbox list [-c FILE] -u USER [--json]", "list a user's mailboxes (--json: special-use, counts)", runMailboxList},
		{"mailbox create", "mailbox create [-c FILE] -u USER [-s SPECIAL-USE] NAME", "create a mailbox", runMailboxCreate},
		{"mailbox delete", "mailbox delete [-c FILE] -u USER NAME", "delete a mailbox and its messages", runMailboxDelete},
		{"mailbox rename", "mailbox rename [-c FILE] -u USER NAME NEWNAME", "rename a mailbox (and its children)", runMailboxRename},
		{"mailbox status", "mailbox status [-c FILE] -u USER [--json] NAME", "messages, unseen, size, uidvalidity, uidnext, highestmodseq", runMailboxStatus},
		{"expunge", "expunge [-c FILE] -u USER -m MAILBOX [--json] SEARCH-QUERY", "expunge the messages an IMAP search query matches", runExpunge},
		{"quota get", "quota get [-c FILE] -u USER [--json]", "a user's quota usage and limits (STORAGE in KiB; --json: octets)", runQuotaGet},
		{"quota recalc", "quota recalc [-c FILE] -u USER [--json]", "recount a user's quota usage from the stored messages", runQuotaRecalc},
		{"bench", benchUsage, "load-test any IMAP/POP3 server with simulated clients; report throughput, latency, errors", runBench},
	}
}

// Main runs the command named by args (without the program name) and returns
// the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return mainEnv(args, stdin, stdout, stderr, true)
}

func mainEnv(args []string, stdin io.Reader, stdout, stderr io.Writer, switchUser bool) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	// Longest match: "config check" before "config".
	var best *command
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].name {
			if best == nil || len(words) > len(strings.Fields(best.name)) {
				best = &commands[i]
			}
		}
	}
	if best == nil {
		fmt.Fprintf(stderr, "roost: unknown command %q\n\n", strings.Join(args, " "))
		usage(stderr)
		return exitUsage
	}
	n := len(strings.Fields(best.name))
	return best.run(&env{args: args[n:], stdin: stdin, stdout: stdout, stderr: stderr, switchUser: switchUser})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: roost COMMAND [ARGS]")
	fmt.Fprintln(w)
	cs := append([]command(nil), commands...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  roost %-62s %s\n", c.usage, c.short)
	}
}

// newFlags returns a flag set that reports errors on e.stderr.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("roost "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseInterspersed parses flags that may appear before or after positional
// arguments ("user add NAME -p x" and "user add -p x NAME").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// DefaultDataDir is where `roost serve` keeps the embedded default when
// neither -c nor -data is given.
const DefaultDataDir = "roost-data"

// configPath resolves the configuration file: the -c flag, then
// $ROOST_CONFIG, then the embedded default's roost-data/roost.conf if it
// exists, then /etc/roost/roost.conf.
func configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := os.Getenv("ROOST_CONFIG"); p != "" {
		return p
	}
	p := DefaultDataDir + "/roost.conf"
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "/etc/roost/roost.conf"
}

// loadConfig loads and validates the configuration, printing problems.
// It returns nil after printing errors.
func loadConfig(e *env, path string) *config.Config {
	cfg, err := config.Load(path)
	if err != nil {
		e.errorf("%v", err)
		return nil
	}
	bad := false
	for _, p := range cfg.Validate() {
		if p.Severity == config.Error {
			bad = true
			e.errorf("%s", p)
		}
	}
	if bad {
		return nil
	}
	return cfg
}

// openStore opens the configured mail store for a command that works
// without the server (deliver, import, export, mailbox commands). Run as
// root it first becomes the server's user (default_internal_user or
// mail_uid), as roost serve does, so that files it creates belong to the
// server; a user that does not exist is an error.
func openStore(e *env, cfg *config.Config, log *slog.Logger) (mailstore.Store, error) {
	if e.switchUser {
		if err := app.SwitchUser(cfg, log); err != nil {
			return nil, err
		}
	}
	return app.OpenStore(cfg, log)
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

var errUsage = errors.New("usage")
