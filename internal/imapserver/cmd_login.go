package imapserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/imap"
)

// maxSASLLine bounds one AUTHENTICATE continuation line (base64 of the
// client's response); PLAIN with long names and passwords fits easily.
const maxSASLLine = 8 * 1024

// cmdLogin checks a user name and password (RFC 9051 6.2.3).
func (s *session) cmdLogin(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.LoginCmd)
	ci := s.connInfo()
	if !s.srv.opts.Auth.PlaintextAllowed(ci) {
		// RFC 9051 6.2.3: LOGINDISABLED was advertised; the client sent the
		// password anyway. Dovecot warns the user, then refuses.
		s.enc.Untagged().Atom("BAD").SP().Text("[ALERT] " + replyPlaintextAlert).CRLF()
		s.log.Info("imap login failed: plaintext authentication disabled")
		return s.loginFailed(auth.ErrPlaintextDisabled, args.User, "LOGIN")
	}
	p, err := s.srv.opts.Auth.Login(ctx, ci, args.User, args.Password)
	if err != nil {
		return s.loginFailed(err, args.User, "LOGIN")
	}
	return s.login(ctx, p, "LOGIN")
}

// cmdAuthenticate runs a SASL exchange (RFC 9051 6.2.2) with an optional
// initial response (SASL-IR, RFC 4959).
func (s *session) cmdAuthenticate(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.AuthenticateCmd)
	method := "AUTHENTICATE " + args.Mechanism
	x, err := s.srv.opts.Auth.NewSASL(s.connInfo(), args.Mechanism)
	if errors.Is(err, auth.ErrPlaintextDisabled) {
		// Dovecot's wording for a plaintext mechanism on an insecure
		// connection; the password has not been sent yet.
		s.log.Info("imap login failed: plaintext authentication disabled", "method", method)
		return statusNO("PRIVACYREQUIRED", "Plaintext authentication disabled.")
	}
	if err != nil {
		return s.loginFailed(err, "", method)
	}
	resp := args.InitialResponse // nil: none, so Next starts the exchange
	for {
		challenge, done, err := x.Next(ctx, resp)
		if err != nil {
			return s.loginFailed(err, "", method)
		}
		if done && len(challenge) == 0 {
			return s.login(ctx, x.Principal(), method)
		}
		// RFC 9051 6.2.2: a challenge is a continuation request with
		// base64 data; "+ " with nothing after it for an empty one.
		s.enc.Raw("+ ").Raw(base64.StdEncoding.EncodeToString(challenge)).CRLF()
		if err := s.enc.Flush(); err != nil {
			return fatal(err)
		}
		line, err := s.readLine(ctx, maxSASLLine)
		if errors.Is(err, errLineTooLong) {
			if err := s.authFailed(); err != nil {
				return err
			}
			return statusBAD("", "Authentication response too long.")
		}
		if err != nil {
			return err
		}
		// RFC 9051 6.2.2: "If the client wishes to cancel an
		// authentication exchange, it issues a line consisting of a single
		// "*". If the server receives such a response, it MUST reject the
		// AUTHENTICATE command by sending a tagged BAD response."
		if string(line) == "*" {
			return statusBAD("", replyAuthAborted)
		}
		if resp, err = base64.StdEncoding.DecodeString(string(line)); err != nil {
			if err := s.authFailed(); err != nil {
				return err
			}
			return statusBAD("", replyInvalidBase64)
		}
		if resp == nil {
			resp = []byte{}
		}
		if done {
			// The answer to additional data with success must be empty.
			if len(resp) != 0 {
				return s.loginFailed(auth.ErrFailed, "", method)
			}
			return s.login(ctx, x.Principal(), method)
		}
	}
}

// loginFailed answers a failed authentication and counts it; after
// MaxAuthFailures the session ends after the reply.
func (s *session) loginFailed(err error, user, method string) error {
	st, counts := authReply(err)
	s.log.Info("imap login failed", "user", user, "method", method, "err", err)
	if counts {
		if err := s.authFailed(); err != nil {
			return err
		}
	}
	return st
}

// authFailed counts a failed attempt; at the limit it arranges for the
// session to end after the tagged reply.
func (s *session) authFailed() error {
	s.authFails++
	if s.authFails >= s.srv.opts.MaxAuthFailures {
		s.log.Info("imap disconnected: too many failed logins", "attempts", s.authFails)
		s.byeAfter = "Too many invalid authentication attempts."
	}
	return nil
}

// login opens the account of an authenticated principal and enters the
// authenticated state. If the account cannot be opened the session stays
// not authenticated; the client may retry or log out. The tagged OK
// carries the capabilities of the new state (RFC 9051 6.2.3: "A server MAY
// include a CAPABILITY response code in the tagged OK response").
func (s *session) login(ctx context.Context, p auth.Principal, method string) error {
	ip := s.conn.Remote().Addr()
	if !s.srv.acquireUserIP(p.User, ip) {
		s.log.Info("imap login refused: user+IP connection limit", "user", p.User)
		return statusNO("LIMIT", fmt.Sprintf("Maximum number of connections from user+IP exceeded (mail_max_userip_connections=%d)", s.srv.opts.MaxUserIPConnections))
	}
	acct, err := s.srv.opts.Store.Account(ctx, p.User)
	if err != nil {
		s.srv.releaseUserIP(p.User, ip)
		s.log.Warn("imap login failed: opening account", "user", p.User, "err", err)
		return wrapf(err, "open account")
	}
	s.user, s.acct, s.userIPHeld = p.User, acct, true
	s.state = stateAuthenticated
	s.conn.Authenticated() // off the pre-login caps and deadline
	s.badCount = 0
	s.newDecoder() // post-login limits
	s.register()
	s.log.Info("imap login", "user", p.User, "method", method, "tls", s.conn.TLS())
	return okText(s.capabilityCode(), "Logged in")
}
