package imap

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/imapwire"
)

func readAll(t *testing.T, l Literal) string {
	t.Helper()
	b, err := io.ReadAll(l)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != l.Size() {
		t.Fatalf("read %d bytes, Size %d", len(b), l.Size())
	}
	return string(b)
}

func TestAppend(t *testing.T) {
	h := newHarness("a APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {18}\r\nDate: x\r\n\r\nHello\r\n\r\n"+
		"b APPEND INBOX {3+}\r\nabc () \" 7-Jul-1996 02:44:25 +0130\" ~{4}\r\na\x00b\n UTF8 (~{2+}\r\nhi)\r\n"+
		"c APPEND INBOX \"1-Jan-2024 00:00:00 +0000\" UTF8 (~{1}\r\nx)\r\n", imapwire.DecoderOptions{})
	c, err := h.read()
	if err != nil {
		t.Fatal(err)
	}
	a := c.Args.(*AppendCmd)
	if a.Mailbox != "saved-messages" || len(a.Messages) != 1 || h.continues != 1 {
		t.Fatalf("got %+v, %d continues", a, h.continues)
	}
	m := a.Messages[0]
	if want := time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600)); !m.Date.Equal(want) || m.Date.Format("-0700") != "-0700" {
		t.Errorf("date %v, want %v", m.Date, want)
	}
	if len(m.Flags) != 1 || m.Flags[0] != `\Seen` || m.Binary || m.UTF8 {
		t.Errorf("got %+v", m)
	}
	if got := readAll(t, m.Body); got != "Date: x\r\n\r\nHello\r\n" {
		t.Errorf("body %q", got)
	}
	m.Body.Close()

	h.continues = 0
	c, err = h.read()
	if err != nil {
		t.Fatal(err)
	}
	a = c.Args.(*AppendCmd)
	if len(a.Messages) != 3 || h.continues != 1 {
		t.Fatalf("got %+v, %d continues", a, h.continues)
	}
	if m := a.Messages[0]; readAll(t, m.Body) != "abc" || m.Flags != nil || !m.Date.IsZero() {
		t.Errorf("message 1: %+v", m)
	}
	if m := a.Messages[1]; readAll(t, m.Body) != "a\x00b\n" || !m.Binary || m.Flags != nil || m.Date.Day() != 7 {
		t.Errorf("message 2: %+v", m)
	}
	if m := a.Messages[2]; readAll(t, m.Body) != "hi" || !m.Binary || !m.UTF8 {
		t.Errorf("message 3: %+v", m)
	}
	c, err = h.read()
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Args.(*AppendCmd).Messages[0]; readAll(t, m.Body) != "x" || !m.UTF8 || m.Date.Year() != 2024 {
		t.Errorf("c: %+v", m)
	}
}

