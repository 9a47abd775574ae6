package mailstore

import (
	"errors"
	"fmt"
)

// Kind is the closed set of storage error kinds. Every protocol maps a Kind
// to its wire code in exactly one place (IMAP response codes, POP3 RESP-CODES,
// LMTP enhanced status codes).
type Kind int

const (
	KindInternal    Kind = iota // a bug or an unexpected failure; details go to the log only
	KindNotFound                // mailbox or message does not exist
	KindExists                  // mailbox already exists
	KindNoPerm                  // operation not permitted (e.g. deleting INBOX)
	KindOverQuota               // quota would be exceeded
	KindTooBig                  // message larger than the configured limit
	KindInUse                   // resource locked by another session (POP3 maildrop)
	KindExpunged                // message was expunged
	KindInvalid                 // invalid argument (bad mailbox name, bad flag)
	KindLimit                   // a configured limit was reached (mailbox count, ...)
	KindUnavailable             // temporary failure: retry later
)

var kindNames = [...]string{
	KindInternal:    "internal",
	KindNotFound:    "not found",
	KindExists:      "exists",
	KindNoPerm:      "no permission",
	KindOverQuota:   "over quota",
	KindTooBig:      "too big",
	KindInUse:       "in use",
	KindExpunged:    "expunged",
	KindInvalid:     "invalid",
	KindLimit:       "limit",
	KindUnavailable: "unavailable",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a storage error with a kind. Msg is safe to show to a client;
// Err (optional) carries internal detail for the log.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Msg != "":
		return e.Msg + ": " + e.Err.Error()
	case e.Err != nil:
		return e.Kind.String() + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Msg
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a client-safe message.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Internal wraps err as a KindInternal error with context for the log.
func Internal(context string, err error) error {
	return &Error{Kind: KindInternal, Err: fmt.Errorf("%s: %w", context, err)}
}

// KindOf returns the kind of err: the Kind of the first *Error in its chain,
// KindInternal for any other non-nil error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// PublicMessage returns the client-safe text of err: the Msg of the first
// *Error in its chain, or a generic text for internal errors.
func PublicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal && e.Msg != "" {
		return e.Msg
	}
	return "Internal error occurred. Refer to server log for more information."
}
