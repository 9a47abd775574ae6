package pop3server

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
)

// MsgNum is a POP3 message number (RFC 1939 section 3): 1..n within one
// session's snapshot of the maildrop. It is not a mailstore.UID and not an
// IMAP sequence number; session.uidAt is the only conversion.
type MsgNum uint32

// Command is one parsed POP3 command line. Which fields are set depends on
// Verb; the parser fills in exactly what the command's grammar defines.
type Command struct {
	// Verb is the command keyword in upper case ("RETR").
	Verb string

	// Msg is the message argument of LIST, UIDL, RETR, DELE and TOP. The
	// parser checks syntax only: whether the number exists is known to the
	// session.
	Msg MsgNum
	// HasMsg is false when LIST or UIDL have no argument.
	HasMsg bool
	// Lines is TOP's line count.
	Lines uint64

	// Arg is USER's name, PASS's password (everything after "PASS ",
	// spaces included: RFC 1939 section 7 lets passwords contain spaces),
	// APOP's arguments, or AUTH's mechanism in upper case.
	Arg string

	// InitialResponse is AUTH's decoded initial response (RFC 5034 section
	// 4): nil when absent, empty but non-nil for "=".
	InitialResponse []byte
}

// ParseError is a command line the grammar rejects. Msg is the complete
// text after "-ERR " and is safe to send: it never echoes raw input bytes.
type ParseError struct {
	Msg string
	// Unknown is set when the verb itself is not a POP3 command.
	Unknown bool
	// Auth is set when an AUTH command's initial response is malformed; it
	// counts as a failed authentication attempt.
	Auth bool
}

func (e *ParseError) Error() string { return e.Msg }

// maxEcho bounds how much of a client's argument is echoed in an error.
const maxEcho = 40

// ParseCommand parses one command line without its CRLF. It never touches
// storage and never panics; any byte sequence yields a Command or a
// *ParseError.
//
// RFC 1939 section 3: keywords are case-insensitive and separated from
// arguments by a single space. Like Dovecot we tolerate extra spaces before
// numeric arguments and ignore arguments of commands that take none.
func ParseCommand(line []byte) (*Command, error) {
	if bytes.IndexByte(line, 0) >= 0 {
		return nil, &ParseError{Msg: "Invalid command: NUL byte in line."}
	}
	verb, rest, _ := bytes.Cut(line, []byte{' '})
	if len(verb) == 0 {
		return nil, &ParseError{Msg: "Unknown command.", Unknown: true}
	}
	cmd := &Command{Verb: upperASCII(verb)}
	switch cmd.Verb {
	case "CAPA", "NOOP", "QUIT", "STAT", "RSET", "STLS":
		// RFC 1939/2449/2595: no arguments; extra text is ignored.
	case "LIST", "UIDL":
		args := trimSpaces(rest)
		if len(args) == 0 {
			break
		}
		n, tail, err := parseMsgNum(args)
		if err != nil {
			return nil, err
		}
		if len(tail) != 0 {
			return nil, noise("message number", tail)
		}
		cmd.Msg, cmd.HasMsg = n, true
	case "RETR", "DELE":
		n, tail, err := parseMsgNum(trimSpaces(rest))
		if err != nil {
			return nil, err
		}
		if len(tail) != 0 {
			return nil, noise("message number", tail)
		}
		cmd.Msg, cmd.HasMsg = n, true
	case "TOP":
		n, tail, err := parseMsgNum(trimSpaces(rest))
		if err != nil {
			return nil, err
		}
		if len(tail) == 0 {
			return nil, &ParseError{Msg: "Missing line count."}
		}
		if tail[0] != ' ' {
			return nil, noise("message number", tail)
		}
		lines, tail, err := parseLines(trimSpaces(tail))
		if err != nil {
			return nil, err
		}
		if len(tail) != 0 {
			return nil, noise("size", tail)
		}
		cmd.Msg, cmd.HasMsg, cmd.Lines = n, true, lines
	case "USER":
		if len(rest) == 0 {
			return nil, &ParseError{Msg: "No username given."}
		}
		cmd.Arg = string(rest)
	case "PASS", "APOP":
		cmd.Arg = string(rest)
	case "AUTH":
		mech, ir, hasIR := bytes.Cut(trimSpaces(rest), []byte{' '})
		if len(mech) == 0 {
			break // RFC 5034 has no bare AUTH; Dovecot lists mechanisms (Outlook).
		}
		cmd.Arg = upperASCII(mech)
		if !hasIR {
			break
		}
		// RFC 5034 section 4: "=" is a zero-length initial response.
		if len(ir) == 1 && ir[0] == '=' {
			cmd.InitialResponse = []byte{}
			break
		}
		dec, err := decodeBase64(ir)
		if err != nil {
			return nil, &ParseError{Msg: "[AUTH] Invalid base64 data in initial response.", Auth: true}
		}
		cmd.InitialResponse = dec
	default:
		return nil, &ParseError{Msg: "Unknown command: " + sanitize([]byte(cmd.Verb)), Unknown: true}
	}
	return cmd, nil
}

// decodeBase64 decodes strict standard base64 (RFC 4648 section 4), the
// encoding RFC 5034 requires. An empty input is invalid: empty responses
// are spelled "=" in an initial response and "" only on continuation lines.
func decodeBase64(b []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Strict().Decode(out, b)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, base64.CorruptInputError(0)
	}
	return out[:n], nil
}

// parseMsgNum parses a message number at the start of b, as Dovecot's
// get_msgnum does, and returns the unparsed tail.
func parseMsgNum(b []byte) (MsgNum, []byte, error) {
	digits := leadingDigits(b)
	if digits == 0 {
		return 0, nil, &ParseError{Msg: "Invalid message number: " + sanitize(b)}
	}
	n, err := strconv.ParseUint(string(b[:digits]), 10, 32)
	if err != nil {
		return 0, nil, &ParseError{Msg: "Message number too large: " + sanitize(b[:digits])}
	}
	return MsgNum(n), b[digits:], nil
}

// parseLines parses TOP's non-negative line count (RFC 1939 section 7).
func parseLines(b []byte) (uint64, []byte, error) {
	digits := leadingDigits(b)
	if digits == 0 {
		return 0, nil, &ParseError{Msg: "Invalid size: " + sanitize(b)}
	}
	n, err := strconv.ParseUint(string(b[:digits]), 10, 64)
	if err != nil {
		return 0, nil, &ParseError{Msg: "Size too large: " + sanitize(b[:digits])}
	}
	return n, b[digits:], nil
}

func noise(what string, tail []byte) error {
	return &ParseError{Msg: "Noise after " + what + ": " + sanitize(tail)}
}

func leadingDigits(b []byte) int {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

func upperASCII(b []byte) string {
	s := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		s[i] = c
	}
	return string(s)
}

// sanitize returns client-supplied bytes in a form safe to echo in a
// response line: printable ASCII only (others become '?'), at most maxEcho
// characters.
func sanitize(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i == maxEcho {
			sb.WriteString("...")
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
