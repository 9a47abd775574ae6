package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/auth/passwdfile"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/migrate"
)

const (
	importUsage = "import [-c FILE] (-u USER | --all-users [--home-template T]) [--layout fs] [-m MAILBOX] maildir|mbox PATH"
	exportUsage = "export [-c FILE] -u USER [--layout fs] maildir|mbox PATH"
)

func runImport(e *env) int { return runMigrate(e, true) }
func runExport(e *env) int { return runMigrate(e, false) }

// runMigrate imports from or exports to Dovecot's Maildir++ or mbox,
// keeping UIDVALIDITY and UIDs (see package migrate). Import is
// idempotent: run it again to pick up what is missing.
func runMigrate(e *env, isImport bool) int {
	name, usageLine := "export", exportUsage
	if isImport {
		name, usageLine = "import", importUsage
	}
	fs := newFlags(e, name)
	cfgFlag := fs.String("c", "", "configuration `file`")
	user := fs.String("u", "", "`user` whose mail is moved")
	var allUsers *bool
	var homeTemplate, mailbox *string
	if isImport {
		allUsers = fs.Bool("all-users", false, "every user of the passwd-file; PATH is ignored in favour of --home-template")
		homeTemplate = fs.String("home-template", "", "a user's source `path` with --all-users: %u user, %n local part, %d domain, %h passwd-file home (default %h/Maildir, or %h/mail for mbox)")
		mailbox = fs.String("m", "", "destination `mailbox` when PATH is one mbox file (default INBOX)")
	}
	layout := fs.String("layout", "", "Maildir `layout`: maildir++ (default, \".Archive.2026\") or fs (Dovecot's LAYOUT=fs, \"Archive/2026\")")
	quiet := fs.Bool("q", false, "no progress lines")
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	all := allUsers != nil && *allUsers
	if len(args) < 1 || (args[0] != "maildir" && args[0] != "mbox") || (*user == "") == !all ||
		(!all && len(args) != 2) || (all && len(args) > 2) {
		e.errorf("usage: roost %s", usageLine)
		return exitUsage
	}
	format := args[0]
	cfg := loadConfig(e, configPath(*cfgFlag))
	if cfg == nil {
		return exitConfig
	}
	log := newLogger(e.stderr, slog.LevelWarn)
	// The account is the one a login as the user opens (auth_username_format,
	// a passdb "user" field); a name no passdb knows is taken as it is.
	authn, err := app.NewAuth(cfg, log)
	if err != nil {
		e.errorf("%v", err)
		return exitConfig
	}
	accountOf := func(user string) string {
		if a, ok, err := authn.LookupUser(context.Background(), user); err == nil && ok {
			return a
		}
		return user
	}
	st, err := openStore(e, cfg, log)
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	defer st.Close()
	opts := migrate.Options{Layout: *layout}
	if !*quiet {
		opts.Progress = e.stderr
	}

	type job struct{ user, path string }
	var jobs []job
	if all {
		path, ok := usersFile(e, *cfgFlag)
		if !ok {
			return exitConfig
		}
		f, err := passwdfile.Open(path)
		if err != nil {
			e.errorf("%v", err)
			return exitFailure
		}
		users, err := f.Users()
		if err != nil {
			e.errorf("%v", err)
			return exitFailure
		}
		tmpl := *homeTemplate
		if tmpl == "" {
			tmpl = "%h/Maildir"
			if format == "mbox" {
				tmpl = "%h/mail"
			}
		}
		for _, u := range users {
			if strings.Contains(tmpl, "%h") && u.Home == "" {
				e.errorf("%s: no home directory in the passwd-file for %%h; skipped", u.User)
				continue
			}
			jobs = append(jobs, job{u.User, expandHome(tmpl, u)})
		}
	} else {
		jobs = []job{{*user, args[1]}}
	}

	status := exitOK
	ctx := context.Background()
	for _, j := range jobs {
		if all {
			if _, err := os.Stat(j.path); err != nil {
				e.errorf("%s: %v; skipped", j.user, err)
				continue
			}
		}
		stats, err := migrateOne(ctx, st, accountOf(j.user), format, j.path, isImport, deref(mailbox), opts)
		for _, w := range stats.Warnings {
			e.errorf("%s: warning: %s", j.user, w)
		}
		if err != nil {
			e.errorf("%s %s: %v", name, j.user, err)
			status = exitFailure
			continue
		}
		verb := "exported"
		if isImport {
			verb = "imported"
		}
		fmt.Fprintf(e.stdout, "%s: %s %d messages (%d bytes) in %d mailboxes; %d already there\n",
			j.user, verb, stats.Messages, stats.Bytes, stats.Mailboxes, stats.Skipped)
	}
	return status
}

func migrateOne(ctx context.Context, st mailstore.Store, user, format, path string, isImport bool, mailbox string, opts migrate.Options) (migrate.Stats, error) {
	acc, err := st.Account(ctx, user)
	if err != nil {
		return migrate.Stats{}, err
	}
	defer acc.Close()
	switch {
	case isImport && format == "maildir":
		return migrate.ImportMaildir(ctx, acc, path, opts)
	case isImport:
		return migrate.ImportMbox(ctx, acc, path, mailbox, opts)
	case format == "maildir":
		return migrate.ExportMaildir(ctx, acc, path, opts)
	default:
		return migrate.ExportMbox(ctx, acc, path, opts)
	}
}

// expandHome expands %u, %n, %d and %h (passwd-file home) as Dovecot does.
func expandHome(tmpl string, u passwdfile.Entry) string {
	local, domain, _ := strings.Cut(u.User, "@")
	r := strings.NewReplacer("%u", u.User, "%n", local, "%d", domain, "%h", u.Home, "%%", "%")
	return r.Replace(tmpl)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
