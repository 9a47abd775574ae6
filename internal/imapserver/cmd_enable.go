package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
)

// enableable maps the capabilities ENABLE accepts (upper case, as the
// parser gives them) to the spelling used in the ENABLED response.
var enableable = map[string]string{
	"IMAP4REV2":   "IMAP4rev2",   // RFC 9051 6.3.1
	"UTF8=ACCEPT": "UTF8=ACCEPT", // RFC 6855 3
	"CONDSTORE":   "CONDSTORE",   // RFC 7162 3.1
	"QRESYNC":     "QRESYNC",     // RFC 7162 3.2.3
}

// cmdEnable enables extensions (RFC 5161). Capabilities we do not know or
// do not support are ignored (RFC 5161 3.1: "the server MUST ignore ...
// unrecognized extensions"); the ENABLED response lists only those this
// command newly enabled, and is sent even when empty.
func (s *session) cmdEnable(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.EnableCmd)
	s.enc.Untagged().Atom("ENABLED")
	for _, c := range args.Caps {
		name, ok := enableable[c]
		if !ok || s.enabled[c] {
			continue
		}
		if c == "IMAP4REV2" && !s.implemented("IMAP4rev2") {
			continue
		}
		if (c == "UTF8=ACCEPT" || c == "CONDSTORE" || c == "QRESYNC") && !s.implemented(name) {
			continue
		}
		s.enabled[c] = true
		if c == "QRESYNC" {
			// RFC 7162 3.2.3: "ENABLE QRESYNC" also enables CONDSTORE;
			// the ENABLED response names only QRESYNC (as Dovecot).
			s.enabled["CONDSTORE"] = true
		}
		s.enc.SP().Atom(name)
	}
	s.enc.CRLF()
	// RFC 9051 appendix E and RFC 6855 3: mailbox names are UTF-8 from
	// now on, in both directions. The response above was written in the
	// old mode (it contains no mailbox name).
	if s.enabled["IMAP4REV2"] || s.enabled["UTF8=ACCEPT"] {
		s.dec.SetUTF8(true)
		s.enc.SetUTF8(true)
	}
	s.rev2 = s.enabled["IMAP4REV2"]
	return nil
}
