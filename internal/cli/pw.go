package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/roost-mail/roost/internal/auth/password"
)

// DefaultScheme is the password scheme for `roost pw` and `roost user add`
// when -s is not given: bcrypt, which Dovecot verifies natively and which
// costs far less memory per login than ARGON2 under many parallel logins.
const DefaultScheme = "BLF-CRYPT"

func runPW(e *env) int {
	fs := newFlags(e, "pw")
	scheme := fs.String("s", DefaultScheme, "password `scheme` ("+strings.Join(password.Schemes(), ", ")+")")
	pw := fs.String("p", "", "`password` (default: ask)")
	list := fs.Bool("l", false, "list supported schemes")
	if err := fs.Parse(e.args); err != nil {
		return exitUsage
	}
	if *list {
		fmt.Fprintln(e.stdout, strings.Join(password.Schemes(), " "))
		return exitOK
	}
	if *pw == "" {
		p, err := askPassword(e)
		if err != nil {
			e.errorf("%v", err)
			return exitFailure
		}
		*pw = p
	}
	h, err := password.Hash(strings.ToUpper(*scheme), *pw)
	if err != nil {
		e.errorf("%v", err)
		return exitUsage
	}
	fmt.Fprintln(e.stdout, h)
	return exitOK
}

// askPassword reads a new password: twice without echo from a terminal, or
// one line from a pipe.
func askPassword(e *env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Enter new password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(e.stderr, "Retype new password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", fmt.Errorf("passwords don't match")
		}
		if len(a) == 0 {
			return "", fmt.Errorf("empty password")
		}
		return string(a), nil
	}
	return readPasswordLine(e.stdin)
}

// readPasswordLine reads one line (without its line ending) as a password.
func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty password on standard input")
	}
	return line, nil
}
