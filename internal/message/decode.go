package message

import (
	"bufio"
	"encoding/base64"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// lookupCharset finds a decoder for a charset name, or nil.
func lookupCharset(name string) encoding.Encoding {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	if e, err := htmlindex.Get(name); err == nil && e != nil {
		return e
	}
	if e, err := ianaindex.MIME.Encoding(name); err == nil && e != nil {
		return e
	}
	return nil
}

// decodeCharset converts s from charset to UTF-8. With an unknown or empty
// charset s is returned unchanged.
func decodeCharset(charset, s string) string {
	if charset == "" || isUTF8Name(charset) || isASCIIName(charset) {
		return s
	}
	e := lookupCharset(charset)
	if e == nil {
		return s
	}
	out, err := e.NewDecoder().String(s)
	if err != nil {
		return s
	}
	return out
}

func isUTF8Name(cs string) bool {
	return strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8")
}

func isASCIIName(cs string) bool {
	return strings.EqualFold(cs, "us-ascii") || strings.EqualFold(cs, "ascii")
}

// DecodeHeader decodes the RFC 2047 encoded words in an unstructured header
// value and unfolds it. Words in an unknown charset, or that do not decode,
// are left as they are. White space between two adjacent encoded words is
// dropped (RFC 2047 6.2).
func DecodeHeader(s string) string {
	s = unfold(s)
	if !strings.Contains(s, "=?") {
		return s
	}
	var b strings.Builder
	pendingSpace := "" // white space after an encoded word, dropped if another follows
	lastEncoded := false
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], "=?")
		if j < 0 {
			b.WriteString(pendingSpace)
			b.WriteString(s[i:])
			break
		}
		between := s[i : i+j]
		word, n, ok := decodeWord(s[i+j:])
		if !ok {
			b.WriteString(pendingSpace)
			pendingSpace = ""
			b.WriteString(s[i : i+j+2])
			i += j + 2
			lastEncoded = false
			continue
		}
		if lastEncoded && strings.Trim(between, " \t") == "" {
			// drop white space between encoded words
		} else {
			b.WriteString(pendingSpace)
			b.WriteString(between)
		}
		pendingSpace = ""
		b.WriteString(word)
		i += j + n
		lastEncoded = true
		// Collect following white space.
		k := i
		for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
			k++
		}
		pendingSpace = s[i:k]
		i = k
	}
	return b.String()
}

// decodeWord decodes one encoded word at the start of s
// (=?charset?enc?text?=) and returns its text and length.
func decodeWord(s string) (string, int, bool) {
	if !strings.HasPrefix(s, "=?") {
		return "", 0, false
	}
	q1 := strings.IndexByte(s[2:], '?')
	if q1 < 0 {
		return "", 0, false
	}
	charset := s[2 : 2+q1]
	rest := s[2+q1+1:]
	if len(rest) < 2 || rest[1] != '?' {
		return "", 0, false
	}
	enc := rest[0]
	text := rest[2:]
	end := strings.Index(text, "?=")
	if end < 0 {
		return "", 0, false
	}
	text = text[:end]
	if strings.ContainsAny(text, " \t") {
		return "", 0, false
	}
	n := 2 + q1 + 1 + 2 + end + 2
	if k := strings.IndexByte(charset, '*'); k >= 0 { // RFC 2231 language
		charset = charset[:k]
	}
	var raw []byte
	switch enc {
	case 'b', 'B':
		t := strings.TrimRight(text, "=")
		d, err := base64.RawStdEncoding.DecodeString(t)
		if err != nil {
			return "", 0, false
		}
		raw = d
	case 'q', 'Q':
		raw = make([]byte, 0, len(text))
		for i := 0; i < len(text); i++ {
			c := text[i]
			switch {
			case c == '_':
				raw = append(raw, ' ')
			case c == '=' && i+2 < len(text)+1 && i+2 <= len(text)-1:
				h, ok1 := unhex(text[i+1])
				l, ok2 := unhex(text[i+2])
				if !ok1 || !ok2 {
					raw = append(raw, c)
					continue
				}
				raw = append(raw, h<<4|l)
				i += 2
			default:
				raw = append(raw, c)
			}
		}
	default:
		return "", 0, false
	}
	if isUTF8Name(charset) || isASCIIName(charset) {
		if !utf8.Valid(raw) {
			return strings.ToValidUTF8(string(raw), "\uFFFD"), n, true
		}
		return string(raw), n, true
	}
	e := lookupCharset(charset)
	if e == nil {
		return "", 0, false
	}
	out, err := e.NewDecoder().Bytes(raw)
	if err != nil {
		return "", 0, false
	}
	return string(out), n, true
}

