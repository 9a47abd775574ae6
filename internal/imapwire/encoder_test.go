package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func encode(utf8 bool, f func(e *Encoder)) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	e := NewEncoder(w)
	e.SetUTF8(utf8)
	f(e)
	if err := e.Flush(); err != nil {
		panic(err)
	}
	return b.String()
}

func TestEncoderString(t *testing.T) {
	long := strings.Repeat("a", 1025)
	for _, tt := range []struct {
		in   string
		utf8 bool
		want string
	}{
		{"", false, `""`},
		{"hello world", false, `"hello world"`},
		{`a"b\c`, false, `"a\"b\\c"`},
		{"NIL", false, `"NIL"`},
		{"a\r\nb", false, "{4}\r\na\r\nb"},
		{"a\x00", false, "{2}\r\na\x00"},
		{"Grüße", false, "{7}\r\nGrüße"},
		{"Grüße", true, `"Grüße"`},
		{"\xff", true, "{1}\r\n\xff"},
		{long, false, "{1025}\r\n" + long},
	} {
		if got := encode(tt.utf8, func(e *Encoder) { e.String(tt.in) }); got != tt.want {
			t.Errorf("String(%q, utf8=%v) = %q, want %q", tt.in, tt.utf8, got, tt.want)
		}
	}
}

func TestEncoderMailbox(t *testing.T) {
	for _, tt := range []struct {
		in   string
		utf8 bool
		want string
	}{
		{"inbox", false, "INBOX"},
		{"INBOX", true, "INBOX"},
		// Atoms where possible, as Dovecot: * LIST (\Sent) "." Sent
		{"Sent", false, `Sent`},
		{"Archive/2026", false, `Archive/2026`},
		{"Entwürfe", false, `Entw&APw-rfe`},
		{"Entwürfe", true, `"Entwürfe"`}, // 8-bit is never an atom
		{"a&b", false, `a&-b`},
		{"a&b", true, `a&b`},
		{"My Folder", false, `"My Folder"`},
		{"NIL", false, `"NIL"`},
		{"nil", false, `"nil"`},
		{"a]b", false, `"a]b"`},
		{`x"y`, false, `"x\"y"`},
	} {
		if got := encode(tt.utf8, func(e *Encoder) { e.Mailbox(tt.in) }); got != tt.want {
			t.Errorf("Mailbox(%q, utf8=%v) = %q, want %q", tt.in, tt.utf8, got, tt.want)
		}
	}
}

func TestEncoderLine(t *testing.T) {
	body := "Subject: x\r\n\r\nhi\r\n"
	got := encode(false, func(e *Encoder) {
		e.Untagged().Number(3).SP().Atom("EXISTS").CRLF()
		e.Untagged().Number(1).SP().Atom("FETCH").SP().BeginList().
			Atom("UID").SP().Number(4294967295).SP().
			Atom("MODSEQ").SP().BeginList().Number64(1<<62).EndList().SP().
			Atom("FLAGS").SP().Flags([]string{`\Seen`, "$Junk"}).SP().
			Atom("ENVELOPE").SP().Raw(`(NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL)`).SP().
			Atom("X").SP().NString(nil).SP().
			Atom("BODY[]").SP().Literal(int64(len(body)), strings.NewReader(body)).SP().
			Atom("BINARY[]").SP().Literal8(2, strings.NewReader("\x00\x01")).
			EndList().CRLF()
		e.Untagged().Atom("SEARCH").SP().NumSet([]NumRange{{1, 1}, {3, 7}, {9, 0}}).CRLF()
		e.Continuation("Ready for literal data")
		e.Continuation("")
		e.Tagged("a1").Atom("OK").SP().Text("done\r\nfake").CRLF()
	})
	want := "* 3 EXISTS\r\n" +
		"* 1 FETCH (UID 4294967295 MODSEQ (4611686018427387904) FLAGS (\\Seen $Junk) ENVELOPE (NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL) X NIL BODY[] {18}\r\n" + body + " BINARY[] ~{2}\r\n\x00\x01)\r\n" +
		"* SEARCH 1,3:7,9:*\r\n" +
		"+ Ready for literal data\r\n" +
		"+\r\n" +
		"a1 OK done  fake\r\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("broken pipe")
}

func TestEncoderStickyError(t *testing.T) {
	fw := &failWriter{}
	e := NewEncoder(bufio.NewWriterSize(fw, 16))
	e.Untagged().Atom(strings.Repeat("x", 100)).CRLF()
	if e.Err() == nil {
		t.Fatal("no error after an overflowing write")
	}
	n := fw.n
	e.Untagged().Atom(strings.Repeat("y", 100)).Number(5).Literal(3, strings.NewReader("abc")).CRLF()
	if fw.n != n {
		t.Errorf("wrote after the error")
	}
	if err := e.Flush(); err == nil || err.Error() != "broken pipe" {
		t.Errorf("Flush: %v", err)
	}
}

func TestEncoderShortLiteral(t *testing.T) {
	var b bytes.Buffer
	e := NewEncoder(bufio.NewWriter(&b))
	e.Literal(10, strings.NewReader("abc"))
	if !errors.Is(e.Flush(), errShortLiteral) {
		t.Fatalf("got %v", e.Err())
	}
	e = NewEncoder(bufio.NewWriter(&b))
	e.Literal(3, io.MultiReader(strings.NewReader("ab"), iotestErr{}))
	if e.Err() == nil {
		t.Fatal("reader error not sticky")
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("disk") }

func BenchmarkEncoder(b *testing.B) {
	w := bufio.NewWriter(io.Discard)
	e := NewEncoder(w)
	flags := []string{`\Seen`, `\Answered`, "$Forwarded"}
	hdr := "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Untagged().Number(uint32(i)).SP().Atom("FETCH").SP().BeginList().
			Atom("UID").SP().Number(uint32(i)).SP().
			Atom("FLAGS").SP().Flags(flags).SP().
			Atom("BODY[HEADER.FIELDS (FROM TO SUBJECT DATE)]").SP().String(hdr).
			EndList().CRLF()
		e.Untagged().Atom("LIST").SP().Flags([]string{`\HasNoChildren`}).SP().Quoted("/").SP().Mailbox("Entwürfe").CRLF()
	}
	if err := e.Flush(); err != nil {
		b.Fatal(err)
	}
}
