package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/auth/passwdfile"
)

const usersFile = `# test users
alice:{PLAIN}secret
bob:$6$fSjLRMqzZhS.FtCQ$X3qEWYqI5i0lP/5HROHz7SqfxFFg3teGd9NYYsKwUKqd0FEk0kVS.cLnU6af2kIiA5P4fV5ZAVpSx0lgQPcYY/
carol:{SHA256-CRYPT}$5$QxMGxzKPTTpt0pIF$qc7mkISrmscCrBla4Ml8p.frT5B1Xr0b8pdHjZxl721:1000:1000::/home/carol
Dave:{PLAIN}dave
denied:{PLAIN}pw::::::deny=yes
notdenied:{PLAIN}pw::::::deny=no
nopw:::::::nopassword
emptypw:
canon:{PLAIN}c::::::user=canonical@example.org
badhash:{NOPE}x
`

func writeUsers(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sleepRecorder replaces the failure-delay sleep and records each request.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *sleepRecorder) take() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.delays
	r.delays = nil
	return d
}

func newService(t *testing.T, opts Options) (*Service, *sleepRecorder) {
	t.Helper()
	if opts.Passdbs == nil {
		opts.Passdbs = []PassdbConfig{{Driver: "passwd-file", Path: writeUsers(t, usersFile)}}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sleepRecorder{}
	s.sleep = rec.sleep
	return s, rec
}

var (
	insecure = ConnInfo{Protocol: "imap", Remote: netip.MustParseAddrPort("192.0.2.1:4000"), Local: netip.MustParseAddrPort("192.0.2.2:143"), SessionID: "s1"}
	secure   = ConnInfo{Protocol: "imap", Remote: netip.MustParseAddrPort("192.0.2.1:4000"), Local: netip.MustParseAddrPort("192.0.2.2:993"), TLS: true, Secure: true, SessionID: "s2"}
)

func TestLogin(t *testing.T) {
	const delay = 2 * time.Second
	s, rec := newService(t, Options{FailureDelay: delay})
	tests := []struct {
		user, pass string
		want       string // principal; "" means failure
		wantErr    error
	}{
		{"alice", "secret", "alice", nil},
		{"alice", "Secret", "", ErrFailed},
		{"alice", "", "", ErrFailed},
		{"bob", "test", "bob", nil}, // bare $6$: CRYPT
		{"bob", "secret", "", ErrFailed},
		{"carol", "secret", "carol", nil},
		// auth_username_format defaults to %Lu, as in Dovecot: login names
		// are lowercased, so the entry "Dave" is unreachable.
		{"ALICE", "secret", "alice", nil},
		{"Dave", "dave", "", ErrFailed},
		{"dave", "dave", "", ErrFailed},
		{"nobody", "secret", "", ErrFailed},
		{"", "secret", "", ErrFailed},
		{"denied", "pw", "", ErrFailed},
		{"notdenied", "pw", "notdenied", nil},
		{"nopw", "anything", "nopw", nil},
		{"emptypw", "", "", ErrFailed},
		{"emptypw", "x", "", ErrFailed},
		{"canon", "c", "canonical@example.org", nil},
		{"badhash", "x", "", ErrFailed},
		{"# test users", "", "", ErrFailed},
	}
	for _, tt := range tests {
		p, err := s.Login(context.Background(), secure, tt.user, tt.pass)
		if p.User != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("Login(%q, %q) = %q, %v; want %q, %v", tt.user, tt.pass, p.User, err, tt.want, tt.wantErr)
		}
		got := rec.take()
		if tt.wantErr == nil && len(got) != 0 {
			t.Errorf("Login(%q) succeeded but slept %v", tt.user, got)
		}
		if tt.wantErr != nil && !reflect.DeepEqual(got, []time.Duration{delay}) {
			t.Errorf("Login(%q) failed with delays %v, want exactly [%v]", tt.user, got, delay)
		}
	}
}

func TestGlobalUsernameFormat(t *testing.T) {
	s, _ := newService(t, Options{UsernameFormat: "%u"})
	for _, tt := range []struct{ user, want string }{{"Dave", "Dave"}, {"dave", ""}, {"ALICE", ""}} {
		p, _ := s.Login(context.Background(), secure, tt.user, map[string]string{"Dave": "dave", "dave": "dave", "ALICE": "secret"}[tt.user])
		if p.User != tt.want {
			t.Errorf("UsernameFormat %%u: Login(%q) = %q, want %q", tt.user, p.User, tt.want)
		}
	}
	if ok, _ := s.UserExists(context.Background(), "Dave"); !ok {
		t.Error("UsernameFormat %u: UserExists(Dave) = false")
	}
	if _, err := New(Options{UsernameFormat: "%z", Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: writeUsers(t, usersFile)}}}); err == nil {
		t.Error("bad auth_username_format accepted")
	}
}