func TestAppendSpoolsToFile(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("0123456789abcdef", 1<<12) // 64 KiB
	h := newHarness("a APPEND INBOX {65536+}\r\n"+body+"\r\nb NOOP\r\n", imapwire.DecoderOptions{})
	h.opts = ParseOptions{TempDir: dir, SpoolMemory: 1024}
	c, err := h.read()
	if err != nil {
		t.Fatal(err)
	}
	l := c.Args.(*AppendCmd).Messages[0].Body
	if _, ok := l.(*fileLiteral); !ok {
		t.Fatalf("body spooled as %T, want a file", l)
	}
	if readAll(t, l) != body {
		t.Fatal("body differs")
	}
	ra := l.(io.ReaderAt)
	buf := make([]byte, 4)
	if _, err := ra.ReadAt(buf, 16); err != nil || string(buf) != "0123" {
		t.Fatalf("ReadAt: %q %v", buf, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("temp files left: %v", ents)
	}
	if c, err := h.read(); err != nil || c.Name != "NOOP" {
		t.Fatalf("next: %v %v", c, err)
	}
}

func TestMultiAppendMemoryBudget(t *testing.T) {
	dir := t.TempDir()
	var in strings.Builder
	in.WriteString("a APPEND INBOX")
	for range 5 {
		in.WriteString(" {400+}\r\n" + strings.Repeat("m", 400))
	}
	in.WriteString("\r\n")
	h := newHarness(in.String(), imapwire.DecoderOptions{})
	h.opts = ParseOptions{TempDir: dir, SpoolMemory: 1000}
	c, err := h.read()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range c.Args.(*AppendCmd).Messages {
		kinds = append(kinds, strings.TrimPrefix(fmtType(m.Body), "*imap."))
		if readAll(t, m.Body) != strings.Repeat("m", 400) {
			t.Error("body differs")
		}
		m.Body.Close()
	}
	if got := strings.Join(kinds, ","); got != "memLiteral,memLiteral,fileLiteral,fileLiteral,fileLiteral" {
		t.Errorf("spooled as %s", got)
	}
}

func TestAppendSpoolFailureKeepsSync(t *testing.T) {
	h := newHarness("a APPEND INBOX {2000+}\r\n"+strings.Repeat("x", 2000)+" {3+}\r\nabc\r\nb NOOP\r\n", imapwire.DecoderOptions{})
	h.opts = ParseOptions{TempDir: "/nonexistent/dir", SpoolMemory: 1000}
	_, err := h.read()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Err == nil || se.Literal != nil {
		t.Fatalf("got %#v", err)
	}
	if c, err := h.read(); err != nil || c.Name != "NOOP" {
		t.Fatalf("next: %v %v", c, err)
	}
}

func TestAppendFailureClosesSpooled(t *testing.T) {
	dir := t.TempDir()
	h := newHarness("a APPEND INBOX {2000+}\r\n"+strings.Repeat("x", 2000)+" bogus\r\nb NOOP\r\n", imapwire.DecoderOptions{})
	h.opts = ParseOptions{TempDir: dir, SpoolMemory: 1000}
	if _, err := h.read(); err == nil {
		t.Fatal("no error")
	}
	// Unlinked at creation on Unix; either way nothing is left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("temp files left: %v", ents)
	}
}

func TestAppendTooBigSync(t *testing.T) {
	// The client announced a synchronizing literal over APPENDLIMIT: no
	// "+" is sent, nothing more is read; the client sends its next command
	// after our tagged answer.
	h := newHarness("a APPEND INBOX (\\Seen) {100}\r\nb NOOP\r\n", imapwire.DecoderOptions{})
	h.opts.MaxAppendSize = 99
	_, err := h.read()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Code != "TOOBIG" || !errors.Is(err, ErrTooBig) || se.Literal == nil || se.Literal.NonSync || se.Tag != "a" || se.Name != "APPEND" {
		t.Fatalf("got %#v", err)
	}
	if h.continues != 0 {
		t.Errorf("Continue called %d times", h.continues)
	}
	if c, err := h.read(); err != nil || c.Tag != "b" {
		t.Fatalf("next: %v %v", c, err)
	}
}

func TestAppendTooBigNonSync(t *testing.T) {
	// Apple Mail: a huge APPEND with LITERAL+. The bytes come anyway; they
	// are skipped and the next command parses.
	body := strings.Repeat("y", 300000)
	for _, tail := range []string{"\r\n", " {5+}\r\nhello\r\n", " (\\Seen) {5+}\r\nhello {4+}\r\nabcd\r\n"} {
		h := newHarness("a APPEND INBOX {300000+}\r\n"+body+tail+"b NOOP\r\n", imapwire.DecoderOptions{})
		h.opts.MaxAppendSize = 1000
		_, err := h.read()
		var se *SyntaxError
		if !errors.As(err, &se) || se.Code != "TOOBIG" || !errors.Is(err, ErrTooBig) || !se.Literal.NonSync || se.Literal.Size != 300000 {
			t.Fatalf("%q: got %#v", tail, err)
		}
		if c, err := h.read(); err != nil || c.Tag != "b" {
			t.Fatalf("%q: next: %v %v", tail, c, err)
		}
	}
	// A synchronizing literal announced after the refused one: the client
	// waits for "+", so the discard stops at its announcement.
	h := newHarness("a APPEND INBOX {3000+}\r\n"+strings.Repeat("y", 3000)+" {5}\r\nb NOOP\r\n", imapwire.DecoderOptions{})
	h.opts.MaxAppendSize = 1000
	if _, err := h.read(); err == nil {
		t.Fatal("no error")
	}
	if c, err := h.read(); err != nil || c.Tag != "b" || h.continues != 0 {
		t.Fatalf("next: %v %v, %d continues", c, err, h.continues)
	}
}

