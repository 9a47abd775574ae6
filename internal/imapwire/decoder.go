// Package imapwire is the IMAP lexer: a streaming Decoder of command
// grammar elements (atoms, strings, literals, lists, sequence sets, dates)
// and an Encoder of response elements, plus modified UTF-7 (RFC 3501
// 5.1.3). It is pure: no storage, no session state beyond the UTF-8 mode.
//
// Decoder invariants:
//   - Methods named after a grammar element return false, reading nothing,
//     when another element is next; Expect* variants also record a
//     *SyntaxError. After the first recorded error every method returns
//     false and reads nothing; Err reports the error.
//   - A synchronizing literal's "+" continuation is sent (DecoderOptions.
//     Continue) only after DecoderOptions.CheckLiteral accepted its size.
//   - DiscardCommand consumes the rest of a failed command so that the next
//     command starts at the right byte, skipping the bytes of announced
//     non-synchronizing literals without buffering them; it never reads
//     past a refused or unanswered synchronizing literal, for which the
//     client waits.
package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxLine is the default DecoderOptions.MaxLine.
const DefaultMaxLine = 64 << 10

// DefaultMaxStringLiterals is the default DecoderOptions.MaxStringLiterals.
const DefaultMaxStringLiterals = 1 << 20

// DecoderOptions configures a Decoder.
type DecoderOptions struct {
	// Continue is called when a synchronizing literal {n} has been accepted
	// by CheckLiteral and before its bytes are read: it writes
	// "+ Ready for literal data" (or similar) and flushes. Required.
	Continue func() error
	// CheckLiteral vets each literal's size before any of its bytes are
	// read (nonSync: {n+} LITERAL+ / {n-} LITERAL-, RFC 7888; binary: ~{n}
	// literal8). A non-nil error refuses it: for a synchronizing literal
	// nothing more is read (the client never got "+") and the rest of the
	// line is not read either, since the client waits; for a
	// non-synchronizing literal DiscardCommand discards exactly n bytes
	// (without buffering them) and the rest of the command line(s), keeping
	// the stream in sync. nil: accept all.
	CheckLiteral func(size int64, nonSync, binary bool) error
	// MaxLine is the maximum number of bytes of command text outside
	// literals, per command (default DefaultMaxLine). Longer: the error is
	// ErrLineTooLong and DiscardCommand discards to the end of the command.
	MaxLine int
	// MaxStringLiterals is the maximum total size of the literals a command
	// may send where the decoder buffers them in memory (String, AString,
	// NString, Mailbox ...; not LiteralBody, which streams). Default
	// DefaultMaxStringLiterals. Exceeding it refuses the literal like
	// CheckLiteral with ErrLiteralTooLong.
	MaxStringLiterals int64
}

// ErrLineTooLong is the error of a command with more than MaxLine bytes of
// text outside literals.
var ErrLineTooLong = errors.New("command line too long")

// ErrLiteralTooLong refuses a literal the decoder would have to buffer in
// memory beyond MaxStringLiterals.
var ErrLiteralTooLong = errors.New("literal too long")

// SyntaxError is a grammar error found by the decoder. Msg is safe to send
// to the client after "BAD ": it quotes at most a short, sanitized excerpt
// of client bytes.
type SyntaxError struct {
	Msg string
}

func (e *SyntaxError) Error() string { return e.Msg }

// LiteralError is recorded when CheckLiteral (or a LiteralBody check, or
// MaxStringLiterals) refused a literal. Err is the refusing error.
type LiteralError struct {
	Size    int64
	NonSync bool // {n+} or {n-}: its bytes follow regardless and are discarded
	Binary  bool // ~{n}
	Err     error
}

func (e *LiteralError) Error() string {
	return fmt.Sprintf("literal of %d bytes refused: %v", e.Size, e.Err)
}

func (e *LiteralError) Unwrap() error { return e.Err }

// IOError wraps an error of the underlying reader (io.EOF included, as
// io.EOF when nothing of a command had been read and io.ErrUnexpectedEOF
// otherwise), or of DecoderOptions.Continue. The connection is unusable.
type IOError struct{ Err error }

func (e *IOError) Error() string { return "read command: " + e.Err.Error() }
func (e *IOError) Unwrap() error { return e.Err }

// Decoder reads IMAP command grammar elements from a bufio.Reader. It is
// not safe for concurrent use.
type Decoder struct {
	r    *bufio.Reader
	opts DecoderOptions
	utf8 bool

	err     error // first error of the current command (sticky for *IOError)
	stopped bool  // nothing more of this command may be read
	skip    int64 // refused non-synchronizing literal bytes to discard
	started bool  // a byte of the current command has been read
	n       int   // bytes of text outside literals in the current command
	strLits int64 // bytes of buffered literals in the current command

	buf []byte // scratch
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r *bufio.Reader, opts DecoderOptions) *Decoder {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.MaxStringLiterals <= 0 {
		opts.MaxStringLiterals = DefaultMaxStringLiterals
	}
	if opts.Continue == nil {
		opts.Continue = func() error { return errors.New("imapwire: DecoderOptions.Continue not set") }
	}
	return &Decoder{r: r, opts: opts}
}

