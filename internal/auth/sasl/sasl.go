// Package sasl implements server-side SASL mechanisms.
//
// A Server is driven by the protocol layer, which owns the wire encoding:
// it base64-decodes what the client sends, handles the client's "*" abort,
// and base64-encodes challenges. Next takes raw decoded bytes:
//
//   - The first call carries the initial response. A nil response means the
//     client sent none; an empty non-nil slice means an empty initial response
//     (the client sent "=", RFC 4954/RFC 9051).
//   - A returned challenge is sent to the client (an empty challenge as the
//     empty continuation, "+ " in IMAP/POP3); its answer goes to the next call.
//   - done == true with err == nil: the exchange succeeded.
//   - err != nil: the exchange failed and is over (done is true). The error
//     is whatever the check function returned, or ErrMalformed /
//     ErrAuthzidMismatch for input the mechanism refuses itself.
//
// Next must not be called again once done is true.
package sasl

import (
	"bytes"
	"errors"
	"unicode"
	"unicode/utf8"
)

// Server is one server-side SASL exchange.
type Server interface {
	Next(response []byte) (challenge []byte, done bool, err error)
}

var (
	// ErrMalformed is returned for a client response the mechanism cannot parse.
	ErrMalformed = errors.New("sasl: malformed response")
	// ErrAuthzidMismatch is returned by PLAIN when the client asks to act as
	// another user (authorization identity differs from the authentication
	// identity). Master users are not supported.
	ErrAuthzidMismatch = errors.New("sasl: authorization identity differs from authentication identity")
	// ErrDone is returned when Next is called after the exchange ended.
	ErrDone = errors.New("sasl: exchange already finished")
)

// NewPlain returns a PLAIN server (RFC 4616): one message
// "authzid NUL authcid NUL passwd". authzid must be empty or equal to
// authcid; check is called with the three parts and its error ends the
// exchange.
func NewPlain(check func(authzid, user, pass string) error) Server {
	return &plainServer{check: check}
}

type plainServer struct {
	check func(authzid, user, pass string) error
	step  int
}

func (p *plainServer) Next(response []byte) ([]byte, bool, error) {
	switch p.step {
	case 0:
		p.step = 1
		if response == nil {
			return []byte{}, false, nil // no initial response: ask for it
		}
	case 1:
	default:
		return nil, true, ErrDone
	}
	p.step = 2
	parts := bytes.Split(response, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return nil, true, ErrMalformed
	}
	authzid, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authzid != "" && authzid != user {
		return nil, true, ErrAuthzidMismatch
	}
	if err := p.check(authzid, user, pass); err != nil {
		return nil, true, err
	}
	return nil, true, nil
}

// NewLogin returns a LOGIN server (draft-murchison-sasl-login): challenges
// "Username:" and "Password:". An initial response, if any, is taken as the
// user name (clients do send "AUTH LOGIN dXNlcg==").
func NewLogin(check func(user, pass string) error) Server {
	return &loginServer{check: check}
}

type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

var (
	challengeUsername = []byte("Username:")
	challengePassword = []byte("Password:")
)

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if response == nil {
			l.step = 1
			return bytes.Clone(challengeUsername), false, nil
		}
		fallthrough
	case 1:
		if len(response) == 0 || bytes.IndexByte(response, 0) >= 0 {
			l.step = 3
			return nil, true, ErrMalformed
		}
		l.user = string(response)
		l.step = 2
		return bytes.Clone(challengePassword), false, nil
	case 2:
		l.step = 3
		if bytes.IndexByte(response, 0) >= 0 {
			return nil, true, ErrMalformed
		}
		if err := l.check(l.user, string(response)); err != nil {
			return nil, true, err
		}
		return nil, true, nil
	}
	return nil, true, ErrDone
}

// ErrTraceInvalid is returned by ANONYMOUS for trace information that RFC
// 4505 does not allow: not UTF-8, longer than 255 characters, or holding
// control characters.
var ErrTraceInvalid = errors.New("sasl: invalid ANONYMOUS trace information")

// maxTrace is RFC 4505 section 2's limit: "message = [ email / token ]",
// both at most 255 characters.
const maxTrace = 255

// NewAnonymous returns an ANONYMOUS server (RFC 4505): one message from
// the client, optional trace information (an email address or an opaque
// string) that has no semantic value. check is called with the trace
// string ("" when the client sent none) and its error ends the exchange.
// Without an initial response the server sends an empty challenge.
func NewAnonymous(check func(trace string) error) Server {
	return &anonymousServer{check: check}
}

type anonymousServer struct {
	check func(trace string) error
	step  int
}

func (a *anonymousServer) Next(response []byte) ([]byte, bool, error) {
	switch a.step {
	case 0:
		a.step = 1
		if response == nil {
			return []byte{}, false, nil
		}
	case 1:
	default:
		return nil, true, ErrDone
	}
	a.step = 2
	if !validTrace(response) {
		return nil, true, ErrTraceInvalid
	}
	if err := a.check(string(response)); err != nil {
		return nil, true, err
	}
	return nil, true, nil
}

// validTrace checks the parts of RFC 4505's trace profile (section 3)
// that matter to a log: UTF-8, at most 255 characters, and none of the
// prohibited control characters (so a trace cannot forge log lines).
func validTrace(b []byte) bool {
	if !utf8.Valid(b) || utf8.RuneCount(b) > maxTrace {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
