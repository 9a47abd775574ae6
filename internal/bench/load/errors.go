package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
)

// Kind classifies what went wrong, so a report can say "3 BAD, 1 malformed"
// instead of a list of messages. The protocol kinds (BAD, NO, BYE,
// malformed, check) mean the server broke the protocol or refused something
// a correct server accepts; the others are transport problems.
type Kind string

const (
	KindBAD       Kind = "BAD"       // tagged or untagged BAD (POP3: -ERR) to a valid command
	KindNO        Kind = "NO"        // NO where the profile expects OK
	KindBYE       Kind = "BYE"       // unexpected BYE, or the server closed the connection
	KindMalformed Kind = "malformed" // a response line that is not valid IMAP/POP3 syntax
	KindCheck     Kind = "check"     // well-formed but wrong: a count or size does not add up
	KindConnect   Kind = "connect"   // TCP connect or greeting failed
	KindTLS       Kind = "tls"       // TLS handshake failed
	KindTimeout   Kind = "timeout"   // no complete response within the command timeout
	KindIO        Kind = "io"        // other read/write errors
)

// Protocol reports whether k is a protocol error (the server misbehaved on
// the wire) rather than a transport failure.
func (k Kind) Protocol() bool {
	switch k {
	case KindBAD, KindNO, KindBYE, KindMalformed, KindCheck:
		return true
	}
	return false
}

// Error is one failed operation.
type Error struct {
	Kind   Kind
	Op     string // the command name as reported ("UID FETCH headers")
	Detail string // the offending line or the underlying error
	Err    error  // underlying error, if any
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Kind, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

func protoErr(k Kind, op, format string, args ...any) *Error {
	return &Error{Kind: k, Op: op, Detail: fmt.Sprintf(format, args...)}
}

// ioErr classifies a transport error.
func ioErr(op string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	k := KindIO
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		k = KindTimeout
	case isEOF(err):
		k = KindBYE
	}
	return &Error{Kind: k, Op: op, Detail: err.Error(), Err: err}
}

// AsError returns err as an *Error (transport errors classified by ioErr).
func AsError(op string, err error) *Error { return ioErr(op, err) }