func TestCheckLiteral(t *testing.T) {
	var seen []string
	check := func(size int64, nonSync, binary bool) error {
		if size > 10 {
			seen = append(seen, "refuse")
			return errors.New("too big before login")
		}
		seen = append(seen, "ok")
		return nil
	}
	h := newHarness("a LOGIN {11}\r\nb LOGIN {11+}\r\nxxxxxxxxxxx {2}\r\nc LOGIN {3}\r\nbob {2+}\r\npw\r\n", imapwire.DecoderOptions{CheckLiteral: check})
	_, err := h.read()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Literal == nil || se.Literal.NonSync || se.Tag != "a" || h.continues != 0 {
		t.Fatalf("a: %#v, %d continues", err, h.continues)
	}
	_, err = h.read()
	if !errors.As(err, &se) || se.Literal == nil || !se.Literal.NonSync || se.Tag != "b" || h.continues != 0 {
		t.Fatalf("b: %#v", err)
	}
	c, err := h.read()
	if err != nil || c.Args.(*LoginCmd).Password != "pw" || h.continues != 1 {
		t.Fatalf("c: %v %v, %d continues", c, err, h.continues)
	}
	if strings.Join(seen, ",") != "refuse,refuse,ok,ok" {
		t.Errorf("CheckLiteral calls %v", seen)
	}
}

func TestStringLiteralBudget(t *testing.T) {
	h := newHarness("a LOGIN {6+}\r\nabcdef {6+}\r\nghijkl\r\nb NOOP\r\n", imapwire.DecoderOptions{MaxStringLiterals: 10})
	_, err := h.read()
	if !errors.Is(err, imapwire.ErrLiteralTooLong) {
		t.Fatalf("got %v", err)
	}
	if c, err := h.read(); err != nil || c.Tag != "b" {
		t.Fatalf("next: %v %v", c, err)
	}
}

func TestLineTooLong(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, in := range []string{
		"a LOGIN " + long + " pw\r\n",
		"a LOGIN " + long + " {5+}\r\nhello\r\n",
		"a LOGIN {5+}\r\nhello " + long + "\r\n",
		"a SEARCH " + strings.Repeat("SEEN ", 100) + "ALL\r\n",
		long + "\r\n",
	} {
		h := newHarness(in+"b NOOP\r\n", imapwire.DecoderOptions{MaxLine: 200})
		_, err := h.read()
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, imapwire.ErrLineTooLong) || se.Msg != "Command line too long" {
			t.Fatalf("%.40q: got %#v", in, err)
		}
		if c, err := h.read(); err != nil || c.Tag != "b" {
			t.Fatalf("%.40q: next: %v %v", in, c, err)
		}
	}
	// Exactly at the limit is fine.
	in := "a LOGIN " + strings.Repeat("u", 200-len("a LOGIN  pw\r")) + " pw\r\n"
	h := newHarness(in, imapwire.DecoderOptions{MaxLine: 200})
	if _, err := h.read(); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestEOF(t *testing.T) {
	for in, want := range map[string]error{
		"":                         io.EOF,
		"\r\n":                     io.EOF,
		"a NOOP":                   io.ErrUnexpectedEOF,
		"a LOGIN {5+}\r\nab":       io.ErrUnexpectedEOF,
		"a APPEND INBOX {5+}\r\na": io.ErrUnexpectedEOF,
		"a LOGIN \"bob":            io.ErrUnexpectedEOF,
	} {
		dec := imapwire.NewDecoder(bufio.NewReader(strings.NewReader(in)), imapwire.DecoderOptions{Continue: func() error { return nil }})
		_, err := ReadCommand(dec, ParseOptions{})
		if err != want {
			t.Errorf("%q: got %v, want %v", in, err, want)
		}
		// Sticky: the next read fails the same way without blocking.
		if _, err2 := ReadCommand(dec, ParseOptions{}); err2 == nil {
			t.Errorf("%q: second read succeeded", in)
		}
	}
}