// SetUTF8 switches UTF-8 mode (after ENABLE IMAP4rev2 or UTF8=ACCEPT, RFC
// 9051 / RFC 6855): mailbox names are UTF-8 instead of modified UTF-7.
func (d *Decoder) SetUTF8(on bool) { d.utf8 = on }

// UTF8 reports whether UTF-8 mode is on.
func (d *Decoder) UTF8() bool { return d.utf8 }

// Err returns the first error recorded for the current command, or nil.
func (d *Decoder) Err() error { return d.err }

// Reset prepares for the next command: it clears the recorded error
// (unless it was an I/O error, which stays) and the per-command counters.
// The caller must have consumed the previous command (CRLF or
// DiscardCommand) first.
func (d *Decoder) Reset() {
	var ioe *IOError
	if errors.As(d.err, &ioe) {
		return
	}
	d.err, d.stopped, d.skip, d.started, d.n, d.strLits = nil, false, 0, false, 0, 0
}

// Buffered returns the number of bytes that can be read without blocking.
func (d *Decoder) Buffered() int { return d.r.Buffered() }

// LineBuffered reports whether a whole line (up to LF) can be read without
// blocking. A server that answers pipelined commands in one write must
// flush when it is not so: a client may send part of its next command and
// wait for the answers to the previous ones before sending the rest (and
// a client compressing with Z_PARTIAL_FLUSH holds back the last bits of
// what it sent until it sends more).
func (d *Decoder) LineBuffered() bool {
	n := d.r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := d.r.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

func (d *Decoder) setErr(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Errorf records a syntax error (for grammar layers above the decoder) and
// returns false.
func (d *Decoder) Errorf(format string, args ...any) bool {
	d.setErr(&SyntaxError{Msg: fmt.Sprintf(format, args...)})
	return false
}

func (d *Decoder) ioErr(err error) {
	if err == io.EOF && d.started {
		err = io.ErrUnexpectedEOF
	}
	d.err = &IOError{Err: err} // replaces any syntax error: the stream is gone
	d.stopped = true
}

// peek returns the next byte without consuming it.
func (d *Decoder) peek() (byte, bool) {
	if d.err != nil {
		return 0, false
	}
	b, err := d.r.Peek(1)
	if err != nil {
		d.ioErr(err)
		return 0, false
	}
	return b[0], true
}

// consume consumes the byte just peeked.
func (d *Decoder) consume() bool {
	d.r.ReadByte()
	d.started = true
	d.n++
	if d.n > d.opts.MaxLine {
		d.setErr(ErrLineTooLong)
		return false
	}
	return true
}

// acceptByte consumes the next byte if it is c.
func (d *Decoder) acceptByte(c byte) bool {
	b, ok := d.peek()
	if !ok || b != c {
		return false
	}
	return d.consume()
}

// Special consumes the next byte if it is c and reports whether it did.
func (d *Decoder) Special(c byte) bool { return d.acceptByte(c) }

// ExpectSpecial is Special that records an error.
func (d *Decoder) ExpectSpecial(c byte) bool {
	if d.acceptByte(c) {
		return true
	}
	return d.expected(fmt.Sprintf("%q", string(c)))
}

// Peek reports whether the next byte is c, without consuming it.
func (d *Decoder) Peek(c byte) bool {
	b, ok := d.peek()
	return ok && b == c
}

// PeekByte returns the next byte without consuming it; false at an error.
func (d *Decoder) PeekByte() (byte, bool) { return d.peek() }

// expected records "expected X" with what was found instead.
func (d *Decoder) expected(what string) bool {
	if d.err != nil {
		return false
	}
	b, ok := d.peek()
	if !ok {
		return false
	}
	var got string
	switch {
	case b == '\r' || b == '\n':
		got = "end of line"
	case b == ' ':
		got = "SP"
	case b < 0x20 || b == 0x7f:
		got = fmt.Sprintf("control character 0x%02x", b)
	case b >= 0x80:
		got = "8-bit character"
	default:
		got = fmt.Sprintf("%q", string(b))
	}
	d.setErr(&SyntaxError{Msg: "expected " + what + ", got " + got})
	return false
}

// SP consumes one space.
func (d *Decoder) SP() bool { return d.acceptByte(' ') }

// ExpectSP consumes one space or records an error.
func (d *Decoder) ExpectSP() bool {
	if d.SP() {
		return true
	}
	return d.expected("SP")
}

// CRLF consumes the end of a command line (CRLF; a bare LF is tolerated)
// and ends the command: nothing more of it will be read.
func (d *Decoder) CRLF() bool {
	b, ok := d.peek()
	if !ok {
		return false
	}
	if b == '\r' {
		d.consume()
		b, ok = d.peek()
		if !ok {
			return false
		}
		if b != '\n' {
			return d.Errorf("expected LF after CR")
		}
	}
	if b != '\n' {
		return false
	}
	d.r.ReadByte()
	d.stopped = true
	return true
}

// ExpectCRLF is CRLF that records an error.
func (d *Decoder) ExpectCRLF() bool {
	if d.CRLF() {
		return true
	}
	return d.expected("end of line")
}

// Func reads 1 or more bytes for which valid is true into *ptr.
func (d *Decoder) Func(ptr *string, valid func(byte) bool) bool {
	d.buf = d.buf[:0]
	for d.err == nil {
		if _, ok := d.peek(); !ok {
			break
		}
		// Scan what is buffered, without waiting for more than one byte.
		b, _ := d.r.Peek(d.r.Buffered())
		i := 0
		for i < len(b) && valid(b[i]) {
			i++
		}
		if d.n+i > d.opts.MaxLine {
			i = d.opts.MaxLine - d.n + 1
			d.r.Discard(i)
			d.n += i
			d.started = true
			d.setErr(ErrLineTooLong)
			return false
		}
		d.buf = append(d.buf, b[:i]...)
		d.r.Discard(i)
		d.n += i
		if i > 0 {
			d.started = true
		}
		if i < len(b) {
			break
		}
	}
	if len(d.buf) == 0 || d.err != nil {
		return false
	}
	*ptr = string(d.buf)
	return true
}

// IsAtomChar reports whether b is an ATOM-CHAR (RFC 9051 9): any CHAR
// except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
func IsAtomChar(b byte) bool {
	switch b {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return b > 0x20 && b < 0x7f
}

// IsAStringChar reports whether b is an ASTRING-CHAR: ATOM-CHAR or "]".
func IsAStringChar(b byte) bool { return IsAtomChar(b) || b == ']' }

// IsListChar reports whether b is a list-char: ATOM-CHAR, "%", "*" or "]".
func IsListChar(b byte) bool { return IsAStringChar(b) || b == '%' || b == '*' }

// IsTagChar reports whether b may appear in a tag: ASTRING-CHAR except "+".
func IsTagChar(b byte) bool { return IsAStringChar(b) && b != '+' }

// Atom reads an atom (1*ATOM-CHAR).
func (d *Decoder) Atom(ptr *string) bool { return d.Func(ptr, IsAtomChar) }

// ExpectAtom is Atom that records an error.
func (d *Decoder) ExpectAtom(ptr *string) bool {
	if d.Atom(ptr) {
		return true
	}
	return d.expected("atom")
}

// Number reads a number (1*DIGIT) that fits in 32 bits.
func (d *Decoder) Number(ptr *uint32) bool {
	var v uint64
	if !d.number(&v, 1<<32-1) {
		return false
	}
	*ptr = uint32(v)
	return true
}

// ExpectNumber is Number that records an error.
func (d *Decoder) ExpectNumber(ptr *uint32) bool {
	if d.Number(ptr) {
		return true
	}
	return d.expected("number")
}

// ExpectNZNumber reads a non-zero 32-bit number or records an error.
func (d *Decoder) ExpectNZNumber(ptr *uint32) bool {
	if !d.ExpectNumber(ptr) {
		return false
	}
	if *ptr == 0 {
		return d.Errorf("expected non-zero number")
	}
	return true
}

// Number64 reads a number that fits in 63 bits (number64 of RFC 9051 and
// mod-sequence-value of RFC 7162).
func (d *Decoder) Number64(ptr *uint64) bool {
	return d.number(ptr, 1<<63-1)
}

// ExpectNumber64 is Number64 that records an error.
func (d *Decoder) ExpectNumber64(ptr *uint64) bool {
	if d.Number64(ptr) {
		return true
	}
	return d.expected("number")
}

func (d *Decoder) number(ptr *uint64, max uint64) bool {
	var v uint64
	digits := 0
	for {
		b, ok := d.peek()
		if !ok || b < '0' || b > '9' {
			break
		}
		if !d.consume() {
			return false
		}
		digits++
		if v > (max-uint64(b-'0'))/10 {
			// Consume the remaining digits so the message is about the number.
			for {
				b, ok := d.peek()
				if !ok || b < '0' || b > '9' || !d.consume() {
					break
				}
			}
			return d.Errorf("number out of range")
		}
		v = v*10 + uint64(b-'0')
	}
	if digits == 0 || d.err != nil {
		return false
	}
	*ptr = v
	return true
}

// Quoted reads a quoted string. Escapes are only allowed before DQUOTE and
// backslash; CR, LF and NUL are never allowed; 8-bit bytes must be valid
// UTF-8 (RFC 9051 QUOTED-CHAR includes UTF8-2/3/4; accepted in IMAP4rev1
// too, as Dovecot does, because clients send them with CHARSET UTF-8).
func (d *Decoder) Quoted(ptr *string) bool {
	if !d.acceptByte('"') {
		return false
	}
	d.buf = d.buf[:0]
	for {
		b, ok := d.peek()
		if !ok {
			return false
		}
		switch {
		case b == '"':
			if !d.consume() {
				return false
			}
			if !utf8.Valid(d.buf) {
				return d.Errorf("invalid UTF-8 in quoted string")
			}
			*ptr = string(d.buf)
			return true
		case b == '\\':
			if !d.consume() {
				return false
			}
			b, ok = d.peek()
			if !ok {
				return false
			}
			if b != '"' && b != '\\' {
				return d.Errorf("invalid escape in quoted string")
			}
		case b == '\r' || b == '\n':
			return d.Errorf("unterminated quoted string")
		case b == 0 || b < 0x20 && b != '\t' || b == 0x7f:
			// TEXT-CHAR is any CHAR except CR and LF; CTLs other than NUL
			// are technically allowed, but no client sends them; refuse all
			// but TAB to keep them out of names and logs.
			return d.Errorf("control character in quoted string")
		}
		if !d.consume() {
			return false
		}
		d.buf = append(d.buf, b)
	}
}

// literalHeader reads "{n}" "{n+}" "{n-}" (or "~{n}"... when binary is
// allowed) and CRLF, vets the size (CheckLiteral, then extra) and sends
// the continuation for a synchronizing literal. ok is false when no
// literal is next or on error.
func (d *Decoder) literalHeader(allowBinary bool, extra func(size int64, nonSync, binary bool) error) (size int64, nonSync, binary, ok bool) {
	b, ok := d.peek()
	if !ok {
		return 0, false, false, false
	}
	if b == '~' {
		if !allowBinary {
			return 0, false, false, false
		}
		binary = true
		if !d.consume() {
			return 0, false, false, false
		}
		if !d.ExpectSpecial('{') {
			return 0, false, false, false
		}
	} else if !d.acceptByte('{') {
		return 0, false, false, false
	}
	var n uint64
	if !d.ExpectNumber64(&n) {
		return 0, false, false, false
	}
	size = int64(n)
	if d.acceptByte('+') || d.acceptByte('-') {
		nonSync = true
	}
	if !d.ExpectSpecial('}') {
		return 0, false, false, false
	}
	if !d.CRLF() {
		d.expected("CRLF after literal size")
		return 0, false, false, false
	}
	// The literal's CRLF does not end the command: more of it follows.
	d.stopped = false
	var err error
	if d.opts.CheckLiteral != nil {
		err = d.opts.CheckLiteral(size, nonSync, binary)
	}
	if err == nil && extra != nil {
		err = extra(size, nonSync, binary)
	}
	if err != nil {
		d.setErr(&LiteralError{Size: size, NonSync: nonSync, Binary: binary, Err: err})
		if nonSync {
			d.skip = size
		} else {
			d.stopped = true // the client waits for "+" that never comes
		}
		return 0, false, false, false
	}
	if !nonSync {
		if err := d.opts.Continue(); err != nil {
			d.ioErr(err)
			return 0, false, false, false
		}
	}
	return size, nonSync, binary, true
}

// literalString reads a literal into memory.
func (d *Decoder) literalString(ptr *string, allowBinary bool) bool {
	budget := func(size int64, nonSync, binary bool) error {
		if size > d.opts.MaxStringLiterals-d.strLits {
			return ErrLiteralTooLong
		}
		return nil
	}
	size, _, binary, ok := d.literalHeader(allowBinary, budget)
	if !ok {
		return false
	}
	d.strLits += size
	buf := make([]byte, size)
	if _, err := io.ReadFull(d.r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		d.ioErr(err)
		return false
	}
	if !binary {
		for _, c := range buf {
			if c == 0 {
				// literal = "{" number "}" CRLF *CHAR8; CHAR8 excludes NUL.
				return d.Errorf("NUL in literal")
			}
		}
	}
	*ptr = string(buf)
	return true
}

// String reads a string: quoted or literal ({n}, {n+}, {n-}).
func (d *Decoder) String(ptr *string) bool {
	b, ok := d.peek()
	if !ok {
		return false
	}
	switch b {
	case '"':
		return d.Quoted(ptr)
	case '{':
		return d.literalString(ptr, false)
	}
	return false
}

// ExpectString is String that records an error.
func (d *Decoder) ExpectString(ptr *string) bool {
	if d.String(ptr) {
		return true
	}
	return d.expected("string")
}

// String8 reads a string or a literal8 (~{n}, RFC 3516) into memory;
// binary reports a literal8.
func (d *Decoder) String8(ptr *string) bool {
	if d.Peek('~') {
		return d.literalString(ptr, true)
	}
	return d.String(ptr)
}

// AString reads an astring: 1*ASTRING-CHAR or a string.
func (d *Decoder) AString(ptr *string) bool {
	if d.String(ptr) {
		return true
	}
	if d.err != nil {
		return false
	}
	return d.Func(ptr, IsAStringChar)
}

// ExpectAString is AString that records an error.
func (d *Decoder) ExpectAString(ptr *string) bool {
	if d.AString(ptr) {
		return true
	}
	return d.expected("astring")
}

// NString reads NIL (ok with isNil true) or a string.
func (d *Decoder) NString(ptr *string, isNil *bool) bool {
	if d.String(ptr) {
		*isNil = false
		return true
	}
	if d.err != nil {
		return false
	}
	if d.nilAtom() {
		*isNil = true
		*ptr = ""
		return true
	}
	return false
}

// ExpectNString is NString that records an error.
func (d *Decoder) ExpectNString(ptr *string, isNil *bool) bool {
	if d.NString(ptr, isNil) {
		return true
	}
	return d.expected("string or NIL")
}

// nilAtom consumes "NIL" (case-insensitive) when it is a whole atom.
func (d *Decoder) nilAtom() bool {
	if !d.PeekString("NIL") {
		return false
	}
	if b, _ := d.r.Peek(4); len(b) == 4 && IsAStringChar(b[3]) {
		return false
	}
	for range 3 {
		if !d.consume() {
			return false
		}
	}
	return true
}

// ExpectNIL consumes the atom NIL or records an error.
func (d *Decoder) ExpectNIL() bool {
	if d.nilAtom() {
		return true
	}
	return d.expected("NIL")
}

// Mailbox reads a mailbox name (astring), decoded from modified UTF-7
// unless in UTF-8 mode (where it must be valid UTF-8). "INBOX" in any case
// is returned as "INBOX" (RFC 9051 5.1).
func (d *Decoder) Mailbox(ptr *string) bool {
	var raw string
	if !d.AString(&raw) {
		return false
	}
	return d.mailboxName(ptr, raw)
}

// ExpectMailbox is Mailbox that records an error.
func (d *Decoder) ExpectMailbox(ptr *string) bool {
	if d.Mailbox(ptr) {
		return true
	}
	return d.expected("mailbox name")
}

func (d *Decoder) mailboxName(ptr *string, raw string) bool {
	if strings.EqualFold(raw, "INBOX") {
		*ptr = "INBOX"
		return true
	}
	name, ok := d.decodeName(raw)
	if !ok {
		return false
	}
	*ptr = name
	return true
}

func (d *Decoder) decodeName(raw string) (string, bool) {
	// Modified UTF-7 is pure ASCII, so a name with 8-bit bytes can only be
	// meant as UTF-8. Accept it before ENABLE too: clients that see
	// IMAP4rev2 advertised (go-imap v2) send UTF-8 names without enabling.
	if d.utf8 || hasHighBit(raw) {
		if !utf8.ValidString(raw) {
			d.Errorf("invalid UTF-8 in mailbox name")
			return "", false
		}
		if strings.ContainsAny(raw, "\x00\r\n") {
			d.Errorf("control character in mailbox name")
			return "", false
		}
		return raw, true
	}
	name, err := DecodeUTF7(raw)
	if err != nil {
		d.setErr(&SyntaxError{Msg: err.Error()})
		return "", false
	}
	return name, true
}

// ListMailbox reads a list-mailbox (RFC 9051 6.3.9): 1*list-char (which
// allows the wildcards "%" and "*") or a string, decoded like Mailbox but
// without INBOX canonicalization.
func (d *Decoder) ListMailbox(ptr *string) bool {
	var raw string
	if !d.String(&raw) {
		if d.err != nil || !d.Func(&raw, IsListChar) {
			return false
		}
	}
	name, ok := d.decodeName(raw)
	if !ok {
		return false
	}
	*ptr = name
	return true
}

// ExpectListMailbox is ListMailbox that records an error.
func (d *Decoder) ExpectListMailbox(ptr *string) bool {
	if d.ListMailbox(ptr) {
		return true
	}
	return d.expected("mailbox pattern")
}

// List reads a parenthesized list "(" [elem *(SP elem)] ")", calling f for
// each element; f reads one element. Empty lists are accepted.
func (d *Decoder) List(f func() error) (isList bool, err error) {
	if !d.acceptByte('(') {
		return false, d.err
	}
	if d.acceptByte(')') {
		return true, nil
	}
	if d.err != nil {
		return true, d.err
	}
	for {
		if err := f(); err != nil {
			d.setErr(err)
			return true, d.err
		}
		if d.err != nil {
			return true, d.err
		}
		if d.acceptByte(')') {
			return true, nil
		}
		if !d.ExpectSP() {
			if d.err != nil {
				var se *SyntaxError
				if errors.As(d.err, &se) {
					se.Msg = "expected SP or \")\" in list" + strings.TrimPrefix(se.Msg, "expected SP")
				}
			}
			return true, d.err
		}
	}
}

// ExpectList is List that records an error when no list is next.
func (d *Decoder) ExpectList(f func() error) error {
	isList, err := d.List(f)
	if err != nil {
		return err
	}
	if !isList {
		d.expected("\"(\"")
	}
	return d.err
}

// Flag reads a flag: "\" atom (system flag or flag-extension) or a keyword
// atom. System flags are returned in canonical case (RFC 9051 2.3.2).
func (d *Decoder) Flag(ptr *string) bool {
	backslash := d.acceptByte('\\')
	var s string
	if !d.Atom(&s) {
		if backslash {
			d.expected("flag name")
		}
		return false
	}
	if backslash {
		s = `\` + s
		for _, f := range systemFlags {
			if strings.EqualFold(s, f) {
				s = f
				break
			}
		}
	}
	*ptr = s
	return true
}

var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`, `\Recent`}

// ExpectFlag is Flag that records an error.
func (d *Decoder) ExpectFlag(ptr *string) bool {
	if d.Flag(ptr) {
		return true
	}
	return d.expected("flag")
}

// ExpectFlagList reads "(" [flag *(SP flag)] ")".
func (d *Decoder) ExpectFlagList(ptr *[]string) bool {
	var flags []string
	err := d.ExpectList(func() error {
		var f string
		if d.ExpectFlag(&f) {
			flags = append(flags, f)
		}
		return nil
	})
	if err != nil {
		return false
	}
	*ptr = flags
	return true
}

// MaxNumSetRanges caps the ranges of one sequence set. The line limit
// already bounds them (a 64 KiB line holds at most 32k), and resolving a
// set costs O(ranges·log ranges + messages); this keeps a set well below
// that while leaving room for the longest sets real clients send (sparse
// UID sets of a few thousand ranges). Longer: a syntax error (BAD).
const MaxNumSetRanges = 10000

// NumRange is one element of a sequence set; 0 stands for "*".
type NumRange struct{ Start, Stop uint32 }

// NumSet reads a sequence-set (RFC 9051 9): nz-number or "*" ranges
// separated by ",", or "$" alone (RFC 5182 seq-last-command), reported as
// searchRes with no ranges.
func (d *Decoder) NumSet(ranges *[]NumRange, searchRes *bool) bool {
	b, ok := d.peek()
	if !ok {
		return false
	}
	if b == '$' {
		d.consume()
		if d.err != nil {
			return false
		}
		*ranges, *searchRes = nil, true
		return true
	}
	if b != '*' && (b < '0' || b > '9') {
		return false
	}
	var rs []NumRange
	for {
		var r NumRange
		if !d.seqNumber(&r.Start) {
			return false
		}
		r.Stop = r.Start
		if d.acceptByte(':') {
			if !d.seqNumber(&r.Stop) {
				return false
			}
		}
		rs = append(rs, r)
		if !d.acceptByte(',') {
			break
		}
		if len(rs) == MaxNumSetRanges {
			return d.Errorf("sequence set has more than %d ranges", MaxNumSetRanges)
		}
	}
	if d.err != nil {
		return false
	}
	*ranges, *searchRes = rs, false
	return true
}

// ExpectNumSet is NumSet that records an error.
func (d *Decoder) ExpectNumSet(ranges *[]NumRange, searchRes *bool) bool {
	if d.NumSet(ranges, searchRes) {
		return true
	}
	return d.expected("sequence set")
}

func (d *Decoder) seqNumber(ptr *uint32) bool {
	if d.acceptByte('*') {
		*ptr = 0
		return true
	}
	if d.err != nil {
		return false
	}
	if !d.ExpectNumber(ptr) {
		if se := (*SyntaxError)(nil); errors.As(d.err, &se) && strings.HasPrefix(se.Msg, "expected number") {
			se.Msg = "expected number or \"*\"" + strings.TrimPrefix(se.Msg, "expected number")
		}
		return false
	}
	if *ptr == 0 {
		return d.Errorf("sequence numbers start at 1")
	}
	return true
}

var months = [12]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// dateText reads date-day "-" date-month "-" date-year; spaceDay allows
// date-day-fixed (SP DIGIT).
func (d *Decoder) dateText(spaceDay bool) (day, month, year int, ok bool) {
	if spaceDay && d.acceptByte(' ') {
		// date-day-fixed: SP DIGIT
	}
	var n uint32
	digits := d.peekDigits()
	if digits < 1 || digits > 2 || !d.Number(&n) || n < 1 || n > 31 {
		d.setErr(&SyntaxError{Msg: "invalid date: bad day"})
		return
	}
	day = int(n)
	if !d.acceptByte('-') {
		d.setErr(&SyntaxError{Msg: "invalid date: expected \"-\""})
		return
	}
	var mon string
	if !d.Func(&mon, isAlpha) {
		d.setErr(&SyntaxError{Msg: "invalid date: bad month"})
		return
	}
	month = -1
	for i, m := range months {
		if strings.EqualFold(mon, m) {
			month = i + 1
		}
	}
	if month < 0 {
		d.setErr(&SyntaxError{Msg: "invalid date: bad month"})
		return
	}
	if !d.acceptByte('-') {
		d.setErr(&SyntaxError{Msg: "invalid date: expected \"-\""})
		return
	}
	if d.peekDigits() != 4 || !d.Number(&n) {
		d.setErr(&SyntaxError{Msg: "invalid date: bad year"})
		return
	}
	year = int(n)
	if day > daysIn(time.Month(month), year) {
		d.setErr(&SyntaxError{Msg: "invalid date: no such day"})
		return
	}
	return day, month, year, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isAlpha(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// peekDigits returns how many digits follow (up to 8).
func (d *Decoder) peekDigits() int {
	return len(d.PeekWhile(isDigit, 8))
}

// Date reads a date (RFC 9051 search date): date-text or DQUOTE date-text
// DQUOTE, as UTC midnight.
func (d *Decoder) Date(ptr *time.Time) bool {
	b, ok := d.peek()
	if !ok || b != '"' && (b < '0' || b > '9') {
		return false
	}
	quoted := d.acceptByte('"')
	day, month, year, ok := d.dateText(false)
	if !ok {
		return false
	}
	if quoted && !d.acceptByte('"') {
		return d.Errorf("invalid date: expected closing DQUOTE")
	}
	*ptr = time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	return true
}

// ExpectDate is Date that records an error.
func (d *Decoder) ExpectDate(ptr *time.Time) bool {
	if d.Date(ptr) {
		return true
	}
	return d.expected("date")
}

// DateTime reads a date-time (RFC 9051 9): DQUOTE date-day-fixed "-"
// date-month "-" date-year SP time SP zone DQUOTE, e.g.
// "17-Jul-1996 02:44:25 -0700". A one-digit day without the leading space
// is tolerated.
func (d *Decoder) DateTime(ptr *time.Time) bool {
	if !d.acceptByte('"') {
		return false
	}
	day, month, year, ok := d.dateText(true)
	if !ok {
		return false
	}
	if !d.acceptByte(' ') {
		return d.Errorf("invalid date-time: expected SP before time")
	}
	var hms [3]int
	for i := range hms {
		if i > 0 && !d.acceptByte(':') {
			return d.Errorf("invalid date-time: bad time")
		}
		var n uint32
		if d.peekDigits() != 2 || !d.Number(&n) {
			return d.Errorf("invalid date-time: bad time")
		}
		hms[i] = int(n)
	}
	if hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
		return d.Errorf("invalid date-time: bad time")
	}
	if !d.acceptByte(' ') {
		return d.Errorf("invalid date-time: expected SP before zone")
	}
	sign := 1
	switch {
	case d.acceptByte('+'):
	case d.acceptByte('-'):
		sign = -1
	default:
		return d.Errorf("invalid date-time: bad zone")
	}
	var z uint32
	if d.peekDigits() != 4 || !d.Number(&z) || z%100 > 59 {
		return d.Errorf("invalid date-time: bad zone")
	}
	if !d.acceptByte('"') {
		return d.Errorf("invalid date-time: expected closing DQUOTE")
	}
	if hms[2] == 60 {
		hms[2] = 59 // leap second: time.Time cannot represent it
	}
	off := sign * (int(z/100)*3600 + int(z%100)*60)
	loc := time.FixedZone("", off)
	*ptr = time.Date(year, time.Month(month), day, hms[0], hms[1], hms[2], 0, loc)
	return true
}

// ExpectDateTime is DateTime that records an error.
func (d *Decoder) ExpectDateTime(ptr *time.Time) bool {
	if d.DateTime(ptr) {
		return true
	}
	return d.expected("date-time")
}

// LiteralInfo describes a literal read by LiteralBody.
type LiteralInfo struct {
	Size    int64
	NonSync bool
	Binary  bool
}

// LiteralBody reads a literal ({n}, {n+}, {n-}, or when allowBinary
// ~{n}/~{n+}) and streams its bytes to sink without buffering them. check
// (optional) vets the size after DecoderOptions.CheckLiteral, with the same
// refusal semantics. sink must read from r; whatever it leaves unread is
// discarded. An error from sink is recorded as the decoder's error after
// the literal has been consumed (the stream stays in sync). It returns
// false when no literal is next or on error.
func (d *Decoder) LiteralBody(allowBinary bool, check func(size int64, nonSync, binary bool) error, sink func(info LiteralInfo, r io.Reader) error) bool {
	size, nonSync, binary, ok := d.literalHeader(allowBinary, check)
	if !ok {
		return false
	}
	lr := &literalReader{d: d, n: size}
	serr := sink(LiteralInfo{Size: size, NonSync: nonSync, Binary: binary}, lr)
	if lr.err == nil && lr.n > 0 {
		if _, err := d.r.Discard(int(min(lr.n, 1<<62))); err != nil {
			d.ioErr(io.ErrUnexpectedEOF)
			return false
		}
		lr.n = 0
	}
	if lr.err != nil {
		d.ioErr(lr.err)
		return false
	}
	if serr != nil {
		d.setErr(serr)
		return false
	}
	return true
}

// ExpectLiteralBody is LiteralBody that records an error when no literal
// is next.
func (d *Decoder) ExpectLiteralBody(allowBinary bool, check func(size int64, nonSync, binary bool) error, sink func(info LiteralInfo, r io.Reader) error) bool {
	if d.LiteralBody(allowBinary, check, sink) {
		return true
	}
	return d.expected("literal")
}

type literalReader struct {
	d   *Decoder
	n   int64
	err error // I/O error of the underlying reader
}

func (lr *literalReader) Read(p []byte) (int, error) {
	if lr.err != nil {
		return 0, lr.err
	}
	if lr.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > lr.n {
		p = p[:lr.n]
	}
	n, err := lr.d.r.Read(p)
	lr.n -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		lr.err = err
		return n, err
	}
	return n, nil
}

// DiscardCommand consumes the rest of the current command after an error
// so that the next command starts in sync: it skips a refused
// non-synchronizing literal, then reads to the end of the line; when the
// line announces a non-synchronizing literal it skips its bytes and goes
// on with the next line; when it announces a synchronizing literal it
// stops (the client waits for a "+" that is not sent). It reads nothing
// after CRLF ended the command, after a refused synchronizing literal, or
// after an I/O error. Discarded bytes are never buffered beyond the
// bufio.Reader's buffer.
func (d *Decoder) DiscardCommand() error {
	var ioe *IOError
	if errors.As(d.err, &ioe) {
		return ioe
	}
	if d.stopped {
		return nil
	}
	d.stopped = true
	for {
		if d.skip > 0 {
			for d.skip > 0 {
				n, err := d.r.Discard(int(min(d.skip, 1<<30)))
				d.skip -= int64(n)
				if err != nil {
					d.ioErr(io.ErrUnexpectedEOF)
					return d.err
				}
			}
		}
		// Read to LF, remembering the last bytes to spot a literal
		// announcement at the end of the line.
		var tail [32]byte
		tn := 0
		for {
			chunk, err := d.r.ReadSlice('\n')
			if len(chunk) >= len(tail) {
				tn = copy(tail[:], chunk[len(chunk)-len(tail):])
			} else if len(chunk) > 0 {
				if tn+len(chunk) > len(tail) {
					keep := len(tail) - len(chunk)
					copy(tail[:], tail[tn-keep:tn])
					tn = keep
				}
				tn += copy(tail[tn:], chunk)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				d.ioErr(io.ErrUnexpectedEOF)
				return d.err
			}
			break
		}
		size, nonSync, ok := literalAnnouncement(tail[:tn])
		if !ok {
			return nil
		}
		if !nonSync {
			return nil
		}
		d.skip = size
	}
}

// literalAnnouncement parses "{n}" "{n+}" "{n-}" before the CRLF/LF at the
// end of line.
func literalAnnouncement(line []byte) (size int64, nonSync, ok bool) {
	i := len(line)
	if i > 0 && line[i-1] == '\n' {
		i--
	}
	if i > 0 && line[i-1] == '\r' {
		i--
	}
	if i == 0 || line[i-1] != '}' {
		return 0, false, false
	}
	i--
	if i > 0 && (line[i-1] == '+' || line[i-1] == '-') {
		nonSync = true
		i--
	}
	end := i
	for i > 0 && line[i-1] >= '0' && line[i-1] <= '9' {
		i--
	}
	if i == end || i == 0 || line[i-1] != '{' || end-i > 18 {
		return 0, false, false
	}
	var n int64
	for _, c := range line[i:end] {
		n = n*10 + int64(c-'0')
	}
	return n, nonSync, true
}

// Stopped reports whether the current command has been read to its end
// (CRLF), discarded, or must not be read further.
func (d *Decoder) Stopped() bool { return d.stopped }

// PeekWhile returns the run of up to max upcoming bytes for which valid
// is true, without consuming them (nil after an error). It peeks one byte
// at a time, so it never waits for more than the run and the byte after
// it: a client that has sent a complete line is never waited on. The
// slice is valid until the next read.
func (d *Decoder) PeekWhile(valid func(byte) bool, max int) []byte {
	if d.err != nil {
		return nil
	}
	for k := 1; ; k++ {
		b, _ := d.r.Peek(k)
		if len(b) < k {
			return b
		}
		if k > max || !valid(b[k-1]) {
			return b[:k-1]
		}
	}
}

// PeekString reports whether the next bytes are s (compared ASCII
// case-insensitively), without consuming them. It peeks one byte at a
// time and stops at the first mismatch.
func (d *Decoder) PeekString(s string) bool {
	if d.err != nil {
		return false
	}
	for k := 1; k <= len(s); k++ {
		b, _ := d.r.Peek(k)
		if len(b) < k || lower(b[k-1]) != lower(s[k-1]) {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func hasHighBit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}
