package imapserver

import (
	"context"
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
)

// capOrder is the order capabilities are listed in, with the RFC of each.
// A capability is advertised only when some registered command declares it
// in commandSpec.caps (or, for the few marked "always", because the session
// core implements it).
var capOrder = []string{
	"SASL-IR",            // RFC 4959
	"ID",                 // RFC 2971
	"ENABLE",             // RFC 5161
	"IDLE",               // RFC 2177
	"NAMESPACE",          // RFC 2342
	"UIDPLUS",            // RFC 4315
	"MOVE",               // RFC 6851
	"UNSELECT",           // RFC 3691
	"CHILDREN",           // RFC 3348
	"LIST-EXTENDED",      // RFC 5258
	"LIST-STATUS",        // RFC 5819
	"SPECIAL-USE",        // RFC 6154
	"CREATE-SPECIAL-USE", // RFC 6154
	"MULTIAPPEND",        // RFC 3502
	"APPENDLIMIT",        // RFC 7889 (written APPENDLIMIT=n)
	"BINARY",             // RFC 3516
	"ESEARCH",            // RFC 4731
	"SEARCHRES",          // RFC 5182
	"STATUS=SIZE",        // RFC 8438
	"UTF8=ACCEPT",        // RFC 6855
	"COMPRESS=DEFLATE",   // RFC 4978
	"QUOTA",              // RFC 9208
	"QUOTA=RES-STORAGE",  // RFC 9208 5.1
	"QUOTA=RES-MESSAGE",  // RFC 9208 5.2
}

// rev2Requires lists what RFC 9051 (appendix E and section 7.2.2) folds
// into IMAP4rev2: IMAP4rev2 is advertised, and ENABLE IMAP4rev2 accepted,
// only when every one of them is implemented.
var rev2Requires = []string{
	"NAMESPACE", "UNSELECT", "UIDPLUS", "ESEARCH", "SEARCHRES", "ENABLE",
	"IDLE", "SASL-IR", "LIST-EXTENDED", "LIST-STATUS", "MOVE", "BINARY",
	"SPECIAL-USE", "STATUS=SIZE",
}

// implementedCaps returns the capabilities declared by registered
// commands. New calls it once all init functions have registered their
// commands.
func implementedCaps() map[string]bool {
	caps := map[string]bool{}
	for _, spec := range commands {
		for _, c := range spec.caps {
			caps[c] = true
		}
	}
	// RFC 9051 appendix E: IMAP4rev2 only when all it folds in works.
	rev2 := true
	for _, c := range rev2Requires {
		rev2 = rev2 && caps[c]
	}
	caps["IMAP4rev2"] = rev2
	return caps
}

// implemented reports whether capability c is implemented.
func (s *session) implemented(c string) bool { return s.srv.caps[c] }

// preAuthCaps are the capabilities shown before login, where only the
// not-authenticated commands matter (as Dovecot's imap-login does).
var preAuthCaps = map[string]bool{"SASL-IR": true, "ID": true, "ENABLE": true, "IDLE": true}

// capabilities returns the capability list for the connection's current
// state (RFC 9051 7.2.2), without the "CAPABILITY" keyword.
func (s *session) capabilities() []string {
	caps := []string{"IMAP4rev1"}
	if s.implemented("IMAP4rev2") {
		caps = append(caps, "IMAP4rev2")
	}
	if s.state == stateNotAuthenticated {
		for _, c := range capOrder {
			if preAuthCaps[c] && s.implemented(c) {
				caps = append(caps, c)
			}
		}
		// RFC 7888: the decoder accepts non-synchronizing literals.
		caps = append(caps, "LITERAL+")
		if s.conn.CanStartTLS() {
			caps = append(caps, "STARTTLS")
		}
		ci := s.connInfo()
		for _, m := range s.srv.opts.Auth.Mechanisms(ci) {
			caps = append(caps, "AUTH="+m)
		}
		// RFC 9051 6.2.3: LOGINDISABLED when LOGIN is refused here.
		if !s.srv.opts.Auth.PlaintextAllowed(ci) {
			caps = append(caps, "LOGINDISABLED")
		}
		return caps
	}
	for _, c := range capOrder {
		if !s.implemented(c) {
			continue
		}
		if c == "APPENDLIMIT" {
			// RFC 7889 2: APPENDLIMIT without a value when the limit is
			// not global (here: none of our own; the store may still
			// refuse a message as too big).
			if s.srv.opts.AppendLimit > 0 {
				c += "=" + strconv.FormatInt(s.srv.opts.AppendLimit, 10)
			}
		}
		caps = append(caps, c)
	}
	caps = append(caps, "LITERAL+")
	return caps
}

// capabilityCode is the text of a [CAPABILITY ...] response code.
func (s *session) capabilityCode() string {
	return "CAPABILITY " + strings.Join(s.capabilities(), " ")
}

// cmdCapability answers CAPABILITY (RFC 9051 6.1.1).
func (s *session) cmdCapability(ctx context.Context, cmd *imap.Command) error {
	s.enc.Untagged().Atom("CAPABILITY")
	for _, c := range s.capabilities() {
		s.enc.SP().Atom(c)
	}
	s.enc.CRLF()
	return nil
}
