package imapserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// This file resolves body sections (RFC 9051 6.4.5 BODY[section]<partial>,
// RFC 3516 BINARY[section]<partial> and BINARY.SIZE[section]) to bytes of
// the stored message. It never reads a body into memory: a section is a byte
// range of the stored message, except HEADER.FIELDS (.NOT), which reads only
// the header it filters, and BINARY, which decodes while streaming.
//
// Behaviour matches Dovecot 2.3 (checked with testdata/fetch golden files):
//   - a part number that does not exist gives an empty string, not NIL;
//   - "1.MIME" of a non-multipart message is the message header;
//   - HEADER, TEXT and HEADER.FIELDS of a part that is not message/rfc822
//     give an empty string;
//   - HEADER.FIELDS keeps the matching fields in message order with their
//     folding, and always ends with the blank line (so no match is "\r\n").

// maxFilterHeader bounds the header bytes read for HEADER.FIELDS (.NOT).
// Larger headers are cut there (they are far beyond what any MTA passes).
const maxFilterHeader = 8 << 20

// sectionData is a resolved section: either the byte range [off, off+n) of
// the stored message, or computed bytes (HEADER.FIELDS, data != nil).
type sectionData struct {
	off, n   int64
	data     []byte
	computed bool
}

// size returns the section's length in octets.
func (d sectionData) size() int64 {
	if d.computed {
		return int64(len(d.data))
	}
	return d.n
}

// reader returns the section's bytes.
func (d sectionData) reader(ra io.ReaderAt) io.Reader {
	if d.computed {
		return bytes.NewReader(d.data)
	}
	return io.NewSectionReader(ra, d.off, d.n)
}

// clip applies a partial <offset.count>: RFC 9051 6.4.5, "If the starting
// octet is beyond the end of the text, an empty string is returned";
// a count past the end returns what there is.
func (d sectionData) clip(p *imap.Partial) sectionData {
	if p == nil {
		return d
	}
	size := d.size()
	o := min(max(p.Offset, 0), size)
	n := min(max(p.Count, 0), size-o)
	if d.computed {
		d.data = d.data[o : o+n]
		return d
	}
	d.off += o
	d.n = n
	return d
}

// rangeOf returns the byte range [start, end) as section data.
func rangeOf(start, end int64) sectionData {
	if end < start {
		end = start
	}
	return sectionData{off: start, n: end - start}
}

// resolveSection finds section sec of a message. root is the part tree (nil
// is allowed when sec has no part number), headerSize the top-level header size
// including the blank line, size the message size; ra reads the stored
// message (used only for HEADER.FIELDS).
func resolveSection(root *message.Part, headerSize, size int64, sec imap.Section, ra io.ReaderAt) (sectionData, error) {
	var hdrStart, hdrEnd, bodyEnd int64
	if len(sec.Part) == 0 {
		hdrStart, hdrEnd, bodyEnd = 0, min(headerSize, size), size
	} else {
		if root == nil {
			return sectionData{}, errors.New("part tree missing")
		}
		p, ok := root.Find(sec.Part)
		if !ok {
			return sectionData{computed: true, data: []byte{}}, nil
		}
		switch sec.Specifier {
		case "":
			return rangeOf(p.BodyStart, p.End), nil
		case "MIME":
			// A header cut short by a boundary line ends before the line
			// break that belongs to the delimiter (BodyStart is then past
			// End), as in Dovecot.
			return rangeOf(p.Start, min(p.BodyStart, p.End)), nil
		}
		// HEADER, TEXT, HEADER.FIELDS (.NOT) address the embedded message
		// of a message/rfc822 part (RFC 9051 6.4.5).
		if p.Message == nil {
			return sectionData{computed: true, data: []byte{}}, nil
		}
		m := p.Message
		hdrStart, hdrEnd, bodyEnd = m.Start, min(m.BodyStart, m.End), m.End
	}
	switch sec.Specifier {
	case "":
		return rangeOf(hdrStart, bodyEnd), nil
	case "HEADER":
		return rangeOf(hdrStart, hdrEnd), nil
	case "TEXT":
		return rangeOf(hdrEnd, bodyEnd), nil
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		n := min(hdrEnd-hdrStart, maxFilterHeader)
		if n < 0 {
			n = 0
		}
		hdr := make([]byte, n)
		if _, err := ra.ReadAt(hdr, hdrStart); err != nil && !(errors.Is(err, io.EOF)) {
			return sectionData{}, fmt.Errorf("read header: %w", err)
		}
		return sectionData{computed: true, data: filterHeader(hdr, sec.Fields, sec.Specifier == "HEADER.FIELDS.NOT")}, nil
	}
	return sectionData{}, fmt.Errorf("unknown section specifier %q", sec.Specifier)
}

