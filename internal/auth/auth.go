// Package auth is the authentication service the protocol servers call:
// plaintext logins (IMAP LOGIN, POP3 USER/PASS), SASL exchanges, and user
// existence checks for delivery. It follows Dovecot's auth process:
//
//   - passdbs are tried in order; the first that accepts the password wins.
//     A user unknown to one passdb, or a wrong password there, moves on to
//     the next (Dovecot's result_failure = continue). A passdb that cannot
//     be read counts as a temporary failure if nothing else succeeds.
//   - Unknown user and wrong password are indistinguishable to the client:
//     both return ErrFailed after Options.FailureDelay, and an unknown user
//     still costs one password verification (against the stored hash of
//     the passdb's first user, so with the same scheme and cost). The log
//     tells them apart when asked to (Options.Verbose).
//   - Logging follows Dovecot's auth_verbose, auth_verbose_passwords,
//     auth_debug and auth_debug_passwords (see Options). With all of them
//     off (the default) this package logs only operational errors (a
//     passdb that cannot be read, an invalid stored hash), never a
//     password, a password hash or a SASL payload, at any level. Only
//     VerbosePasswords and DebugPasswords put passwords in the log.
//   - ANONYMOUS (RFC 4505) logs in as Options.AnonymousUsername without a
//     password. That user must exist in a passdb (Roost's passdbs are also
//     its userdb; Dovecot requires it in the userdb); its password is not
//     checked. Every anonymous login is logged with its trace string.
//   - The login name goes through auth_username_format (Options.UsernameFormat,
//     default %Lu: lowercase), which gives the Principal's name; each passdb
//     then applies its own username_format (default %u) to get the key it
//     looks up. passwd-file lookups themselves are case-sensitive.
//   - A per-address penalty (Options.Penalty, penalty.go) delays every
//     attempt from an address that failed recently, growing with each
//     failure (2, 4, 8, 15 s), as Dovecot's anvil auth penalty does. It is
//     waited before the attempt; FailureDelay comes on top after a
//     failure. A success from the address resets it.
//   - With DisablePlaintextAuth, plaintext mechanisms (LOGIN command, USER/
//     PASS, SASL PLAIN and LOGIN) are refused on connections that are not
//     secure (ConnInfo.Secure: TLS, or remote IP == local IP).
//
// passwd-file extra fields honoured: "nopassword" (any password is accepted
// when the password field is empty; with a non-empty password field it is
// verified normally, as in Dovecot), "user" (canonical user name returned in
// the Principal, as in Dovecot), and "deny" (the user is refused and later
// passdbs are not tried). "deny" is Roost's own: Dovecot ignores it as an
// extra field (its deny is a passdb setting), so a file moved from Dovecot
// never carries it by accident. "deny=no" is not a denial.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/auth/passwdfile"
	"github.com/roost-mail/roost/internal/auth/password"
	"github.com/roost-mail/roost/internal/auth/sasl"
	"github.com/roost-mail/roost/internal/auth/sqlpassdb"
)

// ConnInfo describes the client connection an authentication happens on.
type ConnInfo struct {
	Protocol  string // "imap", "pop3", "lmtp"
	Remote    netip.AddrPort
	Local     netip.AddrPort
	TLS       bool
	Secure    bool // TLS, or remote IP == local IP (Dovecot's rule)
	SessionID string
}

// Principal is an authenticated user. Mailboxes are opened from it.
type Principal struct{ User string }

var (
	// ErrFailed: unknown user or wrong password (the client cannot tell
	// which), returned after the failure delay.
	ErrFailed = errors.New("authentication failed")
	// ErrTempFail: a passdb could not be consulted; the client may retry.
	ErrTempFail = errors.New("temporary authentication failure")
	// ErrMechanism: the SASL mechanism is not offered.
	ErrMechanism = errors.New("unsupported authentication mechanism")
	// ErrPlaintextDisabled: a plaintext mechanism on a non-secure connection
	// with DisablePlaintextAuth.
	ErrPlaintextDisabled = errors.New("plaintext authentication disallowed on non-secure connections")
)