func TestContinueError(t *testing.T) {
	boom := errors.New("write failed")
	dec := imapwire.NewDecoder(bufio.NewReader(strings.NewReader("a LOGIN {3}\r\nbob pw\r\n")), imapwire.DecoderOptions{Continue: func() error { return boom }})
	if _, err := ReadCommand(dec, ParseOptions{}); err != boom {
		t.Fatalf("got %v", err)
	}
}

func TestReadIdleDone(t *testing.T) {
	// iOS pipelines commands right after DONE, in the same packet.
	h := newHarness("DONE\r\na NOOP\r\ndone\nDONEX\r\nb NOOP\r\nfoo {3+}\r\nabc\r\nc NOOP\r\n", imapwire.DecoderOptions{})
	if err := ReadIdleDone(h.dec); err != nil {
		t.Fatal(err)
	}
	if c, err := h.read(); err != nil || c.Tag != "a" {
		t.Fatalf("after DONE: %v %v", c, err)
	}
	if err := ReadIdleDone(h.dec); err != nil {
		t.Fatal(err)
	}
	var se *SyntaxError
	if err := ReadIdleDone(h.dec); !errors.As(err, &se) || !strings.Contains(se.Msg, "DONE") {
		t.Fatalf("DONEX: %v", err)
	}
	if c, err := h.read(); err != nil || c.Tag != "b" {
		t.Fatalf("after DONEX: %v %v", c, err)
	}
	if err := ReadIdleDone(h.dec); !errors.As(err, &se) {
		t.Fatalf("foo: %v", err)
	}
	if c, err := h.read(); err != nil || c.Tag != "c" {
		t.Fatalf("after foo: %v %v", c, err)
	}
	if err := ReadIdleDone(h.dec); err != errBlocked {
		t.Fatalf("at end: %v", err)
	}
}

func TestUTF8Mode(t *testing.T) {
	h := newHarness("a SELECT \"Entw\xc3\xbcrfe\"\r\nb SELECT &AOQ-\r\nc SELECT \"\xff\"\r\n", imapwire.DecoderOptions{})
	h.dec.SetUTF8(true)
	c, err := h.read()
	if err != nil || c.Args.(*SelectCmd).Mailbox != "Entwürfe" {
		t.Fatalf("a: %v %v", c, err)
	}
	// In UTF-8 mode names are not modified UTF-7 decoded.
	c, err = h.read()
	if err != nil || c.Args.(*SelectCmd).Mailbox != "&AOQ-" {
		t.Fatalf("b: %v %v", c, err)
	}
	if _, err = h.read(); err == nil {
		t.Fatal("c: invalid UTF-8 accepted")
	}
}

// Before ENABLE, a name with 8-bit bytes can only be UTF-8 (modified UTF-7
// is ASCII): accept it, as go-imap v2 sends such names to IMAP4rev2
// servers; ASCII names are still modified UTF-7 and invalid UTF-8 is still
// refused.
func TestRawUTF8NameBeforeEnable(t *testing.T) {
	h := newHarness("a SELECT \"Entw\xc3\xbcrfe\"\r\nb SELECT Entw&APw-rfe\r\nc SELECT \"\xff\"\r\nd SELECT &Jjo\r\n", imapwire.DecoderOptions{})
	for _, tag := range []string{"a", "b"} {
		c, err := h.read()
		if err != nil || c.Args.(*SelectCmd).Mailbox != "Entwürfe" {
			t.Fatalf("%s: %v %v", tag, c, err)
		}
	}
	for _, tag := range []string{"c", "d"} {
		if _, err := h.read(); err == nil {
			t.Fatalf("%s: invalid name accepted", tag)
		}
	}
}