// filterHeader returns the fields of hdr selected by HEADER.FIELDS (or
// HEADER.FIELDS.NOT when not is set) names: mailstore.FilterHeaderFields,
// which stores also use for the kept lines (mailstore.HeaderFieldsReader),
// so both paths give the same bytes.
func filterHeader(hdr []byte, names []string, not bool) []byte {
	return mailstore.FilterHeaderFields(hdr, names, not)
}

func isBlankLine(b []byte) bool {
	return (len(b) == 1 && b[0] == '\n') || (len(b) == 2 && b[0] == '\r' && b[1] == '\n')
}

// errUnknownCTE is returned by binarySection for a part whose
// Content-Transfer-Encoding is unknown or whose encoded data is invalid.
// It maps to NO [UNKNOWN-CTE] (RFC 3516 4.3; DESIGN.md section 5).
type errUnknownCTE struct{ msg string }

func (e *errUnknownCTE) Error() string { return e.msg }

// binaryInfo is what BINARY needs to know about a section before writing
// it: the decoded size, and whether the decoded data has a NUL octet
// (RFC 3516 4.2: then it must be sent as literal8).
type binaryInfo struct {
	enc  string // content-transfer-encoding to decode with (lower case)
	raw  sectionData
	size int64
	nul  bool
}

// binarySection resolves BINARY[section] (RFC 3516): the part's body,
// decoded from its Content-Transfer-Encoding. It reads the part once to
// learn the decoded size and to validate the encoded data; nothing is
// buffered beyond a small window.
//
// Like Dovecot, BINARY of a multipart or message/rfc822 part (or of the
// whole message) returns its bytes as they are (their encoding can only be
// 7bit, 8bit or binary). A missing part is an empty string.
//
// Unlike Dovecot, which answers NO [PARSE] for invalid base64 and
// quoted-printable data (and drops the connection for truncated base64),
// invalid data is NO [UNKNOWN-CTE]: RFC 3516 clients then fall back to
// BODY[] and decode the part themselves.
func binarySection(root *message.Part, size int64, part []int, ra io.ReaderAt) (binaryInfo, error) {
	if len(part) == 0 {
		return binaryInfo{raw: rangeOf(0, size), size: size, nul: hasNUL(io.NewSectionReader(ra, 0, size))}, nil
	}
	p, ok := root.Find(part)
	if !ok {
		return binaryInfo{raw: sectionData{computed: true, data: []byte{}}}, nil
	}
	enc := strings.ToLower(strings.TrimSpace(p.Encoding))
	raw := rangeOf(p.BodyStart, p.End)
	switch enc {
	case "", "7bit", "8bit", "binary":
		return binaryInfo{raw: raw, size: raw.n, nul: hasNUL(raw.reader(ra))}, nil
	case "base64", "quoted-printable":
	default:
		return binaryInfo{}, &errUnknownCTE{"Unknown Content-Transfer-Encoding"}
	}
	if err := validateCTE(enc, raw.reader(ra)); err != nil {
		return binaryInfo{}, err
	}
	cw := &countWriter{}
	if _, err := io.Copy(cw, message.NewDecoder(enc, raw.reader(ra))); err != nil {
		return binaryInfo{}, fmt.Errorf("decode part: %w", err)
	}
	return binaryInfo{enc: enc, raw: raw, size: cw.n, nul: cw.nul}, nil
}

