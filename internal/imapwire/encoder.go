package imapwire

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxQuoted is the longest string the Encoder sends quoted; longer ones
// are sent as literals.
const maxQuoted = 1024

// Encoder writes IMAP response grammar elements to a bufio.Writer. Its
// error is sticky: after the first write error every method does nothing,
// and only Flush and Err return the error. Methods return the Encoder for
// chaining: e.Untagged().Number(3).SP().Atom("EXISTS").CRLF().
// It does not flush by itself except when the bufio.Writer's buffer fills.
type Encoder struct {
	w    *bufio.Writer
	err  error
	utf8 bool
	num  [20]byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w *bufio.Writer) *Encoder { return &Encoder{w: w} }

// SetUTF8 switches UTF-8 mode (after ENABLE IMAP4rev2 or UTF8=ACCEPT):
// mailbox names are sent as UTF-8 and strings may be quoted with UTF-8.
func (e *Encoder) SetUTF8(on bool) { e.utf8 = on }

// Err returns the first write error.
func (e *Encoder) Err() error { return e.err }

// Flush flushes the bufio.Writer and returns the first error.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	e.err = e.w.Flush()
	return e.err
}

func (e *Encoder) str(s string) *Encoder {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
	return e
}

func (e *Encoder) byte1(b byte) *Encoder {
	if e.err == nil {
		e.err = e.w.WriteByte(b)
	}
	return e
}

// Untagged writes "* ".
func (e *Encoder) Untagged() *Encoder { return e.str("* ") }

// Tagged writes the tag and a space.
func (e *Encoder) Tagged(tag string) *Encoder { return e.str(tag).byte1(' ') }

// Continuation writes "+ text" (or "+" alone when text is empty) and
// CRLF. Text must not contain CR or LF.
func (e *Encoder) Continuation(text string) *Encoder {
	e.byte1('+')
	if text != "" {
		e.byte1(' ').str(sanitizeText(text))
	}
	return e.CRLF()
}

// Text writes resp-text (free text up to the end of the line). CR, LF
// and NUL are replaced by spaces.
func (e *Encoder) Text(s string) *Encoder { return e.str(sanitizeText(s)) }

func sanitizeText(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// Atom writes s as is. The caller guarantees it is an atom (or other
// bare token such as "BODY[1.2]").
func (e *Encoder) Atom(s string) *Encoder { return e.str(s) }

// Raw writes precomputed wire text (a cached ENVELOPE or BODYSTRUCTURE).
func (e *Encoder) Raw(s string) *Encoder { return e.str(s) }

// RawBytes writes precomputed wire bytes.
func (e *Encoder) RawBytes(b []byte) *Encoder {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
	return e
}

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.byte1(' ') }

// Special writes one byte, such as '[' or ']'.
func (e *Encoder) Special(b byte) *Encoder { return e.byte1(b) }

// CRLF ends a response line.
func (e *Encoder) CRLF() *Encoder { return e.str("\r\n") }

// Number writes a 32-bit number.
func (e *Encoder) Number(n uint32) *Encoder { return e.Number64(uint64(n)) }

// Number64 writes a 64-bit number.
func (e *Encoder) Number64(n uint64) *Encoder {
	if e.err == nil {
		_, e.err = e.w.Write(strconv.AppendUint(e.num[:0], n, 10))
	}
	return e
}

// NIL writes NIL.
func (e *Encoder) NIL() *Encoder { return e.str("NIL") }

// quotable reports whether s can be sent as a quoted string.
func (e *Encoder) quotable(s string) bool {
	if len(s) > maxQuoted {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
		if c >= 0x80 && !e.utf8 {
			return false
		}
	}
	return !e.utf8 || utf8.ValidString(s)
}

