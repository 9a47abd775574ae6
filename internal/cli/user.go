package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/auth/passwdfile"
	"github.com/roost-mail/roost/internal/auth/password"
	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// usersFile returns the path of the first passwd-file passdb: the file that
// `roost user` edits.
func usersFile(e *env, cfgFlag string) (string, bool) {
	cfg := loadConfig(e, configPath(cfgFlag))
	if cfg == nil {
		return "", false
	}
	return passwdFilePath(e, cfg)
}

func passwdFilePath(e *env, cfg *config.Config) (string, bool) {
	for _, p := range cfg.Passdbs {
		if p.Driver == "passwd-file" {
			return p.Path, true
		}
	}
	e.errorf("no passdb with driver = passwd-file in the configuration")
	return "", false
}

// userPasswordFlags are the flags shared by user add and user passwd.
type userPasswordFlags struct {
	cfg, scheme, password *string
	stdin                 *bool
}

func newUserPasswordFlags(fs *flag.FlagSet) userPasswordFlags {
	return userPasswordFlags{
		cfg:      fs.String("c", "", "configuration `file`"),
		scheme:   fs.String("s", DefaultScheme, "password `scheme`"),
		password: fs.String("p", "", "`password` (visible in the process list; prefer --password-stdin)"),
		stdin:    fs.Bool("password-stdin", false, "read the password from standard input"),
	}
}

// hash returns the hashed password the flags ask for.
func (f userPasswordFlags) hash(e *env) (string, error) {
	pw := *f.password
	var err error
	switch {
	case *f.stdin && pw != "":
		return "", fmt.Errorf("use either -p or --password-stdin")
	case *f.stdin:
		pw, err = readPasswordLine(e.stdin)
	case pw == "":
		pw, err = askPassword(e)
	}
	if err != nil {
		return "", err
	}
	return password.Hash(strings.ToUpper(*f.scheme), pw)
}

func runUserAdd(e *env) int    { return userSetPassword(e, "user add", true) }
func runUserPasswd(e *env) int { return userSetPassword(e, "user passwd", false) }

func userSetPassword(e *env, name string, add bool) int {
	fs := newFlags(e, name)
	f := newUserPasswordFlags(fs)
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if len(args) != 1 {
		e.errorf("usage: roost %s [-c FILE] [-s SCHEME] NAME [-p PASSWORD | --password-stdin]", name)
		return exitUsage
	}
	if add && args[0] != strings.ToLower(args[0]) {
		// Login names are lowercased before the lookup (Dovecot's default
		// auth_username_format = %Lu), so this entry could never log in.
		e.errorf("user names must be lower case: logins are matched as %q", strings.ToLower(args[0]))
		return exitUsage
	}
	path, ok := usersFile(e, *f.cfg)
	if !ok {
		return exitConfig
	}
	h, err := f.hash(e)
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	if add {
		err = passwdfile.Add(path, passwdfile.Entry{User: args[0], Password: h})
	} else {
		err = passwdfile.SetPassword(path, args[0], h)
	}
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	return exitOK
}

