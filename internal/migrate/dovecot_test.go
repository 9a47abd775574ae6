package migrate

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Dovecot 2.3's imap and pop3 binaries run in PREAUTH mode as nobody on a
// Maildir (internal/message/testdata/README.md). Without Dovecot or root
// the tests skip, except when CI is set: then they fail.

const (
	dovecotIMAP = "/usr/lib/dovecot/imap"
	dovecotPOP3 = "/usr/lib/dovecot/pop3"
)

func needDovecot(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := os.Stat(dovecotIMAP); err != nil {
		why = "Dovecot is not installed (" + dovecotIMAP + ")"
	} else if os.Geteuid() != 0 {
		why = "running Dovecot as nobody needs root"
	} else if _, err := exec.LookPath("setpriv"); err != nil {
		why = "setpriv is missing"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// nobodyDir returns a temporary directory nobody can use.
func nobodyDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chownNobody(t, d)
	return d
}

// chownNobody gives a tree to nobody:nogroup.
func chownNobody(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("chown", "-R", "nobody:nogroup", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
}

// runDovecot runs a Dovecot binary in PREAUTH mode on the Maildir at
// maildir with input on stdin (a pipe: Dovecot refuses a plain file).
func runDovecot(t *testing.T, bin, maildir, input string) string {
	t.Helper()
	return runDovecotLocation(t, bin, "maildir:"+maildir, filepath.Dir(maildir), input)
}

func runDovecotLocation(t *testing.T, bin, location, home, input string) string {
	t.Helper()
	cmd := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", bin,
		"-o", "mail_location="+location, "-o", "mail_uid=nobody", "-o", "mail_gid=nogroup",
		"-o", "first_valid_uid=0", "-o", "log_path=/dev/null")
	cmd.Env = []string{"USER=nobody", "HOME=" + home, "PATH=/usr/bin:/bin", "TZ=UTC"}
	cmd.Dir = home
	cmd.Stdin = strings.NewReader(input)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", bin, err, out.String(), errOut.String())
	}
	return out.String()
}

// dovecotMessage is one message as Dovecot's IMAP shows it.
type dovecotMessage struct {
	UID   uint32
	Flags []string // sorted, without \Recent
	Size  int64
	Date  string
	Body  string
}

// dovecotMailbox is a mailbox as Dovecot's IMAP shows it.
type dovecotMailbox struct {
	UIDValidity, UIDNext uint32
	Messages             []dovecotMessage
}

var (
	reFetch       = regexp.MustCompile(`^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) RFC822\.SIZE (\d+) INTERNALDATE "([^"]+)" BODY\[\] \{(\d+)\}\r\n`)
	reUIDValidity = regexp.MustCompile(`\[UIDVALIDITY (\d+)\]`)
	reUIDNext     = regexp.MustCompile(`\[UIDNEXT (\d+)\]`)
	reList        = regexp.MustCompile(`(?m)^\* LIST \(([^)]*)\) "[./]" (.*)\r$`)
)

// dovecotMailboxes lists the selectable mailboxes Dovecot sees, in its
// own naming ("Archive.2026").
func dovecotMailboxes(t *testing.T, location string) []string {
	t.Helper()
	out := runDovecotLocation(t, dovecotIMAP, location, locationHome(location), "l LIST \"\" \"*\"\r\nz LOGOUT\r\n")
	var names []string
	for _, m := range reList.FindAllStringSubmatch(out, -1) {
		if strings.Contains(m[1], `\Noselect`) {
			continue
		}
		names = append(names, strings.Trim(m[2], `"`))
	}
	sort.Strings(names)
	return names
}

// dovecotFetch reads a mailbox through Dovecot's IMAP.
func dovecotFetch(t *testing.T, maildir, mailbox string) dovecotMailbox {
	t.Helper()
	return dovecotFetchLocation(t, "maildir:"+maildir, mailbox)
}

func dovecotFetchLocation(t *testing.T, location, mailbox string) dovecotMailbox {
	t.Helper()
	out := runDovecotLocation(t, dovecotIMAP, location, locationHome(location), "x1 EXAMINE \""+mailbox+"\"\r\n"+
		"x2 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])\r\nz LOGOUT\r\n")
	var mb dovecotMailbox
	i := strings.Index(out, "\r\nx1 OK")
	if i < 0 {
		t.Fatalf("EXAMINE %s failed:\n%s", mailbox, out)
	}
	if m := reUIDValidity.FindStringSubmatch(out[:i]); m != nil {
		v, _ := strconv.ParseUint(m[1], 10, 32)
		mb.UIDValidity = uint32(v)
	}
	if m := reUIDNext.FindStringSubmatch(out[:i]); m != nil {
		v, _ := strconv.ParseUint(m[1], 10, 32)
		mb.UIDNext = uint32(v)
	}
	rest := out[strings.Index(out[i+2:], "\r\n")+i+4:]
	for strings.HasPrefix(rest, "* ") {
		m := reFetch.FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("unexpected FETCH response: %.200q", rest)
		}
		uid, _ := strconv.ParseUint(m[1], 10, 32)
		size, _ := strconv.ParseInt(m[3], 10, 64)
		n, _ := strconv.Atoi(m[5])
		rest = rest[len(m[0]):]
		msg := dovecotMessage{UID: uint32(uid), Size: size, Date: m[4], Body: rest[:n]}
		for _, f := range strings.Fields(m[2]) {
			if f != `\Recent` {
				msg.Flags = append(msg.Flags, f)
			}
		}
		sort.Strings(msg.Flags)
		mb.Messages = append(mb.Messages, msg)
		rest = rest[n:]
		if !strings.HasPrefix(rest, ")\r\n") {
			t.Fatalf("FETCH response does not end after the body: %.100q", rest)
		}
		rest = rest[3:]
	}
	if !strings.HasPrefix(rest, "x2 OK") {
		t.Fatalf("UID FETCH in %s: %.300q", mailbox, rest)
	}
	return mb
}

// locationHome is the parent of a mail_location's directory.
func locationHome(location string) string {
	dir := strings.SplitN(strings.SplitN(location, ":", 2)[1], ":", 2)[0]
	return filepath.Dir(dir)
}

// dovecotUIDLs returns Dovecot's POP3 UIDL listing of INBOX.
func dovecotUIDLs(t *testing.T, location string) []string {
	t.Helper()
	out := runDovecotLocation(t, dovecotPOP3, location, locationHome(location), "UIDL\r\nQUIT\r\n")
	var uidls []string
	inList := false
	for _, l := range strings.Split(out, "\r\n") {
		switch {
		case l == ".":
			inList = false
		case inList:
			uidls = append(uidls, l)
		case strings.HasPrefix(l, "+OK") && !inList && uidls == nil:
			inList = true
		}
	}
	if len(uidls) == 0 || uidls[0] == "" {
		t.Fatalf("no UIDL listing from Dovecot:\n%s", out)
	}
	return uidls
}
