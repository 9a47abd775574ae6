package message

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkParse measures Parse on a ~100 KB multipart message and on a
// message with a 20 MB attachment.
func BenchmarkParse(b *testing.B) {
	b.Run("multipart-100KB", func(b *testing.B) {
		msg := multipart100K()
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("attachment-20MB", func(b *testing.B) {
		msg, err := io.ReadAll(bigMessage(20 << 20))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func multipart100K() []byte {
	var s strings.Builder
	s.WriteString("From: \"Sender\" <s@example.com>\r\nTo: a@example.com, b@example.com\r\nSubject: bench\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n")
	para := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit sed do.\r\n", 20)
	for i := 0; s.Len() < 100<<10; i++ {
		fmt.Fprintf(&s, "--outer\r\nContent-Type: multipart/alternative; boundary=\"alt%d\"\r\n\r\n", i)
		fmt.Fprintf(&s, "--alt%d\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%s", i, para)
		fmt.Fprintf(&s, "--alt%d\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>%s</p>\r\n--alt%d--\r\n", i, para, i)
	}
	s.WriteString("--outer--\r\n")
	return []byte(s.String())
}