func TestFailureDelayHonoursContext(t *testing.T) {
	// The real sleep, a delay that would outlast the test run, a cancelled
	// context: Login must come back with the context's error.
	s, err := New(Options{
		Passdbs:      []PassdbConfig{{Driver: "passwd-file", Path: writeUsers(t, usersFile)}},
		FailureDelay: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Login(ctx, secure, "alice", "wrong"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Login with cancelled ctx: %v, want context.Canceled", err)
	}
	x, err := s.NewSASL(secure, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := x.Next(ctx, []byte("\x00alice\x00wrong")); !errors.Is(err, context.Canceled) {
		t.Fatalf("SASL Next with cancelled ctx: %v, want context.Canceled", err)
	}

	// Cancelled while waiting.
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Login(ctx, secure, "nobody", "x")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Login cancelled during delay: %v, want context.Canceled", err)
	}
	// A success is not delayed at all, even with a cancelled context.
	if p, err := s.Login(ctx, secure, "alice", "secret"); err != nil || p.User != "alice" {
		t.Fatalf("Login success with cancelled ctx = %v, %v", p, err)
	}
}

func TestPlaintextPolicy(t *testing.T) {
	s, rec := newService(t, Options{DisablePlaintextAuth: true, Mechanisms: []string{"plain", "LOGIN", "Plain"}})
	if s.PlaintextAllowed(insecure) || !s.PlaintextAllowed(secure) {
		t.Fatal("PlaintextAllowed wrong")
	}
	if got := s.Mechanisms(insecure); len(got) != 0 {
		t.Errorf("Mechanisms(insecure) = %q, want none", got)
	}
	if got := s.Mechanisms(secure); !reflect.DeepEqual(got, []string{"PLAIN", "LOGIN"}) {
		t.Errorf("Mechanisms(secure) = %q, want [PLAIN LOGIN]", got)
	}
	if _, err := s.Login(context.Background(), insecure, "alice", "secret"); !errors.Is(err, ErrPlaintextDisabled) {
		t.Errorf("Login insecure: %v, want ErrPlaintextDisabled", err)
	}
	for _, m := range []string{"PLAIN", "login"} {
		if _, err := s.NewSASL(insecure, m); !errors.Is(err, ErrPlaintextDisabled) {
			t.Errorf("NewSASL(insecure, %s): %v, want ErrPlaintextDisabled", m, err)
		}
	}
	if len(rec.take()) != 0 {
		t.Error("plaintext refusal was delayed")
	}
	if p, err := s.Login(context.Background(), secure, "alice", "secret"); err != nil || p.User != "alice" {
		t.Errorf("Login secure = %v, %v", p, err)
	}
	// Same-IP connections count as secure when the caller says so.
	local := insecure
	local.Secure = true
	if !s.PlaintextAllowed(local) {
		t.Error("Secure without TLS not honoured")
	}

	open, _ := newService(t, Options{})
	if !open.PlaintextAllowed(insecure) || !reflect.DeepEqual(open.Mechanisms(insecure), []string{"PLAIN"}) {
		t.Errorf("default: plaintext allowed %v, mechanisms %q; want true, [PLAIN]", open.PlaintextAllowed(insecure), open.Mechanisms(insecure))
	}
	if _, err := open.NewSASL(secure, "LOGIN"); !errors.Is(err, ErrMechanism) {
		t.Errorf("NewSASL(LOGIN) not configured: %v, want ErrMechanism", err)
	}
	if _, err := open.NewSASL(secure, "XOAUTH2"); !errors.Is(err, ErrMechanism) {
		t.Errorf("NewSASL(XOAUTH2): %v, want ErrMechanism", err)
	}
}

type saslStep struct {
	response  []byte
	challenge []byte
	done      bool
	err       error
}

func TestSASL(t *testing.T) {
	s, rec := newService(t, Options{Mechanisms: []string{"plain", "login"}, FailureDelay: time.Second})
	tests := []struct {
		name, mech string
		steps      []saslStep
		principal  string
	}{
		{"plain IR", "PLAIN", []saslStep{{response: []byte("\x00alice\x00secret"), done: true}}, "alice"},
		{"plain no IR", "plain", []saslStep{
			{response: nil, challenge: []byte{}},
			{response: []byte("alice\x00alice\x00secret"), done: true},
		}, "alice"},
		{"plain wrong", "PLAIN", []saslStep{{response: []byte("\x00alice\x00nope"), done: true, err: ErrFailed}}, ""},
		{"plain unknown", "PLAIN", []saslStep{{response: []byte("\x00nobody\x00secret"), done: true, err: ErrFailed}}, ""},
		{"plain malformed", "PLAIN", []saslStep{{response: []byte("alice"), done: true, err: ErrFailed}}, ""},
		{"plain empty IR", "PLAIN", []saslStep{{response: []byte{}, done: true, err: ErrFailed}}, ""},
		{"plain master user", "PLAIN", []saslStep{{response: []byte("bob\x00alice\x00secret"), done: true, err: ErrFailed}}, ""},
		{"plain after done", "PLAIN", []saslStep{
			{response: []byte("\x00alice\x00secret"), done: true},
			{response: []byte("\x00alice\x00secret"), done: true, err: ErrFailed},
		}, "alice"},
		{"login", "LOGIN", []saslStep{
			{response: nil, challenge: []byte("Username:")},
			{response: []byte("carol"), challenge: []byte("Password:")},
			{response: []byte("secret"), done: true},
		}, "carol"},
		{"login user IR", "login", []saslStep{
			{response: []byte("bob"), challenge: []byte("Password:")},
			{response: []byte("test"), done: true},
		}, "bob"},
		{"login wrong", "LOGIN", []saslStep{
			{response: nil, challenge: []byte("Username:")},
			{response: []byte("carol"), challenge: []byte("Password:")},
			{response: []byte("wrong"), done: true, err: ErrFailed},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := s.NewSASL(secure, tt.mech)
			if err != nil {
				t.Fatal(err)
			}
			failed := false
			for i, st := range tt.steps {
				ch, done, err := x.Next(context.Background(), st.response)
				if !bytes.Equal(ch, st.challenge) || (ch == nil) != (st.challenge == nil) || done != st.done || !errors.Is(err, st.err) {
					t.Fatalf("step %d: Next(%q) = %q, %v, %v; want %q, %v, %v", i, st.response, ch, done, err, st.challenge, st.done, st.err)
				}
				failed = failed || err != nil
			}
			if got := x.Principal().User; got != tt.principal {
				t.Errorf("Principal = %q, want %q", got, tt.principal)
			}
			delays := rec.take()
			if tt.principal == "" && !reflect.DeepEqual(delays, []time.Duration{time.Second}) {
				t.Errorf("failure delays %v, want [1s]", delays)
			}
			if tt.principal != "" && !failed && len(delays) != 0 {
				t.Errorf("success delayed %v", delays)
			}
		})
	}
}

func TestUsernameFormatAndScheme(t *testing.T) {
	path := writeUsers(t, "alice:secret\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n")
	tests := []struct {
		opts        map[string]string
		user, pass  string
		want        string
		wantErr     error
		description string
	}{
		{map[string]string{"scheme": "plain"}, "alice", "secret", "alice", nil, "bare password in scheme=PLAIN"},
		{map[string]string{}, "alice", "secret", "", ErrFailed, "bare password is CRYPT by default"},
		{map[string]string{"scheme": "PLAIN", "username_format": "%Lu"}, "ALICE", "secret", "alice", nil, "%Lu lowercases"},
		{map[string]string{"scheme": "PLAIN", "username_format": "%n"}, "alice@example.org", "secret", "alice@example.org", nil, "%n looks up the local part; principal keeps the domain"},
		{map[string]string{"scheme": "PLAIN", "username_format": "%Un"}, "alice@example.org", "secret", "", ErrFailed, "%Un uppercases the key"},
		{map[string]string{"scheme": "PLAIN", "username_format": "%n"}, "Bob@Example.org", "secret", "bob@example.org", nil, "braced scheme wins over scheme=; principal from auth_username_format"},
		{map[string]string{"scheme": "PLAIN", "username_format": "%{user}"}, "alice", "secret", "alice", nil, "long form"},
	}
	for _, tt := range tests {
		s, _ := newService(t, Options{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: path, Options: tt.opts}}})
		p, err := s.Login(context.Background(), secure, tt.user, tt.pass)
		if p.User != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Login(%q) = %q, %v; want %q, %v", tt.description, tt.user, p.User, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseUsernameFormat(t *testing.T) {
	tests := []struct{ format, user, want string }{
		{"%u", "Alice@Example.org", "Alice@Example.org"},
		{"%Lu", "Alice@Example.org", "alice@example.org"},
		{"%Uu", "alice", "ALICE"},
		{"%n", "alice@example.org", "alice"},
		{"%n", "alice", "alice"},
		{"%d", "alice", ""},
		{"%Ld/%Ln", "Alice@Example.org", "example.org/alice"},
		{"%{username}@%{domain}", "a@b@c", "a@b@c"},
		{"100%%-%u", "x", "100%-x"},
	}
	for _, tt := range tests {
		f, err := parseUsernameFormat(tt.format)
		if err != nil {
			t.Errorf("parse %q: %v", tt.format, err)
			continue
		}
		if got := f.apply(tt.user); got != tt.want {
			t.Errorf("%q applied to %q = %q, want %q", tt.format, tt.user, got, tt.want)
		}
	}
	for _, bad := range []string{"%x", "%", "%L", "%{user", "%{service}"} {
		if _, err := parseUsernameFormat(bad); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
}

func TestPassdbChainAndTempFail(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "first")
	second := filepath.Join(dir, "second")
	os.WriteFile(first, []byte("alice:{PLAIN}one\n"), 0o600)
	os.WriteFile(second, []byte("alice:{PLAIN}two\nbob:{PLAIN}b\n"), 0o600)
	s, rec := newService(t, Options{Passdbs: []PassdbConfig{
		{Driver: "passwd-file", Path: first},
		{Driver: "passwd-file", Path: second},
	}})
	ctx := context.Background()
	for _, tt := range []struct{ user, pass, want string }{
		{"alice", "one", "alice"},
		{"alice", "two", "alice"}, // mismatch in the first continues to the second
		{"bob", "b", "bob"},       // unknown in the first
		{"alice", "three", ""},
	} {
		p, _ := s.Login(ctx, secure, tt.user, tt.pass)
		if p.User != tt.want {
			t.Errorf("Login(%s, %s) = %q, want %q", tt.user, tt.pass, p.User, tt.want)
		}
	}
	if users, err := s.Users(ctx); err != nil || !reflect.DeepEqual(users, []string{"alice", "bob"}) {
		t.Errorf("Users = %q, %v", users, err)
	}

	// The first passdb becomes unreadable.
	os.Remove(first)
	rec.take()
	if p, err := s.Login(ctx, secure, "bob", "b"); err != nil || p.User != "bob" {
		t.Errorf("Login via the healthy passdb = %v, %v", p, err)
	}
	if _, err := s.Login(ctx, secure, "alice", "one"); !errors.Is(err, ErrTempFail) {
		t.Errorf("Login with a broken passdb and no match: %v, want ErrTempFail", err)
	}
	if d := rec.take(); len(d) != 0 {
		t.Errorf("temporary failure was delayed: %v", d)
	}
	if ok, err := s.UserExists(ctx, "bob"); !ok || err != nil {
		t.Errorf("UserExists(bob) = %v, %v", ok, err)
	}
	if _, err := s.UserExists(ctx, "carol"); !errors.Is(err, ErrTempFail) {
		t.Errorf("UserExists(carol) with a broken passdb: %v, want ErrTempFail", err)
	}
	if _, err := s.Users(ctx); !errors.Is(err, ErrTempFail) {
		t.Errorf("Users with a broken passdb: %v, want ErrTempFail", err)
	}
	x, _ := s.NewSASL(secure, "PLAIN")
	if _, _, err := x.Next(ctx, []byte("\x00alice\x00one")); !errors.Is(err, ErrTempFail) {
		t.Errorf("SASL with a broken passdb: %v, want ErrTempFail", err)
	}
}

func TestUserExistsAndReload(t *testing.T) {
	s, _ := newService(t, Options{})
	ctx := context.Background()
	for user, want := range map[string]bool{"alice": true, "ALICE": true, "denied": true, "Dave": false, "dave": false, "nobody": false, "": false} {
		if got, err := s.UserExists(ctx, user); got != want || err != nil {
			t.Errorf("UserExists(%q) = %v, %v; want %v", user, got, err, want)
		}
	}
	users, err := s.Users(ctx)
	if err != nil || len(users) != 10 || users[0] != "alice" {
		t.Errorf("Users = %q, %v", users, err)
	}

	// An edit made by the admin CLI is seen without a restart.
	path := s.passdbs[0].file.Path()
	if err := passwdfile.Add(path, passwdfile.Entry{User: "zed", Password: "{PLAIN}z"}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Login(ctx, secure, "zed", "z"); err != nil || p.User != "zed" {
		t.Errorf("Login after Add = %v, %v", p, err)
	}
	if err := passwdfile.SetPassword(path, "zed", "{PLAIN}new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, secure, "zed", "z"); !errors.Is(err, ErrFailed) {
		t.Errorf("old password after SetPassword: %v, want ErrFailed", err)
	}
	if err := passwdfile.Delete(path, "zed"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.UserExists(ctx, "zed"); ok {
		t.Error("deleted user still exists")
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.UserExists(ctx2, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("UserExists with cancelled ctx: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	path := writeUsers(t, usersFile)
	for _, opts := range []Options{
		{},
		{Passdbs: []PassdbConfig{{Driver: "ldap", Path: path}}},
		{Passdbs: []PassdbConfig{{Driver: "passwd-file"}}},
		{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: path + ".missing"}}},
		{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: path, Options: map[string]string{"scheme": "ROT13"}}}},
		{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: path, Options: map[string]string{"username_format": "%q"}}}},
		{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: path, Options: map[string]string{"cache": "yes"}}}},
		{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: path}}, Mechanisms: []string{"plain", "cram-md5"}},
		{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: path}}, FailureDelay: -1},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v): no error", opts)
		}
	}
}

