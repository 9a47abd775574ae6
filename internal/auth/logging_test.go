package auth

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

const secretPW = "hunter2-SECRET"

// logService builds a Service with the test users plus an anonymous user,
// logging at debug level into the returned buffer.
func logService(t *testing.T, opts Options) (*Service, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.DisablePlaintextAuth = true
	if opts.Mechanisms == nil {
		opts.Mechanisms = []string{"plain", "login", "anonymous"}
	}
	if opts.Passdbs == nil {
		opts.Passdbs = []PassdbConfig{{Driver: "passwd-file", Path: writeUsers(t, usersFile+"anonymous:{PLAIN}"+secretPW+"-anon\n")}}
	}
	s, _ := newService(t, opts)
	return s, &buf
}

// everyMechanism runs good and bad logins through every way in: LOGIN
// command, PLAIN (with and without initial response, malformed), LOGIN
// mechanism, ANONYMOUS, an unoffered mechanism and a refused cleartext
// login.
func everyMechanism(t *testing.T, s *Service) {
	t.Helper()
	ctx := context.Background()
	s.Login(ctx, secure, "alice", "secret")
	s.Login(ctx, secure, "alice", secretPW)
	s.Login(ctx, secure, "nobody", secretPW)
	s.Login(ctx, secure, "badhash", secretPW)
	s.Login(ctx, insecure, "alice", secretPW) // cleartext refused
	for _, pw := range []string{"secret", secretPW} {
		x, err := s.NewSASL(secure, "PLAIN")
		if err != nil {
			t.Fatal(err)
		}
		x.Next(ctx, []byte("\x00alice\x00"+pw))
		x, _ = s.NewSASL(secure, "PLAIN")
		x.Next(ctx, nil)
		x.Next(ctx, []byte("alice\x00alice\x00"+pw))
		x, _ = s.NewSASL(secure, "LOGIN")
		x.Next(ctx, nil)
		x.Next(ctx, []byte("alice"))
		x.Next(ctx, []byte(pw))
	}
	x, _ := s.NewSASL(secure, "PLAIN")
	x.Next(ctx, []byte("\x00alice"+secretPW)) // malformed
	x, _ = s.NewSASL(secure, "ANONYMOUS")
	x.Next(ctx, []byte("trace@example.org"))
	s.NewSASL(secure, "CRAM-MD5")
	s.NewSASL(insecure, "PLAIN")
}

// secrets are the strings no log line may hold unless a password setting
// is on: the password, its base64, the PLAIN payloads' base64, its SHA-1.
func secrets() []string {
	sum := sha1.Sum([]byte(secretPW))
	return []string{
		"hunter2",
		"=secret ", "=secret\n", `"secret"`,
		base64.StdEncoding.EncodeToString([]byte(secretPW)),
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + secretPW)),
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret")),
		base64.StdEncoding.EncodeToString([]byte("alice\x00alice\x00secret")),
		hex.EncodeToString(sum[:])[:8],
	}
}

// With every logging setting at its default, no password, hash or SASL
// payload appears at any level; neither does any attempt (Dovecot logs
// none without auth_verbose).
func TestDefaultLogHoldsNoSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"defaults", Options{}},
		{"auth_verbose", Options{Verbose: true}},
		{"auth_debug", Options{Debug: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, buf := logService(t, tc.opts)
			everyMechanism(t, s)
			out := buf.String()
			for _, sec := range secrets() {
				if strings.Contains(out, sec) {
					t.Errorf("log holds %q:\n%s", sec, out)
				}
			}
			if tc.name == "defaults" && strings.Contains(out, "auth failed") {
				t.Errorf("auth failures logged without auth_verbose:\n%s", out)
			}
		})
	}
}

