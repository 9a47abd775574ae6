package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// corpusMsg is one test message: raw is what `deliver` reads on stdin.
type corpusMsg struct {
	name string
	raw  []byte
}

// want is what a POP3 client must retrieve: raw with every line ending made
// CRLF (the store's contract) and, since POP3 ends the last line before the
// terminating ".", a final CRLF if raw had none.
func (m corpusMsg) want() []byte {
	w := crlf(m.raw)
	if !bytes.HasSuffix(w, []byte("\r\n")) {
		w = append(w, '\r', '\n')
	}
	return w
}

// storedSizes are the sizes LIST may report: the CRLF-normalized message,
// plus the CRLF a server may add to a message without a final line end.
func (m corpusMsg) storedSizes() []int {
	n := len(crlf(m.raw))
	if bytes.HasSuffix(m.raw, []byte("\n")) || len(m.raw) == 0 {
		return []int{n}
	}
	return []int{n, n + 2}
}

// crlf turns bare LF into CRLF and leaves CRLF alone.
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// lf turns CRLF into LF.
func lf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// corpusID is the header that names a message, so retrieved copies can be
// matched to originals whatever order a client stores them in.
const corpusID = "X-Corpus-Id"

func header(name, subject string) string {
	return "Return-Path: <sender@example.org>\r\n" +
		"From: Sender <sender@example.org>\r\n" +
		"To: Alice <alice@example.com>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Thu, 26 Nov 2026 08:00:00 +0000\r\n" +
		"Message-ID: <" + name + "@corpus.example>\r\n" +
		corpusID + ": " + name + "\r\n" +
		"MIME-Version: 1.0\r\n"
}

// randBytes returns n deterministic pseudo-random bytes for seed.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// b64Lines is base64 of data in 76-character lines, each ending in CRLF.
func b64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var sb strings.Builder
	sb.Grow(len(enc) + len(enc)/76*2 + 2)
	for len(enc) > 76 {
		sb.WriteString(enc[:76])
		sb.WriteString("\r\n")
		enc = enc[76:]
	}
	sb.WriteString(enc)
	sb.WriteString("\r\n")
	return sb.String()
}

