package imapserver

import (
	"errors"
	"fmt"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
)

// statusError is a handler's explicit reply: the tagged status (OK, NO or
// BAD), an optional response code (RFC 9051 7.1) and the text. The loop
// writes it as "tag TYPE [CODE] text".
type statusError struct {
	typ  string // "OK", "NO", "BAD"
	code string // "" or e.g. "TRYCREATE", "APPENDUID 1 3:4"
	text string
}

func (e *statusError) Error() string {
	if e.code != "" {
		return e.typ + " [" + e.code + "] " + e.text
	}
	return e.typ + " " + e.text
}

// statusNO returns an error the loop answers with "tag NO [code] text".
// code may be empty.
func statusNO(code, text string) error { return &statusError{"NO", code, text} }

// statusBAD returns an error the loop answers with "tag BAD [code] text".
func statusBAD(code, text string) error { return &statusError{"BAD", code, text} }

// okText makes a command succeed with a custom tagged OK, e.g.
// okText("READ-WRITE", "Select completed."). It is returned like an error
// but is not a failure.
func okText(code, text string) error { return &statusError{"OK", code, text} }

// Errors that end the session. A handler returns them (possibly wrapped);
// the loop stops reading and closes the connection after flushing.
var (
	// errLogout: the session ends normally (LOGOUT, which has written
	// its BYE and tagged OK already).
	errLogout = errors.New("logout")
	// errShutdown: the server is shutting down; the loop says
	// "* BYE Server shutting down.".
	errShutdown = errors.New("server shutting down")
)

// errReplied: the handler has written its tagged reply itself (STARTTLS,
// which must flush its OK before the handshake). The loop writes nothing
// more for the command.
var errReplied = errors.New("tagged reply already written")

// fatalError wraps an error that ends the session (a failed read or write,
// a TLS handshake failure). The loop logs it at debug level and closes.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return "connection: " + e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// fatal marks err as ending the session: handlers use it for errors of the
// connection itself, e.g. a read in AUTHENTICATE or IDLE that failed.
func fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err}
}

// byeError ends the session after the loop writes "* BYE text".
type byeError struct{ text string }

func (e *byeError) Error() string { return "bye: " + e.text }

// bye returns an error that makes the loop send "* BYE text" and close.
func bye(text string) error { return &byeError{text} }

// Response codes for mailstore error kinds (RFC 5530, RFC 9051 7.1, RFC
// 7889). KindInvalid maps to CANNOT: the request is understood but the
// operation cannot be done with these arguments (a bad mailbox name).
var kindCodes = map[mailstore.Kind]string{
	mailstore.KindNotFound:    "NONEXISTENT",
	mailstore.KindExists:      "ALREADYEXISTS",
	mailstore.KindNoPerm:      "NOPERM",
	mailstore.KindOverQuota:   "OVERQUOTA",
	mailstore.KindTooBig:      "TOOBIG",
	mailstore.KindInUse:       "INUSE",
	mailstore.KindExpunged:    "EXPUNGEISSUED",
	mailstore.KindInvalid:     "CANNOT",
	mailstore.KindLimit:       "LIMIT",
	mailstore.KindUnavailable: "UNAVAILABLE",
	mailstore.KindInternal:    "SERVERBUG",
}

// storeReply maps a storage error to the tagged NO reply: the response code
// of its kind and the store's client-safe text. It is the only place where
// mailstore kinds become IMAP response codes. internal reports whether the
// error is a bug or unexpected failure the caller should log.
func storeReply(err error) (st *statusError, internal bool) {
	kind := mailstore.KindOf(err)
	text := mailstore.PublicMessage(err)
	if kind != mailstore.KindInternal && text != "" {
		text = capitalize(text)
		if last := text[len(text)-1]; last != '.' && last != '?' && last != '!' {
			text += "."
		}
	}
	return &statusError{"NO", kindCodes[kind], text}, kind == mailstore.KindInternal
}

// tryCreate turns "mailbox not found" into TRYCREATE for the commands that
// put messages into a named mailbox (RFC 9051 6.3.12 APPEND, 6.4.7 COPY,
// 6.4.8 MOVE): "If the destination mailbox does not exist, a server MUST
// return an error, and MUST NOT automatically create the mailbox ... the
// server MAY ... [TRYCREATE]". Other errors pass through unchanged.
func tryCreate(err error) error {
	if err != nil && mailstore.KindOf(err) == mailstore.KindNotFound {
		st, _ := storeReply(err)
		st.code = "TRYCREATE"
		return st
	}
	return err
}

// capitalize upper-cases the first ASCII letter of s.
func capitalize(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// wrapf wraps err with context, keeping its kind for storeReply.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Authentication replies, worded as Dovecot's.
const (
	replyAuthFailed        = "Authentication failed."
	replyAuthTempFail      = "Temporary authentication failure."
	replyPlaintextDisabled = "Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	replyPlaintextAlert    = "Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. If anyone was listening, the password was exposed."
	replyUnsupportedMech   = "Unsupported authentication mechanism."
	replyAuthAborted       = "Authentication aborted by client."
	replyInvalidBase64     = "Invalid base64 data in continued response."
)

// authReply maps an authentication error to the tagged reply (RFC 5530
// response codes). counts reports whether the attempt counts towards
// MaxAuthFailures: temporary failures do not. Unknown user and wrong
// password are indistinguishable.
func authReply(err error) (st *statusError, counts bool) {
	switch {
	case errors.Is(err, auth.ErrFailed):
		return &statusError{"NO", "AUTHENTICATIONFAILED", replyAuthFailed}, true
	case errors.Is(err, auth.ErrPlaintextDisabled):
		return &statusError{"NO", "PRIVACYREQUIRED", replyPlaintextDisabled}, true
	case errors.Is(err, auth.ErrMechanism):
		return &statusError{"NO", "", replyUnsupportedMech}, true
	default: // auth.ErrTempFail and anything unexpected
		return &statusError{"NO", "UNAVAILABLE", replyAuthTempFail}, false
	}
}