// NewDecoder returns a reader that decodes a body in the given
// Content-Transfer-Encoding (case-insensitive). base64 and quoted-printable
// are decoded leniently: characters outside the alphabet are skipped, a
// truncated final quantum is dropped, and malformed =XX sequences are kept
// literally. Any other encoding (7bit, 8bit, binary, unknown) is returned
// unchanged.
func NewDecoder(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		return &b64Reader{r: bufio.NewReader(r)}
	case "quoted-printable":
		return &qpReader{r: bufio.NewReader(r)}
	}
	return r
}

var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(a); i++ {
		t[a[i]] = byte(i)
	}
	// URL-safe alphabet, seen in the wild.
	t['-'] = 62
	t['_'] = 63
	return t
}()

type b64Reader struct {
	r    *bufio.Reader
	q    [4]byte
	nq   int
	out  []byte
	done bool
	err  error
}

func (d *b64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.done {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func (d *b64Reader) fill() {
	var buf [4096]byte
	n, err := d.r.Read(buf[:])
	out := d.out[:0]
	for _, c := range buf[:n] {
		if c == '=' {
			d.flushQuantum(&out)
			continue
		}
		v := b64val[c]
		if v == 0xff {
			continue
		}
		d.q[d.nq] = v
		d.nq++
		if d.nq == 4 {
			out = append(out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
			d.nq = 0
		}
	}
	if err != nil {
		d.flushQuantum(&out)
		d.done = true
		if err != io.EOF {
			d.err = err
		} else {
			d.err = io.EOF
		}
	}
	d.out = out
}

// flushQuantum emits the bytes of a partial quantum (padding or end).
func (d *b64Reader) flushQuantum(out *[]byte) {
	switch d.nq {
	case 2:
		*out = append(*out, d.q[0]<<2|d.q[1]>>4)
	case 3:
		*out = append(*out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.nq = 0
}

type qpReader struct {
	r   *bufio.Reader
	out []byte
	err error
}

func (d *qpReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fillLine()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// fillLine decodes one line (or a buffer-sized piece of one).
func (d *qpReader) fillLine() {
	line, err := d.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		err = nil
	}
	out := d.out[:0]
	body := line
	eol := ""
	if strings.HasSuffix(string(body), "\r\n") {
		body, eol = body[:len(body)-2], "\r\n"
	} else if strings.HasSuffix(string(body), "\n") {
		body, eol = body[:len(body)-1], "\n"
	}
	if eol != "" {
		// Transport padding: trailing white space is not part of the data.
		for len(body) > 0 && (body[len(body)-1] == ' ' || body[len(body)-1] == '\t') {
			body = body[:len(body)-1]
		}
	}
	soft := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i == len(body)-1 {
			soft = eol != ""
			if !soft {
				out = append(out, c)
			}
			continue
		}
		if i+2 < len(body)+1 && i+2 <= len(body)-1 {
			h, ok1 := unhex(body[i+1])
			l, ok2 := unhex(body[i+2])
			if ok1 && ok2 {
				out = append(out, h<<4|l)
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	if !soft {
		out = append(out, eol...)
	}
	d.out = out
	if err != nil {
		d.err = err
	}
}