// PassdbConfig configures one passdb, as Dovecot's passdb { driver, args }.
type PassdbConfig struct {
	Driver  string // "passwd-file" or "sql" (Path: Dovecot's sql.conf, PostgreSQL)
	Path    string
	Options map[string]string // "scheme" (default CRYPT), "username_format" (default %u)
}

// Options configures a Service.
type Options struct {
	Passdbs              []PassdbConfig
	Mechanisms           []string // auth_mechanisms, any case; default {"plain"}
	DisablePlaintextAuth bool
	// RequireTLS is ssl = required: nothing authenticates before TLS, not
	// even from the server's own address and not with non-plaintext
	// mechanisms (Dovecot's meaning).
	RequireTLS   bool
	FailureDelay time.Duration // auth_failure_delay, before ErrFailed
	Logger       *slog.Logger  // nil: discard
	// UsernameFormat is auth_username_format, applied to every login name
	// before the passdbs see it; its result is the Principal's user name.
	// "" means "%Lu", Dovecot's default: user names are lowercased, so a
	// passwd-file entry "Alice" cannot log in (as in Dovecot). Set "%u"
	// to keep names as typed.
	UsernameFormat string

	// Verbose is auth_verbose: log each unsuccessful attempt and its
	// reason (unknown user, password mismatch, user denied, mechanism not
	// offered, cleartext refused, malformed SASL input) at Info, with the
	// user name, mechanism and remote IP. Without it the protocol servers'
	// own one-line login failure is all the log shows.
	Verbose bool
	// VerbosePasswords is auth_verbose_passwords: "" or "no" (default),
	// "plain" ("yes" is an alias) or "sha1", optionally followed by ":N".
	// On a password mismatch or an unknown user the submitted password is
	// logged at Info in that form: as typed, or as the hex SHA-1 of it;
	// ":N" keeps its first N characters (plain without ":N" is cut at 1024
	// bytes, as in Dovecot). As in Dovecot this works without Verbose.
	VerbosePasswords string
	// Debug is auth_debug: log every step of every attempt (passdb
	// lookups and their results, the stored password's scheme, SASL
	// steps with payload sizes, successes) at Info, with the prefix
	// "auth debug:". It implies Verbose. Passwords are never logged.
	Debug bool
	// DebugPasswords is auth_debug_passwords: Debug, and also the
	// submitted password of every attempt, successful ones included.
	DebugPasswords bool
	// AnonymousUsername is auth_anonymous_username, the user ANONYMOUS
	// logs in as; "" means "anonymous". It goes through UsernameFormat
	// like any login name.
	AnonymousUsername string
	// Penalty is the per-address penalty (penalty.go). The zero value
	// disables it; Roost runs with DefaultPenalty.
	Penalty Penalty
}