// runUserDel removes a user from the passwd-file. With --purge it also
// removes the account's mail: it refuses while the user has sessions on
// the running server unless --force (then they are kicked first), removes
// the passwd-file entry (so that no new login or delivery starts), and
// then has the server (or, when none runs, this process) remove the
// account from the store. NAME no longer in the passwd-file purges the
// mail left behind by an earlier del without --purge.
func runUserDel(e *env) int {
	const usage = "user del [-c FILE] [--purge [--force]] NAME"
	fs := newFlags(e, "user del")
	cfgFlag := fs.String("c", "", "configuration `file`")
	purge := fs.Bool("purge", false, "also remove the user's mail")
	force := fs.Bool("force", false, "with --purge: disconnect the user's sessions instead of refusing")
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if len(args) != 1 || *force && !*purge {
		e.errorf("usage: roost %s", usage)
		return exitUsage
	}
	name := args[0]
	cfg := loadConfig(e, configPath(*cfgFlag))
	if cfg == nil {
		return exitConfig
	}
	path, ok := passwdFilePath(e, cfg)
	if !ok {
		return exitConfig
	}
	f, err := passwdfile.Open(path)
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	_, exists, err := f.Lookup(name)
	if err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	if !exists && !*purge {
		e.errorf("%s: no such user in %s", name, path)
		return exitNoUser
	}
	// The account is the name login gives (auth_username_format, a "user"
	// field), looked up before the entry goes.
	account := name
	if exists {
		authn, err := app.NewAuth(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			e.errorf("%v", err)
			return exitConfig
		}
		if a, ok, err := authn.LookupUser(context.Background(), name); err != nil {
			e.errorf("looking up %s: %v", name, err)
			return exitFailure
		} else if ok {
			account = a
		}
	}
	where := accountLocation(cfg, account)
	if !*purge {
		if err := passwdfile.Delete(path, name); err != nil {
			e.errorf("%v", err)
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "user %s deleted; the mail of account %s is kept in %s (roost user del --purge %s removes it)\n",
			name, account, where, account)
		return exitOK
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sock := admin.SocketPath(cfg.MailLocation.Path)
	c, err := admin.Dial(ctx, sock)
	switch {
	case err == nil:
		defer c.Close()
	case errors.Is(err, admin.ErrNotRunning):
		c = nil
	default:
		e.errorf("%v", err)
		return exitFailure
	}
	if c != nil {
		var sessions []admin.Session
		if err := c.Call(ctx, admin.Request{Cmd: "who"}, &sessions); err != nil {
			e.errorf("who: %v", err)
			return exitFailure
		}
		var mine []string
		for _, s := range sessions {
			if s.User == account {
				mine = append(mine, fmt.Sprintf("%s from %s since %s", s.Protocol, s.Remote, s.Since.Format(time.RFC3339)))
			}
		}
		if len(mine) > 0 && !*force {
			e.errorf("%s has %d session(s) (%s): nothing removed; use --force to disconnect them and purge",
				account, len(mine), strings.Join(mine, ", "))
			return exitFailure
		}
	}
	if exists {
		if err := passwdfile.Delete(path, name); err != nil {
			e.errorf("%v", err)
			return exitFailure
		}
	}
	var res admin.PurgeResult
	req := admin.Request{Cmd: "account.purge", User: account}
	if c != nil {
		err = c.Call(ctx, req, &res)
	} else {
		err = adminLocal(ctx, e, cfg, req, &res)
	}
	var ae *admin.Error
	nothing := false
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Code == admin.CodeNotFound && exists:
		nothing = true // the user never received or read mail
	case errors.As(err, &ae) && ae.Code == admin.CodeNotFound:
		e.errorf("%s: no such user in %s and no mail stored for account %s", name, path, account)
		return exitNoUser
	default:
		if exists {
			e.errorf("user %s deleted, but its mail was not removed: %v", name, err)
		} else {
			e.errorf("purge %s: %v", account, err)
		}
		return exitFailure
	}
	if exists {
		fmt.Fprintf(e.stdout, "user %s deleted\n", name)
	}
	if res.Kicked > 0 {
		fmt.Fprintf(e.stdout, "%d session(s) of %s disconnected\n", res.Kicked, account)
	}
	if nothing {
		fmt.Fprintf(e.stdout, "no mail was stored for account %s\n", account)
	} else {
		fmt.Fprintf(e.stdout, "mail of account %s removed (%s)\n", account, where)
	}
	return exitOK
}

// accountLocation says where the store keeps account's mail, for messages
// to the admin.
func accountLocation(cfg *config.Config, account string) string {
	if cfg.MailLocation.Driver == "sqlite" {
		if safe, err := sqlite.SafeName(account); err == nil {
			return filepath.Join(cfg.MailLocation.Path, "accounts", safe)
		}
	}
	// String hides a database password.
	return "the store " + cfg.MailLocation.String()
}

func runUserList(e *env) int {
	fs := newFlags(e, "user list")
	cfgFlag := fs.String("c", "", "configuration `file`")
	if err := fs.Parse(e.args); err != nil {
		return exitUsage
	}
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
	for _, u := range users {
		fmt.Fprintln(e.stdout, u.User)
	}
	return exitOK
}