// auth_verbose logs each failure with its reason, user, mechanism and IP.
func TestVerboseReasons(t *testing.T) {
	s, buf := logService(t, Options{Verbose: true})
	everyMechanism(t, s)
	out := buf.String()
	for _, want := range []string{
		`msg="auth failed" proto=imap mech=LOGIN-COMMAND remote=192.0.2.1 session=s2 user=alice reason="password mismatch"`,
		`mech=LOGIN-COMMAND remote=192.0.2.1 session=s2 user=nobody reason="unknown user"`,
		`mech=PLAIN remote=192.0.2.1 session=s2 user=alice reason="password mismatch"`,
		`mech=LOGIN remote=192.0.2.1 session=s2 user=alice reason="password mismatch"`,
		`mech=LOGIN-COMMAND remote=192.0.2.1 session=s1 user=alice reason="cleartext authentication refused on an insecure connection"`,
		`mech=PLAIN remote=192.0.2.1 session=s1 reason="cleartext authentication refused on an insecure connection"`,
		`mech=CRAM-MD5 remote=192.0.2.1 session=s2 reason="mechanism not offered"`,
		`mech=PLAIN remote=192.0.2.1 session=s2 reason="sasl: malformed response"`,
		`msg="anonymous login" proto=imap mech=ANONYMOUS remote=192.0.2.1 session=s2 user=anonymous trace=trace@example.org`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "auth debug") {
		t.Errorf("auth_verbose wrote debug lines:\n%s", out)
	}
}

func TestVerbosePasswords(t *testing.T) {
	sum := sha1.Sum([]byte(secretPW))
	full := hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		setting string
		want    string
		notWant string
	}{
		{"plain", "password=" + secretPW, ""},
		{"yes", "password=" + secretPW, ""},
		{"plain:4", "password=hunt", "hunter"},
		{"sha1", "password_sha1=" + full, ""},
		{"sha1:8", "password_sha1=" + full[:8], full[:9]},
	} {
		t.Run(tc.setting, func(t *testing.T) {
			s, buf := logService(t, Options{VerbosePasswords: tc.setting}) // without auth_verbose, as Dovecot
			ctx := context.Background()
			if _, err := s.Login(ctx, secure, "alice", "secret"); err != nil {
				t.Fatal(err)
			}
			if out := buf.String(); out != "" {
				t.Fatalf("a successful login was logged:\n%s", out)
			}
			s.Login(ctx, secure, "alice", secretPW)
			x, _ := s.NewSASL(secure, "PLAIN")
			x.Next(ctx, []byte("\x00nobody\x00"+secretPW))
			out := buf.String()
			for _, reason := range []string{`reason="password mismatch"`, `reason="unknown user"`} {
				line := lineWith(out, reason)
				if !slices.Contains(strings.Fields(line), tc.want) {
					t.Errorf("%s line lacks %q:\n%s", reason, tc.want, out)
				}
				if tc.notWant != "" && strings.Contains(line, tc.notWant) {
					t.Errorf("%s line holds %q (not truncated):\n%s", reason, tc.notWant, out)
				}
			}
		})
	}
}

func lineWith(out, sub string) string {
	for l := range strings.Lines(out) {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// auth_debug_passwords logs every submitted password, successful ones
// included, and the stored scheme.
func TestDebugPasswords(t *testing.T) {
	s, buf := logService(t, Options{DebugPasswords: true})
	if _, err := s.Login(context.Background(), secure, "bob", "bobpw-WRONG"); !errors.Is(err, ErrFailed) {
		t.Fatal(err)
	}
	if _, err := s.Login(context.Background(), secure, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"password=bobpw-WRONG", "password=secret", `scheme="CRYPT (passdb default)"`, "scheme=PLAIN", `reason="password mismatch"`, "auth debug: auth ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestParseVerbosePasswords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		form string
		n    int
		ok   bool
	}{
		{"", "", 0, true}, {"no", "", 0, true}, {"plain", "plain", 0, true}, {"yes", "plain", 0, true},
		{"sha1", "sha1", 0, true}, {"sha1:8", "sha1", 8, true}, {"PLAIN:3", "plain", 3, true},
		{"sha1:0", "", 0, false}, {"sha1:x", "", 0, false}, {"md5", "", 0, false}, {"no:3", "", 0, false}, {"sha1:-1", "", 0, false},
	} {
		form, n, err := ParseVerbosePasswords(tc.in)
		if (err == nil) != tc.ok || form != tc.form || n != tc.n {
			t.Errorf("ParseVerbosePasswords(%q) = %q, %d, %v", tc.in, form, n, err)
		}
	}
	if _, err := New(Options{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: writeUsers(t, usersFile)}}, VerbosePasswords: "md5"}); err == nil {
		t.Error("New accepted auth_verbose_passwords = md5")
	}
}

