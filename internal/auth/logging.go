package auth

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"
)

// logPolicy decides what an authentication attempt writes to the log:
// Dovecot's auth_verbose, auth_verbose_passwords, auth_debug and
// auth_debug_passwords. Its zero value logs no attempt at all.
//
// Verbose and debug lines are written at Info: they are switched on by
// their own settings, so they must not also need a debug log level.
type logPolicy struct {
	verbose        bool   // auth_verbose (or implied by auth_debug)
	debugOn        bool   // auth_debug (or implied by auth_debug_passwords)
	debugPasswords bool   // auth_debug_passwords
	pwForm         string // auth_verbose_passwords: "", "plain" or "sha1"
	pwLen          int    // its ":N"; 0 means Dovecot's default (1024 for plain, all of sha1)
}

// maxPlainLogged is Dovecot's cut for auth_verbose_passwords = plain
// without ":N".
const maxPlainLogged = 1024

func newLogPolicy(opts Options) (logPolicy, error) {
	p := logPolicy{
		debugPasswords: opts.DebugPasswords,
		debugOn:        opts.Debug || opts.DebugPasswords,
	}
	p.verbose = opts.Verbose || p.debugOn
	form, n, err := ParseVerbosePasswords(opts.VerbosePasswords)
	if err != nil {
		return p, err
	}
	p.pwForm, p.pwLen = form, n
	return p, nil
}

// ParseVerbosePasswords parses an auth_verbose_passwords value: "" or
// "no" (form ""), "plain" or its alias "yes", or "sha1", each optionally
// followed by ":N" with N > 0 (n; 0 without ":N").
func ParseVerbosePasswords(v string) (form string, n int, err error) {
	form, num, hasNum := strings.Cut(strings.ToLower(strings.TrimSpace(v)), ":")
	switch form {
	case "", "no":
		if hasNum {
			return "", 0, fmt.Errorf("auth_verbose_passwords %q: no takes no length", v)
		}
		return "", 0, nil
	case "yes", "plain":
		form = "plain"
	case "sha1":
	default:
		return "", 0, fmt.Errorf("auth_verbose_passwords %q: use no, plain or sha1, optionally with :N (sha1:8)", v)
	}
	if hasNum {
		n, err = strconv.Atoi(num)
		if err != nil || n <= 0 {
			return "", 0, fmt.Errorf("auth_verbose_passwords %q: the length after : must be a positive number", v)
		}
	}
	return form, n, nil
}

// failure logs an unsuccessful attempt with auth_verbose.
func (p logPolicy) failure(log *slog.Logger, reason string, args ...any) {
	if !p.verbose {
		return
	}
	log.Info("auth failed", append([]any{"reason", reason}, args...)...)
}

// passwordFailure logs a password mismatch or an unknown user. With
// auth_verbose_passwords it is logged with the submitted password in the
// configured form, even without auth_verbose (as in Dovecot).
func (p logPolicy) passwordFailure(log *slog.Logger, reason, pass string, args ...any) {
	if p.pwForm == "" {
		p.failure(log, reason, args...)
		return
	}
	key, val := p.formatPassword(pass)
	log.Info("auth failed", append([]any{"reason", reason, key, val}, args...)...)
}

// formatPassword returns the log attribute for pass under
// auth_verbose_passwords.
func (p logPolicy) formatPassword(pass string) (key, val string) {
	if p.pwForm == "sha1" {
		sum := sha1.Sum([]byte(pass))
		h := hex.EncodeToString(sum[:])
		if p.pwLen > 0 && p.pwLen < len(h) {
			h = h[:p.pwLen]
		}
		return "password_sha1", h
	}
	n := p.pwLen
	if n == 0 {
		n = maxPlainLogged
	}
	return "password", truncateRunes(pass, n)
}

// truncateRunes keeps the first n characters of s (bytes of invalid UTF-8
// count as one each).
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// debug logs one step of an attempt with auth_debug.
func (p logPolicy) debug(log *slog.Logger, msg string, args ...any) {
	if !p.debugOn {
		return
	}
	log.Info("auth debug: "+msg, args...)
}

// debugPassword returns the attributes that show the submitted password
// in a debug line: none unless auth_debug_passwords.
func (p logPolicy) debugPassword(pass string) []any {
	if !p.debugPasswords {
		return nil
	}
	if !utf8.ValidString(pass) {
		return []any{"password", strconv.QuoteToASCII(pass)}
	}
	return []any{"password", pass}
}