// With auth_debug, passwords and SASL payloads still never reach the log;
// user names and the reasons do.
func TestLogNeverHoldsPasswords(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, _ := newService(t, Options{Logger: logger, Mechanisms: []string{"plain", "login"}, Debug: true})
	ctx := context.Background()
	const secret = "hunter2-SECRET"
	s.Login(ctx, secure, "alice", secret)
	s.Login(ctx, secure, "nobody", secret)
	s.Login(ctx, secure, "badhash", secret)
	s.Login(ctx, secure, "alice", "secret")
	x, _ := s.NewSASL(secure, "PLAIN")
	x.Next(ctx, []byte("\x00alice\x00"+secret))
	x, _ = s.NewSASL(secure, "PLAIN")
	x.Next(ctx, []byte("\x00alice"+secret)) // malformed: the payload must not be logged either
	x, _ = s.NewSASL(secure, "LOGIN")
	x.Next(ctx, nil)
	x.Next(ctx, []byte("carol"))
	x.Next(ctx, []byte(secret))
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "secret\"") || strings.Contains(out, "=secret") {
		t.Fatalf("log holds a password:\n%s", out)
	}
	for _, want := range []string{"password mismatch", "unknown user", "invalid password in passdb", "auth debug: auth ok", "user=nobody", "scheme=SHA256-CRYPT", "auth debug: sasl step"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestConcurrentLogins(t *testing.T) {
	s, _ := newService(t, Options{Mechanisms: []string{"plain"}})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			user, pass := "alice", "secret"
			if i%2 == 1 {
				pass = "wrong"
			}
			p, err := s.Login(context.Background(), secure, user, pass)
			if (i%2 == 0) != (err == nil && p.User == "alice") {
				t.Errorf("goroutine %d: %v, %v", i, p, err)
			}
		})
	}
	wg.Wait()
}

