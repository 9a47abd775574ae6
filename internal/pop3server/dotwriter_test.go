package pop3server

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestWriteMessage(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines int64
		want  string
	}{
		{"empty", "", -1, ".\r\n"},
		{"simple", "A: b\r\n\r\nhello\r\n", -1, "A: b\r\n\r\nhello\r\n.\r\n"},
		{"no final CRLF", "A: b\r\n\r\nhello", -1, "A: b\r\n\r\nhello\r\n.\r\n"},
		{"dot line", "A: b\r\n\r\n.\r\n..x\r\n.y\r\nz.\r\n", -1, "A: b\r\n\r\n..\r\n...x\r\n..y\r\nz.\r\n.\r\n"},
		{"dot first byte", ".A: b\r\n", -1, "..A: b\r\n.\r\n"},
		{"dot last no CRLF", "A: b\r\n\r\n.", -1, "A: b\r\n\r\n..\r\n.\r\n"},
		{"bare LF", "A: b\n\nx\n.\n", -1, "A: b\r\n\r\nx\r\n..\r\n.\r\n"},
		{"bare CR kept", "A: b\r\n\r\nx\ry\r\n", -1, "A: b\r\n\r\nx\ry\r\n.\r\n"},
		{"top 0", "A: b\r\nC: d\r\n\r\nl1\r\nl2\r\n", 0, "A: b\r\nC: d\r\n\r\n.\r\n"},
		{"top 1", "A: b\r\n\r\nl1\r\nl2\r\n", 1, "A: b\r\n\r\nl1\r\n.\r\n"},
		{"top 2 dots", "A: b\r\n\r\n.l1\r\n.l2\r\n.l3\r\n", 2, "A: b\r\n\r\n..l1\r\n..l2\r\n.\r\n"},
		{"top more than body", "A: b\r\n\r\nl1", 10, "A: b\r\n\r\nl1\r\n.\r\n"},
		{"top no body", "A: b\r\nC: d\r\n", 0, "A: b\r\nC: d\r\n.\r\n"},
		{"top no header", "\r\nbody1\r\nbody2\r\n", 1, "\r\nbody1\r\n.\r\n"},
		{"top blank lines in body count", "A: b\r\n\r\n\r\n\r\nx\r\n", 2, "A: b\r\n\r\n\r\n\r\n.\r\n"},
	}
	for _, tt := range tests {
		// Feed the message one byte at a time too, so state carried across
		// chunk boundaries (line start, CR before LF) is exercised.
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			var out bytes.Buffer
			w := bufio.NewWriter(&out)
			n, err := writeMessage(w, r, tt.lines)
			w.Flush()
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if out.String() != tt.want {
				t.Errorf("%s (oneByte=%v):\n got %q\nwant %q", tt.name, oneByte, out.String(), tt.want)
			}
			if n != int64(out.Len()) {
				t.Errorf("%s: n = %d, wrote %d", tt.name, n, out.Len())
			}
		}
	}
}

func TestWriteMessageReadError(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	_, err := writeMessage(w, iotest.ErrReader(io.ErrUnexpectedEOF), -1)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want the read error", err)
	}
}

// unstuff decodes a multi-line response body as a client does (RFC 1939
// section 3): it requires the ".CRLF" terminator and removes one leading
// '.' from every line.
func unstuff(t testing.TB, b []byte) []byte {
	t.Helper()
	if !bytes.HasSuffix(b, []byte(".\r\n")) || (len(b) > 3 && !bytes.HasSuffix(b, []byte("\r\n.\r\n"))) {
		t.Fatalf("no terminator: %q", b)
	}
	b = b[:len(b)-3]
	var out []byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			t.Fatalf("line without CRLF: %q", b)
		}
		line := b[:i]
		if bytes.Equal(line, []byte(".")) {
			t.Fatalf("premature terminator")
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) < 2 || line[1] != '.' {
				t.Fatalf("unstuffed dot line %q", line)
			}
			line = line[1:]
		}
		out = append(out, line...)
		out = append(out, '\r', '\n')
		b = b[i+2:]
	}
	return out
}

// FuzzDotStuff checks that any CRLF message survives RETR encoding and a
// client's decoding byte for byte (plus the CRLF added to an unterminated
// last line), and that nothing in it can end the response early.
func FuzzDotStuff(f *testing.F) {
	for _, s := range []string{"", ".", "\r\n.\r\n", "a\r\n.\r\n\r\n..", "x\ny\r\n.z", "\r\r\n.\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		// Stored messages are CRLF; normalize bare LFs as the store would.
		norm := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
		norm = bytes.ReplaceAll(norm, []byte("\n"), []byte("\r\n"))
		var out bytes.Buffer
		w := bufio.NewWriterSize(&out, 16)
		if _, err := writeMessage(w, bytes.NewReader(norm), -1); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		got := unstuff(t, out.Bytes())
		want := norm
		if len(want) > 0 && !bytes.HasSuffix(want, []byte("\r\n")) {
			want = append(append([]byte{}, want...), '\r', '\n')
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round trip:\n got %q\nwant %q", got, want)
		}
	})
}
