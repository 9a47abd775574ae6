package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/roost-mail/roost/internal/auth/passwdfile"
	"github.com/roost-mail/roost/internal/auth/password"
	"github.com/roost-mail/roost/internal/config"
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

func runUserDel(e *env) int {
	fs := newFlags(e, "user del")
	cfgFlag := fs.String("c", "", "configuration `file`")
	args, err := parseInterspersed(fs, e.args)
	if err != nil {
		return exitUsage
	}
	if len(args) != 1 {
		e.errorf("usage: roost user del [-c FILE] NAME")
		return exitUsage
	}
	path, ok := usersFile(e, *cfgFlag)
	if !ok {
		return exitConfig
	}
	if err := passwdfile.Delete(path, args[0]); err != nil {
		e.errorf("%v", err)
		return exitFailure
	}
	return exitOK
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