// corpus returns the varied messages every client must retrieve unchanged,
// without the big one (see bigMessage).
func corpus() []corpusMsg {
	var msgs []corpusMsg
	add := func(name, raw string) { msgs = append(msgs, corpusMsg{name, []byte(raw)}) }

	add("plain-ascii", header("plain-ascii", "Plain ASCII")+
		"Content-Type: text/plain; charset=us-ascii\r\n"+
		"\r\n"+
		"Hello Alice,\r\n"+
		"\r\n"+
		"From here on the body has a line starting with \"From \" (mbox would quote it).\r\n"+
		"A line with trailing spaces   \r\n"+
		"\tA line starting with a tab\r\n"+
		"\r\n"+
		"-- \r\n"+
		"Sender\r\n")

	add("multipart-alternative", header("multipart-alternative", "Alternative")+
		"Content-Type: multipart/alternative; boundary=\"alt-b0undary\"\r\n"+
		"\r\n"+
		"This is a multi-part message in MIME format.\r\n"+
		"--alt-b0undary\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: quoted-printable\r\n"+
		"\r\n"+
		"Gr=C3=BC=C3=9Fe aus K=C3=B6ln, a soft line break =\r\n"+
		"continues here.\r\n"+
		"--alt-b0undary\r\n"+
		"Content-Type: text/html; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: quoted-printable\r\n"+
		"\r\n"+
		"<html><body><p>Gr=C3=BC=C3=9Fe aus <b>K=C3=B6ln</b></p></body></html>\r\n"+
		"--alt-b0undary--\r\n"+
		"Epilogue text.\r\n")

	att1 := b64Lines(randBytes(1, 150_000))
	att2 := b64Lines(randBytes(2, 3_000))
	add("multipart-mixed", header("multipart-mixed", "Mixed with attachments")+
		"Content-Type: multipart/mixed; boundary=mixed-1\r\n"+
		"\r\n"+
		"--mixed-1\r\n"+
		"Content-Type: text/plain; charset=us-ascii\r\n"+
		"\r\n"+
		"Two attachments follow.\r\n"+
		"--mixed-1\r\n"+
		"Content-Type: application/pdf; name=\"report.pdf\"\r\n"+
		"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n"+
		"\r\n"+
		att1+
		"--mixed-1\r\n"+
		"Content-Type: image/png; name=\"pixel.png\"\r\n"+
		"Content-Disposition: attachment; filename=\"pixel.png\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n"+
		"\r\n"+
		att2+
		"--mixed-1--\r\n")

	add("nested-rfc822", header("nested-rfc822", "Fwd: the inner message")+
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"+
		"\r\n"+
		"--outer\r\n"+
		"Content-Type: text/plain\r\n"+
		"\r\n"+
		"See the forwarded message.\r\n"+
		"--outer\r\n"+
		"Content-Type: message/rfc822\r\n"+
		"Content-Disposition: inline\r\n"+
		"\r\n"+
		"From: Inner <inner@example.net>\r\n"+
		"To: Sender <sender@example.org>\r\n"+
		"Subject: The inner message\r\n"+
		"Date: Wed, 25 Nov 2026 10:00:00 +0100\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: multipart/alternative; boundary=\"inner\"\r\n"+
		"\r\n"+
		"--inner\r\n"+
		"Content-Type: text/plain\r\n"+
		"\r\n"+
		"inner plain\r\n"+
		".\r\n"+
		"--inner\r\n"+
		"Content-Type: text/html\r\n"+
		"\r\n"+
		"<p>inner html</p>\r\n"+
		"--inner--\r\n"+
		"\r\n"+
		"--outer--\r\n")

	add("utf8-8bit", "Return-Path: <sender@example.org>\r\n"+
		"From: Jürgen Müller <jürgen@exämple.org>\r\n"+
		"To: Алиса <alice@example.com>\r\n"+
		"Subject: Grüße — 你好 — Привет 😀\r\n"+
		"Date: Thu, 26 Nov 2026 08:00:00 +0000\r\n"+
		"Message-ID: <utf8-8bit@corpus.example>\r\n"+
		corpusID+": utf8-8bit\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"Content-Transfer-Encoding: 8bit\r\n"+
		"\r\n"+
		"Grüße aus Köln. Ελληνικά. 日本語のテキスト。\r\n"+
		"Emoji: 😀🎉 and a non-breaking\u00a0space.\r\n")

	long1 := strings.Repeat("0123456789", 150) // 1500 chars
	long2 := strings.Repeat("abcdefghijklmnopqrstuvwxyz ", 300)[:8000]
	longHdr := strings.TrimSpace(strings.Repeat("word ", 250)) // 1249 chars, unfolded
	add("long-lines", header("long-lines", "Very long lines")+
		"X-Long-Header: "+longHdr+"\r\n"+
		"Content-Type: text/plain\r\n"+
		"\r\n"+
		long1+"\r\n"+
		"short\r\n"+
		long2+"\r\n"+
		"."+long1+"\r\n")

	add("dot-stuffing", header("dot-stuffing", "Dots")+
		"Content-Type: text/plain\r\n"+
		"\r\n"+
		".\r\n"+
		"..\r\n"+
		"...\r\n"+
		".leading dot\r\n"+
		"..two leading dots\r\n"+
		". dot space\r\n"+
		"middle . dot\r\n"+
		"\r\n"+
		".\r\n"+
		"after a lone dot\r\n"+
		".\r\n")

	add("no-trailing-newline", header("no-trailing-newline", "No final newline")+
		"Content-Type: text/plain\r\n"+
		"\r\n"+
		"The last line has no line end.")

	add("bare-lf", strings.ReplaceAll(header("bare-lf", "Bare LF input")+
		"Content-Type: text/plain\r\n"+
		"\r\n"+
		"Every line of this message was delivered with a bare LF.\r\n"+
		"..dot line\r\n"+
		".\r\n"+
		"last line\r\n", "\r\n", "\n"))

	add("headers-only", header("headers-only", "Only headers")+"\r\n")
	return msgs
}

var bigOnce = sync.OnceValue(func() corpusMsg {
	data := randBytes(20, 15<<20) // 15 MiB binary: ~20.3 MiB base64 with line ends
	return corpusMsg{"big-20mb", []byte(header("big-20mb", "A 20 MB attachment") +
		"Content-Type: multipart/mixed; boundary=big\r\n" +
		"\r\n" +
		"--big\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"A big attachment follows.\r\n" +
		"--big\r\n" +
		"Content-Type: application/octet-stream; name=\"big.bin\"\r\n" +
		"Content-Disposition: attachment; filename=\"big.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		b64Lines(data) +
		"--big--\r\n")}
})

// bigMessage is a message of about 20 MB, most of it a base64 attachment.
func bigMessage() corpusMsg { return bigOnce() }

// corpusName returns the X-Corpus-Id of a retrieved message ("" if none).
func corpusName(msg []byte) string {
	hdrEnd := bytes.Index(msg, []byte("\n\n"))
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 && (hdrEnd < 0 || i < hdrEnd) {
		hdrEnd = i
	}
	if hdrEnd < 0 {
		hdrEnd = len(msg)
	}
	for _, line := range bytes.Split(msg[:hdrEnd], []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(k), corpusID) {
			return strings.TrimSpace(string(v))
		}
	}
	return ""
}

// diffAt describes the first difference of got and want, for failures
// where printing 20 MB is no help.
func diffAt(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	ctx := func(b []byte) string {
		lo, hi := max(0, i-60), min(len(b), i+60)
		return fmt.Sprintf("%q", b[lo:hi])
	}
	return fmt.Sprintf("len(got)=%d len(want)=%d, first difference at byte %d:\n got: %s\nwant: %s",
		len(got), len(want), i, ctx(got), ctx(want))
}