// Service authenticates users. It is safe for concurrent use.
type Service struct {
	passdbs          []*passdb
	format           usernameFormat // auth_username_format
	mechs            []string       // upper case, configured order
	disablePlaintext bool
	requireTLS       bool
	delay            time.Duration
	log              *slog.Logger
	logp             logPolicy
	anonymousUser    string // auth_anonymous_username, after auth_username_format
	fallbackDummy    string // stored password used when no passdb has a user to borrow from
	// penalty is nil when Options.Penalty is disabled.
	penalty *penaltyTable
	// sleep waits d or until ctx is done; now is the clock of the
	// penalty. Both are replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

type passdb struct {
	file          source
	defaultScheme string
	format        usernameFormat
}

// Mechanism names this package implements.
var implemented = map[string]bool{"PLAIN": true, "LOGIN": true, "ANONYMOUS": true}

// plaintext mechanisms send the password in the clear.
var plaintext = map[string]bool{"PLAIN": true, "LOGIN": true}

// New builds a Service. Each passwd-file must exist and be readable now; it
// is re-read whenever it changes afterwards.
func New(opts Options) (*Service, error) {
	s := &Service{
		disablePlaintext: opts.DisablePlaintextAuth,
		requireTLS:       opts.RequireTLS,
		delay:            opts.FailureDelay,
		log:              opts.Logger,
		sleep:            sleepCtx,
		now:              time.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.delay < 0 {
		return nil, fmt.Errorf("auth: negative failure delay %v", s.delay)
	}
	if opts.Penalty.Init < 0 || opts.Penalty.Max < 0 || opts.Penalty.Timeout < 0 {
		return nil, fmt.Errorf("auth: negative penalty %+v", opts.Penalty)
	}
	if opts.Penalty.Init > 0 {
		s.penalty = newPenaltyTable(opts.Penalty, func() time.Time { return s.now() })
	}
	var err error
	if s.logp, err = newLogPolicy(opts); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	mechs := opts.Mechanisms
	if len(mechs) == 0 {
		mechs = []string{"plain"}
	}
	for _, m := range mechs {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !implemented[m] {
			return nil, fmt.Errorf("auth: unsupported mechanism %q in auth_mechanisms", m)
		}
		if !slices.Contains(s.mechs, m) {
			s.mechs = append(s.mechs, m)
		}
	}
	uf := opts.UsernameFormat
	if uf == "" {
		uf = "%Lu"
	}
	if s.format, err = parseUsernameFormat(uf); err != nil {
		return nil, fmt.Errorf("auth: auth_username_format: %w", err)
	}
	anon := opts.AnonymousUsername
	if anon == "" {
		anon = "anonymous"
	}
	s.anonymousUser = s.format.apply(anon)
	if s.anonymousUser == "" && slices.Contains(s.mechs, "ANONYMOUS") {
		return nil, fmt.Errorf("auth: auth_anonymous_username %q is empty after auth_username_format", anon)
	}
	if len(opts.Passdbs) == 0 {
		return nil, errors.New("auth: no passdb configured")
	}
	for i, pc := range opts.Passdbs {
		db, err := newPassdb(pc)
		if err != nil {
			return nil, fmt.Errorf("auth: passdb %d: %w", i+1, err)
		}
		s.passdbs = append(s.passdbs, db)
	}
	if s.fallbackDummy, err = password.Hash("SHA512-CRYPT", "dummy password, never matches"); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return s, nil
}

// source is where a passdb looks users up: a passwd-file, or a
// PostgreSQL table through Dovecot's sql.conf (driver sql, sqlpassdb).
// First returns an entry with a real stored password (the unknown-user
// path verifies against it, so it costs what a wrong password costs).
type source interface {
	Lookup(key string) (passwdfile.Entry, bool, error)
	First() (passwdfile.Entry, bool, error)
	Users() ([]passwdfile.Entry, error)
	Path() string
}

func newPassdb(pc PassdbConfig) (*passdb, error) {
	if pc.Driver == "sql" {
		return newSQLPassdb(pc)
	}
	if pc.Driver != "passwd-file" {
		return nil, fmt.Errorf("unsupported driver %q (passwd-file or sql)", pc.Driver)
	}
	if pc.Path == "" {
		return nil, errors.New("passwd-file: no path")
	}
	db := &passdb{defaultScheme: password.DefaultScheme}
	format := "%u"
	for k, v := range pc.Options {
		switch k {
		case "scheme":
			if !password.Supported(v) {
				return nil, fmt.Errorf("passwd-file: unknown scheme %q", v)
			}
			db.defaultScheme = strings.ToUpper(v)
		case "username_format":
			format = v
		default:
			return nil, fmt.Errorf("passwd-file: unknown option %q", k)
		}
	}
	f, err := parseUsernameFormat(format)
	if err != nil {
		return nil, fmt.Errorf("passwd-file: %w", err)
	}
	db.format = f
	if db.file, err = passwdfile.Open(pc.Path); err != nil {
		return nil, err
	}
	return db, nil
}

// newSQLPassdb opens driver sql: args is the sql.conf path; its
// default_pass_scheme is the passdb's default scheme.
func newSQLPassdb(pc PassdbConfig) (*passdb, error) {
	if pc.Path == "" {
		return nil, errors.New("sql: no args file")
	}
	format := "%u"
	for k, v := range pc.Options {
		if k != "username_format" {
			return nil, fmt.Errorf("sql: unknown option %q", k)
		}
		format = v
	}
	f, err := parseUsernameFormat(format)
	if err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	db, err := sqlpassdb.Open(pc.Path)
	if err != nil {
		return nil, err
	}
	return &passdb{file: db, defaultScheme: db.DefaultScheme(), format: f}, nil
}

// HealthCheck is a named check of a passdb's backing service.
type HealthCheck struct {
	Name string
	Fn   func(context.Context) error
}

// HealthChecks returns one check per passdb that depends on a database
// (driver sql): "passdb <args file>", which fails while the database is
// unreachable or its password_query no longer compiles. Passwd-files
// need none: they are read at start and on change.
func (s *Service) HealthChecks() []HealthCheck {
	var out []HealthCheck
	for _, db := range s.passdbs {
		if h, ok := db.file.(interface{ Healthy(context.Context) error }); ok {
			out = append(out, HealthCheck{Name: "passdb " + db.file.Path(), Fn: h.Healthy})
		}
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PlaintextAllowed reports whether plaintext mechanisms may be used on ci.
func (s *Service) PlaintextAllowed(ci ConnInfo) bool {
	if s.requireTLS && !ci.TLS {
		return false
	}
	return !s.disablePlaintext || ci.Secure
}

// Mechanisms returns the upper-case SASL mechanism names offered on ci:
// PLAIN and LOGIN are hidden when plaintext authentication is not allowed.
func (s *Service) Mechanisms(ci ConnInfo) []string {
	if s.requireTLS && !ci.TLS {
		return nil
	}
	allowed := s.PlaintextAllowed(ci)
	out := make([]string, 0, len(s.mechs))
	for _, m := range s.mechs {
		if plaintext[m] && !allowed {
			continue
		}
		out = append(out, m)
	}
	return out
}

// Login checks a user name and password given in the clear (IMAP LOGIN,
// POP3 USER/PASS). It returns ErrPlaintextDisabled at once when plaintext
// is not allowed on ci; ErrFailed after the failure delay for bad
// credentials; ErrTempFail when no passdb could be consulted; ctx.Err() if
// ctx ends during the delay.
func (s *Service) Login(ctx context.Context, ci ConnInfo, user, pass string) (Principal, error) {
	if !s.PlaintextAllowed(ci) {
		s.logp.failure(s.attemptLog(ci, "LOGIN-COMMAND").With("user", user), "cleartext authentication refused on an insecure connection")
		return Principal{}, ErrPlaintextDisabled
	}
	if err := s.penaltyWait(ctx, ci, "LOGIN-COMMAND"); err != nil {
		return Principal{}, err
	}
	p, err := s.verify(ci, "LOGIN-COMMAND", user, pass)
	if err != nil {
		return Principal{}, s.failed(ctx, ci, s.checksum(user, pass), err)
	}
	s.succeeded(ci)
	return p, nil
}

// penaltyWait waits the penalty of ci's remote address, if any, before an
// attempt is looked at.
func (s *Service) penaltyWait(ctx context.Context, ci ConnInfo, mech string) error {
	if s.penalty == nil {
		return nil
	}
	d := s.penalty.Delay(ci.Remote.Addr())
	if d <= 0 {
		return nil
	}
	s.logp.debug(s.attemptLog(ci, mech), "auth penalty: delaying attempt", "delay", d)
	return s.sleep(ctx, d)
}

// checksum identifies a user+password pair for the penalty; 0 without a
// penalty.
func (s *Service) checksum(user, pass string) uint64 {
	if s.penalty == nil {
		return 0
	}
	return s.penalty.checksum(user, pass)
}

// succeeded resets the penalty of ci's remote address.
func (s *Service) succeeded(ci ConnInfo) {
	if s.penalty != nil {
		s.penalty.Succeeded(ci.Remote.Addr())
	}
}

// failed raises the penalty of ci's remote address and applies the failure
// delay to ErrFailed. sum is the attempt's user+password checksum (0: no
// credentials, e.g. malformed SASL input).
func (s *Service) failed(ctx context.Context, ci ConnInfo, sum uint64, err error) error {
	if !errors.Is(err, ErrFailed) {
		return err
	}
	if s.penalty != nil {
		prev := s.penalty.Delay(ci.Remote.Addr())
		lv := s.penalty.Failed(ci.Remote.Addr(), sum)
		if lv == penaltyMaxLevel && prev < s.penalty.delayFor(penaltyMaxLevel) {
			// Once per address reaching the top, not per failure.
			s.log.Info("auth penalty at maximum: repeated failed logins", "proto", ci.Protocol,
				"remote", ci.Remote.Addr().String(), "delay", s.penalty.delayFor(lv))
		}
	}
	if serr := s.sleep(ctx, s.delay); serr != nil {
		return serr
	}
	return ErrFailed
}

// attemptLog returns the logger for one authentication attempt.
func (s *Service) attemptLog(ci ConnInfo, mech string) *slog.Logger {
	return s.log.With("proto", ci.Protocol, "mech", mech,
		"remote", ci.Remote.Addr().String(), "session", ci.SessionID)
}

// verify looks the user up and checks the password. It returns nil,
// ErrFailed or ErrTempFail, without any delay.
func (s *Service) verify(ci ConnInfo, mech, login, pass string) (Principal, error) {
	user := s.format.apply(login)
	log := s.attemptLog(ci, mech).With("user", user)
	if login != user {
		log = log.With("original_user", login)
	}
	s.logp.debug(log, "verifying password", s.logp.debugPassword(pass)...)
	if user == "" {
		s.dummyVerify(pass)
		s.logp.failure(log, "empty user name")
		return Principal{}, ErrFailed
	}
	found, tempfail := false, false
	for i, db := range s.passdbs {
		key := db.format.apply(user)
		e, ok, err := db.file.Lookup(key)
		if err != nil {
			log.Error("passdb lookup failed", "passdb", i+1, "err", err)
			tempfail = true
			continue
		}
		if !ok {
			s.logp.debug(log, "passdb lookup: no such user", "passdb", i+1, "key", key)
			continue
		}
		found = true
		s.logp.debug(log, "passdb lookup: found", "passdb", i+1, "key", key, "line", e.Line, "scheme", db.schemeOf(e))
		match := db.check(e, pass, log)
		if isYes(e.Extra, "deny") {
			s.logp.failure(log, "user denied", "passdb", i+1)
			return Principal{}, ErrFailed
		}
		if match {
			name := user
			if u := e.Extra["user"]; u != "" {
				name = u
			}
			s.logp.debug(log, "auth ok", "passdb", i+1, "principal", name)
			return Principal{User: name}, nil
		}
		s.logp.passwordFailure(log, "password mismatch", pass, "passdb", i+1)
	}
	if !found {
		s.dummyVerify(pass)
	}
	if tempfail {
		log.Warn("auth temporary failure")
		return Principal{}, ErrTempFail
	}
	if !found {
		s.logp.passwordFailure(log, "unknown user", pass)
	}
	return Principal{}, ErrFailed
}

// anonymous logs in as the anonymous user (SASL ANONYMOUS, RFC 4505),
// which must exist in some passdb and not be denied. Its password is not
// checked. Every attempt is logged at Info with the client's trace
// string, which RFC 4505 asks servers to record.
func (s *Service) anonymous(ci ConnInfo, trace string) (Principal, error) {
	user := s.anonymousUser
	log := s.attemptLog(ci, "ANONYMOUS").With("user", user, "trace", trace)
	tempfail := false
	for i, db := range s.passdbs {
		e, ok, err := db.file.Lookup(db.format.apply(user))
		if err != nil {
			log.Error("passdb lookup failed", "passdb", i+1, "err", err)
			tempfail = true
			continue
		}
		if !ok {
			continue
		}
		if isYes(e.Extra, "deny") {
			log.Info("anonymous login refused", "reason", "user denied", "passdb", i+1)
			return Principal{}, ErrFailed
		}
		name := user
		if u := e.Extra["user"]; u != "" {
			name = u
		}
		log.Info("anonymous login", "passdb", i+1, "principal", name)
		return Principal{User: name}, nil
	}
	if tempfail {
		log.Warn("auth temporary failure")
		return Principal{}, ErrTempFail
	}
	log.Warn("anonymous login refused: the auth_anonymous_username user does not exist; add it to a passdb (passwd-file)")
	return Principal{}, ErrFailed
}

// check verifies pass against e. Errors (bad stored hash) are logged and
// count as a mismatch, as in Dovecot.
func (db *passdb) check(e passwdfile.Entry, pass string, log *slog.Logger) bool {
	if e.Password == "" {
		return isYes(e.Extra, "nopassword")
	}
	ok, err := password.VerifyDefault(e.Password, pass, db.defaultScheme)
	if err != nil {
		log.Error("invalid password in passdb", "line", e.Line, "path", db.file.Path(), "err", err)
		return false
	}
	return ok
}

// schemeOf names the scheme e's stored password is verified with (for
// debug logs; the scheme is not a secret).
func (db *passdb) schemeOf(e passwdfile.Entry) string {
	if e.Password == "" {
		if isYes(e.Extra, "nopassword") {
			return "(nopassword)"
		}
		return "(none)"
	}
	name, _ := password.SplitScheme(e.Password)
	if name == "" {
		return db.defaultScheme + " (passdb default)"
	}
	return strings.ToUpper(name)
}

// dummyVerify spends about the time a real verification would, so that an
// unknown user is not faster to refuse than a wrong password.
func (s *Service) dummyVerify(pass string) {
	stored := s.fallbackDummy
	scheme := password.DefaultScheme
	for _, db := range s.passdbs {
		if e, ok, err := db.file.First(); err == nil && ok && e.Password != "" {
			stored, scheme = e.Password, db.defaultScheme
			break
		}
	}
	// The result is discarded: this only costs time.
	_, _ = password.VerifyDefault(stored, "\x00"+pass, scheme)
}

// isYes reports whether a boolean extra field is set: present without a
// value, or with a value other than "no"/"n"/"0"/"false".
func isYes(extra map[string]string, key string) bool {
	v, ok := extra[key]
	if !ok {
		return false
	}
	switch strings.ToLower(v) {
	case "no", "n", "0", "false":
		return false
	}
	return true
}

// SASL is one SASL exchange. It is not safe for concurrent use.
type SASL struct {
	s         *Service
	ci        ConnInfo
	mech      string
	srv       sasl.Server
	principal Principal
	result    error  // from the last check: nil, ErrFailed or ErrTempFail
	sum       uint64 // user+password checksum of the last check, for the penalty
	finished  bool
	step      int // calls of Next, for debug logs
}

// NewSASL starts an exchange with mechanism mech (any case). It returns
// ErrMechanism if the mechanism is not configured, ErrPlaintextDisabled if
// it is a plaintext mechanism and plaintext is not allowed on ci.
func (s *Service) NewSASL(ci ConnInfo, mech string) (*SASL, error) {
	mech = strings.ToUpper(mech)
	if !slices.Contains(s.mechs, mech) {
		s.logp.failure(s.attemptLog(ci, sanitizeMech(mech)), "mechanism not offered")
		return nil, ErrMechanism
	}
	if s.requireTLS && !ci.TLS || plaintext[mech] && !s.PlaintextAllowed(ci) {
		s.logp.failure(s.attemptLog(ci, mech), "cleartext authentication refused on an insecure connection")
		return nil, ErrPlaintextDisabled
	}
	x := &SASL{s: s, ci: ci, mech: mech}
	switch mech {
	case "PLAIN":
		x.srv = sasl.NewPlain(func(_, user, pass string) error { return x.check(user, pass) })
	case "LOGIN":
		x.srv = sasl.NewLogin(x.check)
	case "ANONYMOUS":
		x.srv = sasl.NewAnonymous(func(trace string) error {
			p, err := s.anonymous(ci, trace)
			x.principal, x.result = p, err
			return err
		})
	default:
		return nil, ErrMechanism
	}
	return x, nil
}

// sanitizeMech keeps a client-chosen mechanism name fit for a log line:
// a SASL name (RFC 4422: A-Z, 0-9, "-", "_", at most 20 characters) as
// it is, anything else quoted and cut.
func sanitizeMech(m string) string {
	ok := len(m) > 0 && len(m) <= 20
	for _, c := range []byte(m) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			ok = false
		}
	}
	if ok {
		return m
	}
	if len(m) > 32 {
		m = m[:32]
	}
	return strconv.QuoteToASCII(m)
}

func (x *SASL) check(user, pass string) error {
	p, err := x.s.verify(x.ci, x.mech, user, pass)
	x.principal, x.result, x.sum = p, err, x.s.checksum(user, pass)
	return err
}

// Next takes the client's decoded response (nil for "no initial response"
// on the first call; see package sasl) and returns the next challenge, or
// done. On failure it returns ErrFailed after the failure delay (malformed
// input counts as failure too), ErrTempFail, or ctx.Err() if ctx ends
// during the delay. After done or an error the exchange is over.
func (x *SASL) Next(ctx context.Context, response []byte) (challenge []byte, done bool, err error) {
	if x.finished {
		return nil, true, ErrFailed
	}
	x.step++
	if x.step == 1 {
		// Dovecot waits the penalty when the request starts.
		if err := x.s.penaltyWait(ctx, x.ci, x.mech); err != nil {
			x.finished = true
			return nil, true, err
		}
	}
	challenge, done, err = x.srv.Next(response)
	x.s.logp.debug(x.s.attemptLog(x.ci, x.mech), "sasl step", "step", x.step,
		"response_bytes", len(response), "initial_response", x.step == 1 && response != nil,
		"challenge_bytes", len(challenge), "done", done)
	if err == nil && !done {
		return challenge, false, nil
	}
	x.finished = true
	if err == nil {
		x.s.succeeded(x.ci)
		return nil, true, nil
	}
	x.principal = Principal{}
	if errors.Is(err, ErrTempFail) {
		return nil, true, ErrTempFail
	}
	if !errors.Is(err, ErrFailed) {
		x.s.logp.failure(x.s.attemptLog(x.ci, x.mech), err.Error())
	}
	return nil, true, x.s.failed(ctx, x.ci, x.sum, ErrFailed)
}

// Principal returns the authenticated user once Next reported done without
// error; the zero Principal otherwise.
func (x *SASL) Principal() Principal {
	if !x.finished || x.result != nil {
		return Principal{}
	}
	return x.principal
}

// UserExists reports whether some passdb knows user (after
// auth_username_format and the passdb's username_format), for delivery. Users with "deny" exist. It returns
// ErrTempFail if a passdb cannot be read and no other passdb has the user.
func (s *Service) UserExists(ctx context.Context, user string) (bool, error) {
	_, ok, err := s.LookupUser(ctx, user)
	return ok, err
}

// LookupUser is the userdb lookup of delivery (LMTP RCPT, roost deliver
// -d) and of the admin commands: it returns the account name a login
// as user would get (the Principal's User: user after
// auth_username_format, or the entry's "user" extra field), so that mail
// delivered to an address is the mail its owner sees after logging in,
// as Dovecot's LMTP uses the userdb's user name. Users with "deny" exist.
// ErrTempFail if a passdb cannot be read and no other passdb has the user.
func (s *Service) LookupUser(ctx context.Context, user string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	user = s.format.apply(user)
	if user == "" {
		return "", false, nil
	}
	tempfail := false
	for i, db := range s.passdbs {
		e, ok, err := db.file.Lookup(db.format.apply(user))
		if err != nil {
			s.log.Error("passdb lookup failed", "passdb", i+1, "user", user, "err", err)
			tempfail = true
			continue
		}
		if ok {
			if u := e.Extra["user"]; u != "" {
				return u, true, nil
			}
			return user, true, nil
		}
	}
	if tempfail {
		return "", false, ErrTempFail
	}
	return "", false, nil
}

// Users lists the user names of all passdbs, in file order, without
// duplicates. ErrTempFail if a passdb cannot be read.
func (s *Service) Users(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	seen := make(map[string]bool)
	for i, db := range s.passdbs {
		entries, err := db.file.Users()
		if err != nil {
			s.log.Error("passdb read failed", "passdb", i+1, "err", err)
			return nil, ErrTempFail
		}
		for _, e := range entries {
			if !seen[e.User] {
				seen[e.User] = true
				out = append(out, e.User)
			}
		}
	}
	return out, nil
}