func TestAnonymous(t *testing.T) {
	ctx := context.Background()
	users := usersFile + "guest:{PLAIN}x\nlocked:{PLAIN}x::::::deny\n"

	// Not configured: neither offered nor accepted.
	s, _ := logService(t, Options{Mechanisms: []string{"plain"}})
	if got := s.Mechanisms(secure); strings.Contains(strings.Join(got, " "), "ANONYMOUS") {
		t.Errorf("ANONYMOUS offered without being configured: %q", got)
	}
	if _, err := s.NewSASL(secure, "anonymous"); !errors.Is(err, ErrMechanism) {
		t.Errorf("NewSASL(ANONYMOUS) unconfigured: %v, want ErrMechanism", err)
	}

	// Configured: logs in as auth_anonymous_username (through
	// auth_username_format), without a password, with the trace logged.
	s, buf := logService(t, Options{Mechanisms: []string{"plain", "anonymous"}, AnonymousUsername: "Guest",
		Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: writeUsers(t, users)}}})
	// Not a plaintext mechanism: offered where disable_plaintext_auth hides PLAIN.
	s.disablePlaintext = true
	if got := s.Mechanisms(insecure); len(got) != 1 || got[0] != "ANONYMOUS" {
		t.Errorf("Mechanisms(insecure) = %q, want [ANONYMOUS]", got)
	}
	x, err := s.NewSASL(insecure, "ANONYMOUS")
	if err != nil {
		t.Fatal(err)
	}
	if ch, done, err := x.Next(ctx, nil); err != nil || done || len(ch) != 0 {
		t.Fatalf("first step without initial response: %q, %v, %v", ch, done, err)
	}
	if _, done, err := x.Next(ctx, []byte("visitor@example.org")); err != nil || !done {
		t.Fatalf("trace step: %v, %v", done, err)
	}
	if p := x.Principal(); p.User != "guest" {
		t.Errorf("Principal = %q, want guest", p.User)
	}
	if !strings.Contains(buf.String(), `msg="anonymous login" proto=imap mech=ANONYMOUS remote=192.0.2.1 session=s1 user=guest trace=visitor@example.org`) {
		t.Errorf("anonymous login not logged with its trace:\n%s", buf.String())
	}

	// A trace that is not RFC 4505's fails.
	x, _ = s.NewSASL(insecure, "ANONYMOUS")
	if _, _, err := x.Next(ctx, []byte("a\r\nb")); !errors.Is(err, ErrFailed) || x.Principal().User != "" {
		t.Errorf("bad trace: %v, %q", err, x.Principal())
	}

	// ssl = required: not before TLS.
	s.requireTLS = true
	if _, err := s.NewSASL(insecure, "ANONYMOUS"); !errors.Is(err, ErrPlaintextDisabled) {
		t.Errorf("ANONYMOUS before TLS with ssl = required: %v", err)
	}

	// The anonymous user must exist and not be denied.
	for _, name := range []string{"nosuchuser", "locked"} {
		s, buf := logService(t, Options{Mechanisms: []string{"anonymous"}, AnonymousUsername: name,
			Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: writeUsers(t, users)}}})
		x, _ := s.NewSASL(secure, "ANONYMOUS")
		if _, _, err := x.Next(ctx, []byte{}); !errors.Is(err, ErrFailed) || x.Principal().User != "" {
			t.Errorf("anonymous as %s: %v, %q; want ErrFailed", name, err, x.Principal())
		}
		if !strings.Contains(buf.String(), "anonymous login refused") {
			t.Errorf("anonymous as %s: refusal not logged:\n%s", name, buf.String())
		}
	}
}