// ssl = required: nothing authenticates before TLS, not even a connection
// from the server's own address with disable_plaintext_auth = no.
func TestRequireTLS(t *testing.T) {
	s, _ := newService(t, Options{RequireTLS: true, DisablePlaintextAuth: false, Mechanisms: []string{"plain", "login"}})
	local := insecure
	local.Secure = true // same IP, but no TLS
	if s.PlaintextAllowed(local) {
		t.Error("ssl = required allowed plaintext before TLS")
	}
	if got := s.Mechanisms(local); len(got) != 0 {
		t.Errorf("Mechanisms before TLS = %q, want none", got)
	}
	if _, err := s.Login(context.Background(), local, "alice", "secret"); !errors.Is(err, ErrPlaintextDisabled) {
		t.Errorf("Login before TLS: %v, want ErrPlaintextDisabled", err)
	}
	if _, err := s.NewSASL(local, "PLAIN"); !errors.Is(err, ErrPlaintextDisabled) {
		t.Errorf("NewSASL before TLS: %v, want ErrPlaintextDisabled", err)
	}
	if !secure.TLS {
		t.Fatal("test fixture: secure must be TLS")
	}
	if p, err := s.Login(context.Background(), secure, "alice", "secret"); err != nil || p.User != "alice" {
		t.Errorf("Login over TLS = %v, %v", p, err)
	}
}
