package pop3server

import (
	"context"
	"encoding/base64"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
)

// cmdUser takes the name for PASS (RFC 1939 section 7).
func (s *session) cmdUser(ctx context.Context, cmd *Command) error {
	if !s.srv.opts.Auth.PlaintextAllowed(s.connInfo()) {
		// Dovecot refuses USER itself, so the client never sends the
		// password in cleartext.
		s.errf("%s", replyPlaintextDisabled)
		s.logger.Info("pop3 login failed: plaintext authentication disabled")
		return s.authFailed()
	}
	s.userName = cmd.Arg
	s.ok("")
	return nil
}

// cmdPass checks the password for the name given by USER.
func (s *session) cmdPass(ctx context.Context, cmd *Command) error {
	if s.userName == "" {
		// The client may ignore USER's reply and only show PASS's.
		if !s.srv.opts.Auth.PlaintextAllowed(s.connInfo()) {
			s.errf("%s", replyPlaintextDisabled)
			return s.authFailed()
		}
		s.errf("No username given.")
		return nil
	}
	user := s.userName
	s.userName = ""
	p, err := s.srv.opts.Auth.Login(ctx, s.connInfo(), user, cmd.Arg)
	if err != nil {
		return s.loginFailed(err, user, "USER")
	}
	return s.login(ctx, p, "USER")
}

// cmdAPOP refuses APOP: the greeting carries no timestamp and passwords are
// not stored in a form APOP can use.
func (s *session) cmdAPOP(ctx context.Context, cmd *Command) error {
	s.errf("APOP not enabled.")
	return nil
}

// cmdAuth runs a SASL exchange (RFC 5034). A bare AUTH lists the
// mechanisms, as Dovecot does for old Outlook versions.
func (s *session) cmdAuth(ctx context.Context, cmd *Command) error {
	ci := s.connInfo()
	if cmd.Arg == "" {
		s.ok("")
		for _, m := range s.srv.opts.Auth.Mechanisms(ci) {
			s.line(m)
		}
		s.end()
		return nil
	}
	x, err := s.srv.opts.Auth.NewSASL(ci, cmd.Arg)
	if err != nil {
		return s.loginFailed(err, "", "AUTH "+cmd.Arg)
	}
	resp := cmd.InitialResponse // nil: none, so Next starts the exchange
	for {
		challenge, done, err := x.Next(ctx, resp)
		if err != nil {
			return s.loginFailed(err, "", "AUTH "+cmd.Arg)
		}
		if done && len(challenge) == 0 {
			return s.login(ctx, x.Principal(), "AUTH "+cmd.Arg)
		}
		// RFC 5034 section 4: a challenge, or additional data with
		// success, goes in a "+ " line; the client answers with a line of
		// base64 or "*" to cancel.
		s.w.WriteString("+ ")
		s.w.WriteString(base64.StdEncoding.EncodeToString(challenge))
		s.w.WriteString("\r\n")
		if err := s.w.Flush(); err != nil {
			return err
		}
		line, err := s.readLine(ctx)
		if err != nil {
			return err
		}
		if string(line) == "*" {
			s.errf("%s", replyAuthAborted)
			return nil
		}
		if len(line) == 0 {
			resp = []byte{}
		} else if resp, err = decodeBase64(line); err != nil {
			s.errf("%s", replyInvalidBase64Cont)
			return s.authFailed()
		}
		if done {
			// The answer to additional data with success must be empty.
			if len(resp) != 0 {
				s.errf("%s", replyAuthFailed)
				return s.authFailed()
			}
			return s.login(ctx, x.Principal(), "AUTH "+cmd.Arg)
		}
	}
}

// loginFailed answers a failed authentication and counts it.
func (s *session) loginFailed(err error, user, method string) error {
	reply, counts := authErrorReply(err)
	s.errf("%s", reply)
	s.logger.Info("pop3 login failed", "user", user, "method", method, "err", err)
	if !counts {
		return nil
	}
	return s.authFailed()
}

// authFailed counts a failed authentication attempt and ends the session
// after MaxAuthFailures of them.
func (s *session) authFailed() error {
	s.authFails++
	if s.authFails >= s.srv.opts.MaxAuthFailures {
		s.logger.Info("pop3 disconnected: too many failed logins", "attempts", s.authFails)
		return errClose
	}
	return nil
}

// login opens the maildrop of an authenticated principal and enters the
// TRANSACTION state (RFC 1939 section 4). If the maildrop cannot be opened
// the session stays in AUTHORIZATION; the client may retry or QUIT.
func (s *session) login(ctx context.Context, p auth.Principal, method string) error {
	ip := s.conn.Remote().Addr()
	if !s.srv.acquireUserIP(p.User, ip) {
		s.errf(replyUserIPLimitPattern, s.srv.opts.MaxUserIPConnections)
		s.logger.Info("pop3 login refused: user+IP connection limit", "user", p.User)
		return nil
	}
	fail := func(what string, err error, reply string) error {
		s.srv.releaseUserIP(p.User, ip)
		s.errf("%s", reply)
		s.logger.Warn("pop3 login failed: "+what, "user", p.User, "err", err)
		return nil
	}
	acct, err := s.srv.opts.Store.Account(ctx, p.User)
	if err != nil {
		return fail("opening account", err, storeErrorReply(err))
	}
	// RFC 1939 section 8: one session per maildrop.
	release, err := acct.LockMaildrop(ctx)
	if err != nil {
		acct.Close()
		reply := storeErrorReply(err)
		if mailstore.KindOf(err) == mailstore.KindInUse {
			reply = replyMaildropLocked
		}
		return fail("locking maildrop", err, reply)
	}
	mbox, err := acct.Mailbox(ctx, "INBOX")
	var metas []mailstore.MessageMeta
	if err == nil {
		metas, err = acct.Messages(ctx, mbox.ID)
	}
	if err != nil {
		release()
		acct.Close()
		return fail("reading INBOX", err, storeErrorReply(err))
	}
	msgs := make([]message, len(metas))
	var total int64
	for i, m := range metas {
		msgs[i] = message{uid: m.UID, size: m.Size, seen: m.HasFlag(mailstore.FlagSeen)}
		total += m.Size
	}
	s.user, s.userIPHeld, s.acct, s.release = p.User, true, acct, release
	s.mbox, s.msgs = mbox, msgs
	s.state = stateTransaction
	s.conn.Authenticated() // off the pre-login caps and deadline
	s.register()
	s.ok("Logged in.")
	s.logger.Info("pop3 login", "user", p.User, "method", method, "tls", s.conn.TLS(),
		"messages", len(msgs), "bytes", total)
	return nil
}