// reader returns the decoded data, skipping and limiting for a partial.
func (b binaryInfo) reader(ra io.ReaderAt, p *imap.Partial) (io.Reader, int64) {
	size := b.size
	var r io.Reader
	if b.enc == "" {
		d := b.raw.clip(p)
		return d.reader(ra), d.size()
	}
	r = message.NewDecoder(b.enc, b.raw.reader(ra))
	if p == nil {
		return r, size
	}
	o := min(max(p.Offset, 0), size)
	n := min(max(p.Count, 0), size-o)
	if o > 0 {
		if _, err := io.CopyN(io.Discard, r, o); err != nil {
			return bytes.NewReader(nil), 0
		}
	}
	return io.LimitReader(r, n), n
}

// undecoded returns the byte range of the stored message that BINARY sends
// for partial p, when the data needs no decoding (7bit, 8bit, binary, or
// a whole message or multipart): ok is false when it must be decoded.
func (b binaryInfo) undecoded(p *imap.Partial) (d sectionData, ok bool) {
	if b.enc != "" {
		return sectionData{}, false
	}
	return b.raw.clip(p), true
}

// literal8 reports whether the data must go as literal8 ("~{n}"). RFC
// 3516 4.2 requires it when the data has a NUL; like Dovecot, Roost also
// uses it for everything it decoded from base64 or quoted-printable, whose
// result may be any octets. For a partial fetch of undecoded data only the
// sent range matters.
func (b binaryInfo) literal8(ra io.ReaderAt, p *imap.Partial) bool {
	if b.enc != "" {
		return true
	}
	if !b.nul || p == nil {
		return b.nul
	}
	r, _ := b.reader(ra, p)
	return hasNUL(r)
}

type countWriter struct {
	n   int64
	nul bool
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if !w.nul && bytes.IndexByte(p, 0) >= 0 {
		w.nul = true
	}
	return len(p), nil
}

func hasNUL(r io.Reader) bool {
	cw := &countWriter{}
	_, _ = io.Copy(cw, r)
	return cw.nul
}

// validateCTE checks encoded data strictly enough to catch what decoding
// would silently get wrong:
//   - base64: only the alphabet, '=' padding and white space; and never a
//     single leftover character (6 bits cannot make an octet). A final
//     quantum of 2 or 3 characters without padding is accepted.
//   - quoted-printable: '=' must be followed by two hex digits or end the
//     line (a soft line break, possibly with trailing white space).
func validateCTE(enc string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 32<<10)
	switch enc {
	case "base64":
		n := 0 // alphabet characters in the current run (mod 4)
		for {
			c, err := br.ReadByte()
			if err != nil {
				break
			}
			switch {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
				n = (n + 1) % 4
			case c == '=':
				if n == 1 {
					return &errUnknownCTE{"Invalid base64 data in MIME part"}
				}
				n = 0
			case c == '\r', c == '\n', c == ' ', c == '\t':
			default:
				return &errUnknownCTE{"Invalid base64 data in MIME part"}
			}
		}
		if n == 1 {
			return &errUnknownCTE{"Truncated base64 data in MIME part"}
		}
	case "quoted-printable":
		for {
			line, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				return &errUnknownCTE{"Overlong quoted-printable line in MIME part"}
			}
			for i := 0; i < len(line); i++ {
				if line[i] != '=' {
					continue
				}
				rest := line[i+1:]
				if len(rest) >= 2 && isHex(rest[0]) && isHex(rest[1]) {
					i += 2
					continue
				}
				if len(bytes.TrimRight(rest, " \t\r\n")) == 0 {
					break // soft line break (or '=' at the very end)
				}
				return &errUnknownCTE{"Invalid quoted-printable data in MIME part"}
			}
			if err != nil {
				break
			}
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
