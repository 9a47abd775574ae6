package imap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/imapwire"
)

var errRefused = errors.New("refused")

// FuzzReadCommand feeds arbitrary bytes to ReadCommand until the input is
// used up: it must never panic, never loop without consuming input, and
// every error must be a *SyntaxError with a printable message or an I/O
// error.
func FuzzReadCommand(f *testing.F) {
	for _, tt := range grammarTable {
		f.Add([]byte(tt.in))
	}
	for _, tt := range errorTable {
		f.Add([]byte(tt.in))
	}
	f.Add([]byte("a APPEND INBOX {5+}\r\nhello b NOOP\r\n"))
	f.Add([]byte("a APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" ~{3}\r\na\x00b UTF8 (~{1+}\r\nx)\r\n"))
	tmp := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		var mode byte
		if len(data) > 0 {
			mode, data = data[0], data[1:]
		}
		dopts := imapwire.DecoderOptions{Continue: func() error { return nil }}
		popts := ParseOptions{TempDir: tmp, SpoolMemory: 64}
		if mode&1 != 0 {
			dopts.CheckLiteral = func(size int64, nonSync, binary bool) error {
				if size > 100 {
					return errRefused
				}
				return nil
			}
		}
		if mode&2 != 0 {
			dopts.MaxLine = 64
		}
		if mode&4 != 0 {
			popts.MaxAppendSize = 10
		}
		if mode&8 != 0 {
			dopts.MaxStringLiterals = 16
		}
		dec := imapwire.NewDecoder(bufio.NewReaderSize(bytes.NewReader(data), 16), dopts)
		if mode&16 != 0 {
			dec.SetUTF8(true)
		}
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("no progress after %d commands", i)
			}
			if mode&32 != 0 && i%2 == 1 {
				err := ReadIdleDone(dec)
				var se *SyntaxError
				if err != nil && !errors.As(err, &se) {
					return
				}
				continue
			}
			cmd, err := ReadCommand(dec, popts)
			if err != nil {
				var se *SyntaxError
				if !errors.As(err, &se) {
					if err != io.EOF && err != io.ErrUnexpectedEOF {
						t.Fatalf("unexpected error %T %v", err, err)
					}
					return
				}
				if se.Msg == "" || se.Tag == "" {
					t.Fatalf("empty syntax error %#v", se)
				}
				for _, c := range se.Msg {
					if c < 0x20 || c >= 0x7f {
						t.Fatalf("unsafe message %q", se.Msg)
					}
				}
				continue
			}
			if cmd.Tag == "" || cmd.Name == "" || cmd.Args == nil {
				t.Fatalf("incomplete command %#v", cmd)
			}
			if a, ok := cmd.Args.(*AppendCmd); ok {
				for _, m := range a.Messages {
					if n, err := io.Copy(io.Discard, m.Body); err != nil || n != m.Body.Size() {
						t.Fatalf("append body: %d of %d, %v", n, m.Body.Size(), err)
					}
					m.Body.Close()
				}
			}
		}
	})
}

// TestWriteSeedCorpus regenerates testdata/fuzz/FuzzReadCommand from the
// grammar and error tables when ROOST_WRITE_CORPUS=1.
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("ROOST_WRITE_CORPUS") == "" {
		t.Skip("set ROOST_WRITE_CORPUS=1 to regenerate")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadCommand")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var ins []string
	for _, tt := range grammarTable {
		ins = append(ins, tt.in)
	}
	for _, tt := range errorTable {
		ins = append(ins, tt.in)
	}
	for i, in := range ins {
		for _, mode := range []byte{0, 0x0f} {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(mode)+in) + ")\n"
			name := filepath.Join(dir, fmt.Sprintf("seed-%03d-%02x", i, mode))
			if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// repeatReader returns s forever.
type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

func BenchmarkReadCommand(b *testing.B) {
	line := "a1 UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])\r\n"
	dec := imapwire.NewDecoder(bufio.NewReader(&repeatReader{s: line}), imapwire.DecoderOptions{Continue: func() error { return nil }})
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cmd, err := ReadCommand(dec, ParseOptions{})
		if err != nil || cmd.Name != "UID FETCH" {
			b.Fatal(cmd, err)
		}
	}
}

func BenchmarkReadCommandAppend(b *testing.B) {
	msg := strings.Repeat("x", 16<<10)
	line := "a1 APPEND INBOX (\\Seen) {" + strconv.Itoa(len(msg)) + "+}\r\n" + msg + "\r\n"
	dec := imapwire.NewDecoder(bufio.NewReader(&repeatReader{s: line}), imapwire.DecoderOptions{Continue: func() error { return nil }})
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cmd, err := ReadCommand(dec, ParseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cmd.Args.(*AppendCmd).Messages[0].Body.Close()
	}
}
