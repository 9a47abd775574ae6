package message

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func mustParse(t testing.TB, s string) *Message {
	t.Helper()
	m, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const nestedMsg = "From: a@example.com\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"one\r\n" +
	"two\r\n" +
	"--b1\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"Subject: inner\r\n" +
	"Content-Type: multipart/alternative; boundary=b2\r\n" +
	"\r\n" +
	"--b2\r\n" +
	"\r\n" +
	"inner plain\r\n" +
	"--b2\r\n" +
	"Content-Type: text/html\r\n" +
	"\r\n" +
	"<p>x</p>\r\n" +
	"--b2--\r\n" +
	"--b1--\r\n" +
	"epilogue\r\n"

func TestOffsets(t *testing.T) {
	m := mustParse(t, nestedMsg)
	s := nestedMsg
	if m.Size != int64(len(s)) {
		t.Fatalf("size %d, want %d", m.Size, len(s))
	}
	r := m.Root
	if got := s[r.Start:r.BodyStart]; !strings.HasSuffix(got, "boundary=\"b1\"\r\n\r\n") || r.Start != 0 {
		t.Errorf("root header %q", got)
	}
	if m.HeaderSize() != r.BodyStart {
		t.Errorf("HeaderSize %d", m.HeaderSize())
	}
	if r.End != m.Size || len(r.Children) != 2 {
		t.Fatalf("root end %d children %d", r.End, len(r.Children))
	}
	p1 := r.Children[0]
	if got := s[p1.Start:p1.BodyStart]; got != "Content-Type: text/plain\r\n\r\n" {
		t.Errorf("part 1 header %q", got)
	}
	if got := s[p1.BodyStart:p1.End]; got != "one\r\ntwo" {
		t.Errorf("part 1 body %q (the CRLF before the delimiter is not part of it)", got)
	}
	if p1.Lines != 1 {
		t.Errorf("part 1 lines %d", p1.Lines)
	}
	p2 := r.Children[1]
	if p2.Message == nil {
		t.Fatal("part 2 has no embedded message")
	}
	if got := s[p2.BodyStart:p2.End]; !strings.HasPrefix(got, "Subject: inner\r\n") || !strings.HasSuffix(got, "--b2--\r\n") {
		t.Errorf("part 2 body %q", got)
	}
	in := p2.Message
	if in.Start != p2.BodyStart || in.End != p2.End {
		t.Errorf("embedded root %d-%d, part %d-%d", in.Start, in.End, p2.BodyStart, p2.End)
	}
	if len(in.Children) != 2 {
		t.Fatalf("inner children %d", len(in.Children))
	}
	if got := s[in.Children[0].BodyStart:in.Children[0].End]; got != "inner plain" {
		t.Errorf("inner 1 body %q", got)
	}
	if got := s[in.Children[1].Start:in.Children[1].End]; got != "Content-Type: text/html\r\n\r\n<p>x</p>" {
		t.Errorf("inner 2 %q", got)
	}
	if !in.Children[0].IsType("text", "plain") || !in.Children[1].IsType("TEXT", "HTML") {
		t.Errorf("types %s/%s %s/%s", in.Children[0].Type, in.Children[0].Subtype, in.Children[1].Type, in.Children[1].Subtype)
	}
	checkTree(t, m)
}

func TestFind(t *testing.T) {
	m := mustParse(t, nestedMsg)
	r := m.Root
	in := r.Children[1].Message
	cases := []struct {
		sec  []int
		want *Part
	}{
		{nil, r},
		{[]int{1}, r.Children[0]},
		{[]int{2}, r.Children[1]},
		{[]int{2, 1}, in.Children[0]},
		{[]int{2, 2}, in.Children[1]},
		{[]int{3}, nil},
		{[]int{0}, nil},
		{[]int{1, 1}, nil},
		{[]int{2, 3}, nil},
		{[]int{2, 1, 1}, nil},
	}
	for _, c := range cases {
		got, ok := r.Find(c.sec)
		if ok != (c.want != nil) || got != c.want {
			t.Errorf("Find(%v) = %p %v, want %p", c.sec, got, ok, c.want)
		}
	}

	// A non-multipart message: part 1 is the body itself.
	single := mustParse(t, "Subject: x\r\n\r\nbody\r\n")
	if p, ok := single.Root.Find([]int{1}); !ok || p != single.Root {
		t.Errorf("single Find(1) = %p %v", p, ok)
	}
	if _, ok := single.Root.Find([]int{2}); ok {
		t.Error("single Find(2) found a part")
	}

	// message/rfc822 whose embedded message is not multipart: 1.1 is its body.
	fwd := mustParse(t, "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner body\r\n--x--\r\n")
	p, ok := fwd.Root.Find([]int{1, 1})
	if !ok || p != fwd.Root.Children[0].Message {
		t.Errorf("Find(1.1) = %p %v", p, ok)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, f := range corpus(t) {
		m, err := Parse(bytes.NewReader(normalized(t, f)))
		if err != nil {
			t.Fatal(err)
		}
		b := MarshalParts(m.Root)
		u, err := UnmarshalParts(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		stripHeaders(m.Root)
		if !reflect.DeepEqual(m.Root, u) {
			t.Errorf("%s: round trip changed the tree", f)
		}
		um := &Message{Root: u, Size: m.Size}
		if um.BodyStructure(true) != m.BodyStructure(true) || um.BodyStructure(false) != m.BodyStructure(false) {
			t.Errorf("%s: BODYSTRUCTURE from the serialized tree differs", f)
		}
		// Every truncation is an error, never a panic.
		for i := 0; i < len(b); i++ {
			if _, err := UnmarshalParts(b[:i]); err == nil {
				t.Fatalf("%s: truncated at %d accepted", f, i)
			}
		}
	}
	if _, err := UnmarshalParts([]byte{9, 0}); err == nil {
		t.Error("bad version accepted")
	}
}

func stripHeaders(p *Part) {
	p.Header = nil
	for _, c := range p.Children {
		stripHeaders(c)
	}
	if p.Message != nil {
		stripHeaders(p.Message)
	}
}

// checkTree verifies the offset invariants of a parsed message.
func checkTree(t testing.TB, m *Message) {
	t.Helper()
	var walk func(p *Part, lo, hi int64, depth int)
	walk = func(p *Part, lo, hi int64, depth int) {
		if depth > 2*MaxDepth+4 {
			t.Fatalf("tree too deep")
		}
		if !(lo <= p.Start && p.Start <= p.BodyStart && p.BodyStart <= p.End && p.End <= hi) {
			t.Fatalf("bad offsets %d/%d/%d not within %d-%d", p.Start, p.BodyStart, p.End, lo, hi)
		}
		if p.Lines < 0 || p.Lines > p.End-p.BodyStart {
			t.Fatalf("bad line count %d for %d bytes", p.Lines, p.End-p.BodyStart)
		}
		prev := p.BodyStart
		for _, c := range p.Children {
			if c.Start < prev {
				t.Fatalf("children overlap: %d < %d", c.Start, prev)
			}
			walk(c, p.BodyStart, p.End, depth+1)
			prev = c.End
		}
		if p.Message != nil {
			if p.Message.Start != p.BodyStart || p.Message.End != p.End {
				t.Fatalf("embedded message %d-%d, part body %d-%d", p.Message.Start, p.Message.End, p.BodyStart, p.End)
			}
			walk(p.Message, p.BodyStart, p.End, depth+1)
		}
	}
	if m.Root.Start != 0 || m.Root.End != m.Size {
		t.Fatalf("root %d-%d, size %d", m.Root.Start, m.Root.End, m.Size)
	}
	walk(m.Root, 0, m.Size, 0)
}

func TestCorpusInvariants(t *testing.T) {
	for _, f := range corpus(t) {
		b := normalized(t, f)
		m, err := Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, m)
		// Reading one byte at a time gives the same tree.
		m2, err := Parse(iotest.OneByteReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Errorf("%s: tree depends on read sizes", f)
		}
	}
}

func TestLFOnly(t *testing.T) {
	s := "Subject: lf\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nbody one\n--q\nContent-Type: text/html\n\n<b>\n--q--\n"
	m := mustParse(t, s)
	checkTree(t, m)
	if len(m.Root.Children) != 2 {
		t.Fatalf("children %d", len(m.Root.Children))
	}
	c := m.Root.Children[0]
	if got := s[c.BodyStart:c.End]; got != "body one" {
		t.Errorf("body %q", got)
	}
	if got := s[m.Root.Children[1].BodyStart:m.Root.Children[1].End]; got != "<b>" {
		t.Errorf("body 2 %q", got)
	}
}

func TestHeader(t *testing.T) {
	m := mustParse(t, "Subject: a\r\n b\r\nX-A: 1\r\nx-a:2\r\nNoColon\r\nBad Name : v\r\n\r\n")
	h := m.Root.Header
	if got := h.Get("subject"); got != "a b" {
		t.Errorf("Get = %q", got)
	}
	if got := h.Values("X-a"); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Errorf("Values = %q", got)
	}
	if h[0].Value != " a\r\n b" {
		t.Errorf("raw value %q", h[0].Value)
	}
	if got := h.Get("Bad Name"); got != "v" {
		t.Errorf("field with space before colon: %q", got)
	}
	if h.Has("NoColon") {
		t.Error("a line without a colon became a field")
	}
}

func TestCRLFReader(t *testing.T) {
	cases := map[string]string{
		"":                 "",
		"a":                "a",
		"a\n":              "a\r\n",
		"a\r\n":            "a\r\n",
		"a\rb":             "a\rb", // a bare CR is kept, as dovecot-lda does
		"a\r":              "a\r",
		"\n\n":             "\r\n\r\n",
		"\r\r\n":           "\r\r\n",
		"x\r\n\ny\rz\r\r":  "x\r\n\r\ny\rz\r\r",
		"mixed\r\nlf\nend": "mixed\r\nlf\r\nend",
	}
	for in, want := range cases {
		for _, one := range []bool{false, true} {
			var r io.Reader = strings.NewReader(in)
			if one {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(NewCRLFReader(r))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("CRLF(%q) = %q, want %q", in, got, want)
			}
		}
	}
	// Errors are passed on.
	_, err := io.ReadAll(NewCRLFReader(iotest.ErrReader(io.ErrUnexpectedEOF)))
	if err != io.ErrUnexpectedEOF {
		t.Errorf("err = %v", err)
	}
}

func TestParseReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("Subject: x\r\n"), iotest.ErrReader(io.ErrClosedPipe))
	if _, err := Parse(r); err != io.ErrClosedPipe {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeHeader(t *testing.T) {
	cases := map[string]string{
		"plain":                                    "plain",
		"=?utf-8?q?caf=C3=A9?=":                    "café",
		"=?ISO-8859-1?Q?Andr=E9?= Pirard":          "André Pirard",
		"=?utf-8?b?w6nDqcOp?=":                     "ééé",
		"=?utf-8?q?a?= =?utf-8?q?b?=":              "ab",
		"=?utf-8?q?a?=\r\n =?utf-8?q?b?=":          "ab",
		"x =?utf-8?q?a_b?= y":                      "x a b y",
		"=?unknown-cs?q?abc?=":                     "=?unknown-cs?q?abc?=",
		"=?utf-8?x?abc?=":                          "=?utf-8?x?abc?=",
		"=?utf-8?q?broken":                         "=?utf-8?q?broken",
		"=?windows-1252?q?=80?=":                   "€",
		"=?iso-2022-jp?b?GyRCJEYkOSRIGyhC?=":       "てすと",
		"=?utf-8*en?q?lang?=":                      "lang",
		"a =?utf-8?q?b?= c =?utf-8?q?d?=":          "a b c d",
		"=?UTF-8?B?SWYgeW91IGNhbiByZWFkIHRoaXM=?=": "If you can read this",
	}
	for in, want := range cases {
		if got := DecodeHeader(in); got != want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewDecoder(t *testing.T) {
	cases := []struct{ enc, in, want string }{
		{"base64", "aGVsbG8gd29ybGQ=\r\n", "hello world"},
		{"BASE64", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=", "hello world"},
		{"base64", "aGVsbG8*!gd29ybGQ", "hello world"},    // junk skipped, no padding
		{"base64", "aGVsbG8=\r\nIHdvcmxk", "hello world"}, // padding in the middle
		{"base64", "a", ""}, // truncated quantum dropped
		{"quoted-printable", "caf=C3=A9 =\r\nau lait\r\n", "café au lait\r\n"},
		{"quoted-printable", "a=3Db=\nc\n", "a=bc\n"},
		{"quoted-printable", "bad =ZZ and =4", "bad =ZZ and =4"},
		{"quoted-printable", "trailing   \r\nx", "trailing\r\nx"},
		{"7bit", "as is=3D", "as is=3D"},
		{"x-unknown", "as is", "as is"},
	}
	for _, c := range cases {
		for _, one := range []bool{false, true} {
			var r io.Reader = strings.NewReader(c.in)
			if one {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(NewDecoder(c.enc, r))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("%s %q (one byte reads %v) = %q, want %q", c.enc, c.in, one, got, c.want)
			}
		}
	}
}

func TestParams(t *testing.T) {
	m := mustParse(t, "Content-Type: text/plain; name*0*=utf-8''%E2%82%AC; name*1=\" rates\"; format=flowed\r\n\r\n")
	p := m.Root
	if got := p.Param("name"); got != "€ rates" {
		t.Errorf("decoded name %q", got)
	}
	if got := p.Param("FORMAT"); got != "flowed" {
		t.Errorf("format %q", got)
	}
	if got := p.BodyStructure(true); !strings.Contains(got, `("format" "flowed" "name*" "utf-8''%E2%82%AC rates" "charset" "us-ascii")`) {
		t.Errorf("BODYSTRUCTURE params: %s", got)
	}
	m = mustParse(t, "Content-Type: text/plain; title*=iso-8859-1'fr'caf%E9\r\n\r\n")
	if got := m.Root.Param("title"); got != "café" {
		t.Errorf("charset decoding: %q", got)
	}
}

func TestEnvelopeQuoting(t *testing.T) {
	m := mustParse(t, "Subject: a \"b\" \\c\r\nFrom: \"x\\\"y\" <a@b>\r\nMessage-ID: <\"\"\"\"\"@x>\r\nDate: d\xc3\xa9\r\n\r\n")
	got := m.Envelope()
	exp := "({3}\r\nd\xc3\xa9 {8}\r\na \"b\" \\c ((" + "{3}\r\nx\"y NIL \"a\" \"b\")) ((" + "{3}\r\nx\"y NIL \"a\" \"b\")) ((" + "{3}\r\nx\"y NIL \"a\" \"b\")) NIL NIL NIL NIL {9}\r\n<\"\"\"\"\"@x>)"
	if got != exp {
		t.Errorf("got  %q\nwant %q", got, exp)
	}
}

// TestStreamingMemory checks that a 20 MB attachment is not held in memory.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const size = 20 << 20
	r := bigMessage(size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 1<<20 {
		t.Errorf("parsing a %d byte message allocated %d bytes", m.Size, alloc)
	}
	if len(m.Root.Children) != 2 || m.Root.Children[1].End-m.Root.Children[1].BodyStart < size {
		t.Errorf("unexpected structure %s", m.BodyStructure(false))
	}
}

// bigMessage returns a multipart message with a text part and a base64
// attachment of at least n bytes, generated on the fly.
func bigMessage(n int) io.Reader {
	head := "From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"big-b\"\r\n\r\n" +
		"--big-b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n" +
		"--big-b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	line := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 3)[:76] + "\r\n"
	body := &repeatReader{line: line, n: n/len(line) + 1}
	return io.MultiReader(strings.NewReader(head), body, strings.NewReader("--big-b--\r\n"))
}

type repeatReader struct {
	line string
	n    int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	w := 0
	for w < len(p) && r.n > 0 {
		c := copy(p[w:], r.line[r.off:])
		w += c
		r.off += c
		if r.off == len(r.line) {
			r.off = 0
			r.n--
		}
	}
	return w, nil
}

func TestLimits(t *testing.T) {
	// Nesting deeper than MaxDepth: the innermost containers become leaves.
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=\"d0\"\r\n\r\n")
	for i := 0; i < MaxDepth+20; i++ {
		fmt.Fprintf(&b, "--d%d\r\nContent-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n", i, i+1)
	}
	m := mustParse(t, b.String())
	checkTree(t, m)
	depth := 0
	for p := m.Root; len(p.Children) > 0; p = p.Children[0] {
		depth++
	}
	if depth > MaxDepth {
		t.Errorf("depth %d > %d", depth, MaxDepth)
	}

	// A huge header field is read but not kept.
	big := "Subject: " + strings.Repeat("x", MaxPartHeader+10) + "\r\nX-After: kept\r\n\r\nbody"
	m = mustParse(t, big)
	if m.Root.Header.Has("Subject") || m.Root.Header.Get("X-After") != "kept" {
		t.Errorf("header fields: %v", m.Root.Header.Has("Subject"))
	}
	if m.HeaderSize() != int64(len(big)-4) {
		t.Errorf("header size %d", m.HeaderSize())
	}
}