// Quoted writes s as a quoted string, escaping DQUOTE and backslash. The
// caller guarantees s has no CR, LF or NUL (use String otherwise).
func (e *Encoder) Quoted(s string) *Encoder {
	e.byte1('"')
	for {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		e.str(s[:i]).byte1('\\').byte1(s[i])
		s = s[i+1:]
	}
	return e.str(s).byte1('"')
}

// String writes s quoted when possible, and as a literal when it contains
// CR, LF, NUL, 8-bit bytes not allowed in the current mode (all 8-bit in
// IMAP4rev1 mode, invalid UTF-8 in UTF-8 mode), or is longer than 1 KiB.
func (e *Encoder) String(s string) *Encoder {
	if e.quotable(s) {
		return e.Quoted(s)
	}
	return e.Literal(int64(len(s)), strings.NewReader(s))
}

// NString writes NIL for nil and String(*s) otherwise.
func (e *Encoder) NString(s *string) *Encoder {
	if s == nil {
		return e.NIL()
	}
	return e.String(*s)
}

// errShortLiteral is the sticky error when a literal's reader ends early.
var errShortLiteral = errors.New("imapwire: literal body shorter than its announced size")

// Literal writes "{size}" CRLF and then exactly size bytes from r,
// streamed. A reader that ends early is a sticky error (the stream cannot
// be repaired; the connection must be closed).
func (e *Encoder) Literal(size int64, r io.Reader) *Encoder {
	e.byte1('{').Number64(uint64(size)).str("}\r\n")
	return e.literalBody(size, r)
}

// Literal8 writes "~{size}" CRLF and size bytes from r (RFC 3516 BINARY).
func (e *Encoder) Literal8(size int64, r io.Reader) *Encoder {
	e.str("~{").Number64(uint64(size)).str("}\r\n")
	return e.literalBody(size, r)
}

func (e *Encoder) literalBody(size int64, r io.Reader) *Encoder {
	if e.err != nil {
		return e
	}
	n, err := io.CopyN(e.w, r, size)
	if err != nil {
		if err == io.EOF || n < size && err == nil {
			err = errShortLiteral
		}
		e.err = err
	}
	return e
}

// Mailbox writes a mailbox name: "INBOX" for any case of INBOX, otherwise
// modified UTF-7 encoded unless in UTF-8 mode, as an atom when every byte is
// an ATOM-CHAR (as Dovecot writes `* LIST (\Sent) "/" Sent`), else as a
// quoted string (or a literal when it cannot be quoted). "NIL" in any case
// is quoted so that no client can read it as nil.
func (e *Encoder) Mailbox(name string) *Encoder {
	if strings.EqualFold(name, "INBOX") {
		return e.str("INBOX")
	}
	if !e.utf8 {
		name = EncodeUTF7(name)
	}
	if isAtom(name) && !strings.EqualFold(name, "NIL") {
		return e.str(name)
	}
	return e.String(name)
}

func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsAtomChar(s[i]) {
			return false
		}
	}
	return true
}

// BeginList writes "(".
func (e *Encoder) BeginList() *Encoder { return e.byte1('(') }

// EndList writes ")".
func (e *Encoder) EndList() *Encoder { return e.byte1(')') }

// NumSet writes a sequence set; 0 is "*". A Start equal to Stop is
// written as one number.
func (e *Encoder) NumSet(ranges []NumRange) *Encoder {
	for i, r := range ranges {
		if i > 0 {
			e.byte1(',')
		}
		e.seqNum(r.Start)
		if r.Stop != r.Start {
			e.byte1(':').seqNum(r.Stop)
		}
	}
	return e
}

func (e *Encoder) seqNum(n uint32) *Encoder {
	if n == 0 {
		return e.byte1('*')
	}
	return e.Number(n)
}

// Flags writes a parenthesized flag list.
func (e *Encoder) Flags(flags []string) *Encoder {
	e.byte1('(')
	for i, f := range flags {
		if i > 0 {
			e.byte1(' ')
		}
		e.str(f)
	}
	return e.byte1(')')
}
