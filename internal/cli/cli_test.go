package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/auth/password"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// run runs the roost command line in-process and returns its exit status
// and output.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = mainEnv(args, strings.NewReader(stdin), &out, &errb, false)
	return code, out.String(), errb.String()
}

// testConfig writes a minimal configuration into a temporary directory and
// returns its path and the directory.
func testConfig(t *testing.T, extra string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}secret::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := "protocols = pop3\nlisten = 127.0.0.1\nssl = no\nmail_location = sqlite:" + filepath.Join(dir, "mail") +
		"\npassdb {\n  driver = passwd-file\n  args = " + users + "\n}\n" + extra
	path := filepath.Join(dir, "roost.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := run(t, "", "frobnicate")
	if code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestConfigCheck(t *testing.T) {
	path, dir := testConfig(t, "")
	if code, out, stderr := run(t, "", "config", "check", "-c", path); code != 0 {
		t.Fatalf("good config: exit %d\n%s%s", code, out, stderr)
	}
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("protocols = pop3\nno_such_setting = 1\n"), 0o600)
	code, out, stderr := run(t, "", "config", "check", "-c", bad)
	if code != exitFailure || !strings.Contains(stderr+out, "bad.conf:2") {
		t.Errorf("bad config: exit %d, output %q %q; want exit 1 naming bad.conf:2", code, out, stderr)
	}
}

func TestConfigDumpNonDefault(t *testing.T) {
	path, _ := testConfig(t, "login_greeting = Hello there\n")
	code, out, stderr := run(t, "", "config", "dump", "-n", "-c", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "login_greeting = Hello there") {
		t.Errorf("dump -n lacks the changed setting:\n%s", out)
	}
	if strings.Contains(out, "auth_failure_delay") {
		t.Errorf("dump -n shows a default setting:\n%s", out)
	}
}

func TestPW(t *testing.T) {
	for _, scheme := range []string{"SHA512-CRYPT", "BLF-CRYPT", "SSHA256", "PLAIN"} {
		code, out, stderr := run(t, "", "pw", "-s", scheme, "-p", "hunter2")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", scheme, code, stderr)
		}
		h := strings.TrimSpace(out)
		if !strings.HasPrefix(h, "{"+scheme+"}") {
			t.Errorf("%s: hash %q lacks the scheme prefix", scheme, h)
		}
		if ok, err := password.Verify(h, "hunter2"); !ok || err != nil {
			t.Errorf("%s: hash %q does not verify: %v", scheme, h, err)
		}
		if ok, _ := password.Verify(h, "hunter3"); ok {
			t.Errorf("%s: wrong password verifies", scheme)
		}
	}
	if code, _, _ := run(t, "", "pw", "-s", "NO-SUCH", "-p", "x"); code == 0 {
		t.Error("unknown scheme accepted")
	}
	// Without -p and with a pipe on stdin, one line is the password.
	code, out, _ := run(t, "piped\n", "pw", "-s", "SSHA")
	if ok, _ := password.Verify(strings.TrimSpace(out), "piped"); code != 0 || !ok {
		t.Errorf("password from stdin: exit %d, %q", code, out)
	}
}

func TestUserCommands(t *testing.T) {
	path, dir := testConfig(t, "")
	if code, _, stderr := run(t, "pw-of-bob\n", "user", "add", "-c", path, "bob", "--password-stdin"); code != 0 {
		t.Fatalf("user add: exit %d: %s", code, stderr)
	}
	if code, _, _ := run(t, "x\n", "user", "add", "-c", path, "Carol", "--password-stdin"); code != exitUsage {
		t.Error("an upper-case user name, which could never log in, was accepted")
	}
	if code, _, _ := run(t, "again\n", "user", "add", "-c", path, "bob", "--password-stdin"); code == 0 {
		t.Error("adding an existing user succeeded")
	}
	_, out, _ := run(t, "", "user", "list", "-c", path)
	if out != "alice\nbob\n" {
		t.Errorf("user list = %q, want alice and bob", out)
	}
	if code, _, stderr := run(t, "", "user", "passwd", "-c", path, "-s", "SHA512-CRYPT", "-p", "newpw", "bob"); code != 0 {
		t.Fatalf("user passwd: exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "users"))
	var bobHash string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "bob:") {
			bobHash = strings.Split(line, ":")[1]
		}
	}
	if ok, _ := password.Verify(bobHash, "newpw"); !ok {
		t.Errorf("bob's hash %q does not verify the new password", bobHash)
	}
	if code, _, _ := run(t, "", "user", "del", "-c", path, "bob"); code != 0 {
		t.Fatal("user del failed")
	}
	if _, out, _ := run(t, "", "user", "list", "-c", path); out != "alice\n" {
		t.Errorf("after del: %q", out)
	}
}

func TestDeliver(t *testing.T) {
	path, dir := testConfig(t, "")
	msg := "From: bob@example.org\nSubject: hi\n\nHello\n.\n"
	if code, _, stderr := run(t, msg, "deliver", "-c", path, "-d", "alice"); code != 0 {
		t.Fatalf("deliver: exit %d: %s", code, stderr)
	}
	// A mailbox that does not exist falls back to INBOX, like dovecot-lda.
	if code, _, stderr := run(t, msg, "deliver", "-c", path, "-d", "alice", "-m", "NoSuchFolder"); code != 0 {
		t.Fatalf("deliver -m: exit %d: %s", code, stderr)
	}
	if code, _, _ := run(t, msg, "deliver", "-c", path, "-d", "nobody"); code != exitNoUser {
		t.Errorf("unknown user: exit %d, want %d", code, exitNoUser)
	}
	if code, _, _ := run(t, msg, "deliver", "-c", path); code != exitUsage {
		t.Errorf("missing -d: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := run(t, msg, "deliver", "-c", filepath.Join(dir, "missing.conf"), "-d", "alice"); code != exitTempFail {
		t.Errorf("missing config: exit %d, want %d (the MTA must retry, not bounce)", code, exitTempFail)
	}

	st, err := sqlite.Open(sqlite.Options{Dir: filepath.Join(dir, "mail")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	acct, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	mb, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := acct.Messages(ctx, mb.ID)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("INBOX has %d messages (%v), want 2", len(msgs), err)
	}
	b, err := acct.Open(ctx, mb.ID, msgs[0].UID)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, _ := io.ReadAll(b)
	want := strings.ReplaceAll(msg, "\n", "\r\n")
	if string(got) != want || b.Size() != int64(len(want)) {
		t.Errorf("stored %q (size %d), want %q with CRLF line endings", got, b.Size(), want)
	}
}

// quota_max_mail_size caps roost deliver: a larger message is a permanent
// refusal (EX_NOPERM), so the MTA bounces it instead of retrying forever.
func TestDeliverTooBig(t *testing.T) {
	path, _ := testConfig(t, "quota_max_mail_size = 1k\n")
	big := "Subject: big\n\n" + strings.Repeat("x", 2000) + "\n"
	if code, _, stderr := run(t, big, "deliver", "-c", path, "-d", "alice"); code != exitNoPerm {
		t.Errorf("oversize message: exit %d (%s), want %d", code, stderr, exitNoPerm)
	}
	if code, _, stderr := run(t, "Subject: small\n\nok\n", "deliver", "-c", path, "-d", "alice"); code != 0 {
		t.Errorf("small message: exit %d (%s)", code, stderr)
	}
}
