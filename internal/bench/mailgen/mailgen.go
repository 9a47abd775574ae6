// Package mailgen generates a deterministic corpus of realistic mail for
// benchmarks: the same seed and index always give the same bytes, so two
// servers can be loaded with identical mailboxes.
//
// Shapes (by share of messages): 55% text/plain, 25% multipart/alternative
// (text + HTML), 12% multipart/mixed with a text part and one attachment,
// 5% multipart/mixed with an alternative part and an attachment, 3%
// multipart/mixed with two attachments. Bodies are 0.3-4 KB of text,
// attachments 2-26 KB before base64; the average message is ~7 KB.
package mailgen

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Message is one generated message. Body uses LF line endings; use CRLF for
// stores that keep CRLF (the IMAP-visible bytes are the same).
type Message struct {
	Body []byte
	Date time.Time // internal date (the Date: header's instant)
	Seen bool      // ~30% of messages
}

var (
	firstNames = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoë"}
	lastNames  = []string{"Smith", "Jones", "Müller", "García", "Rossi", "Dubois", "Nowak", "Svensson", "Tanaka", "Kowalski", "O'Brien", "Nguyen", "Silva", "Schmidt", "Novák"}
	domains    = []string{"example.org", "example.com", "example.net", "mail.example.org", "lists.example.com", "corp.example.net"}
	words      = strings.Fields(`the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part over new sound take only little work know place year live me back give most very after thing our just name good sentence man think say great where help through much before line right too mean old any same tell boy follow came want show also around form three small set put end does another well large must big even such because turn here why ask went men read need land different home us move try kind hand picture again change off play spell air away animal house point page letter mother answer found study still learn should world meeting report budget release server mailbox invoice schedule review patch deploy`)
	subjects   = []string{"Meeting notes", "Quarterly report", "Re: your invoice", "Release planning", "Lunch on Friday?", "Server maintenance window", "Patch review", "Holiday schedule", "Fwd: contract draft", "Build failed on main", "Welcome aboard", "Your order has shipped", "Weekly digest", "Question about the API", "Travel arrangements", "Ünïcödé subject line ✓"}
	attachExt  = []struct{ ctype, ext string }{{"application/pdf", "pdf"}, {"image/jpeg", "jpg"}, {"image/png", "png"}, {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"}, {"application/zip", "zip"}, {"text/calendar", "ics"}}
)

// Generate returns message i (0-based) of the corpus for seed.
func Generate(seed uint64, i int) Message {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	g := gen{r: r}
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	// Messages arrive in order, ~8 minutes apart on average.
	date := base.Add(time.Duration(i)*8*time.Minute + time.Duration(r.IntN(300))*time.Second)
	zone := time.FixedZone("", (r.IntN(25)-12)*3600)
	date = date.In(zone)

	var b bytes.Buffer
	from := g.addr()
	to := g.addr()
	msgID := fmt.Sprintf("<%016x.%d@%s>", r.Uint64(), i, pick(r, domains))
	fmt.Fprintf(&b, "Return-Path: <%s>\n", from.email)
	fmt.Fprintf(&b, "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\n\tby mail.example.org with ESMTPS id %012X\n\tfor <%s>; %s\n",
		r.IntN(9), pick(r, domains), r.IntN(9), pick(r, domains), r.IntN(250)+1, r.Uint64()&0xffffffffffff, to.email, date.Format(time.RFC1123Z))
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=sel1;\n\th=from:to:subject:date:message-id; bh=%s;\n\tb=%s\n",
			pick(r, domains), g.b64(32), g.wrapB64(g.b64(256), "\t"))
	}
	fmt.Fprintf(&b, "Date: %s\n", date.Format("Mon, 2 Jan 2006 15:04:05 -0700"))
	fmt.Fprintf(&b, "From: %s\n", from.header())
	fmt.Fprintf(&b, "To: %s", to.header())
	for n := r.IntN(4); n > 0 && r.IntN(3) == 0; n-- {
		fmt.Fprintf(&b, ",\n %s", g.addr().header())
	}
	b.WriteString("\n")
	if r.IntN(4) == 0 {
		fmt.Fprintf(&b, "Cc: %s\n", g.addr().header())
	}
	subj := pick(r, subjects)
	if strings.ContainsFunc(subj, func(c rune) bool { return c > 127 }) {
		subj = "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(subj)) + "?="
	}
	if r.IntN(3) == 0 {
		fmt.Fprintf(&b, "Subject: Re: %s #%d\n", subj, i%977)
		fmt.Fprintf(&b, "In-Reply-To: <%016x.%d@%s>\n", r.Uint64(), r.IntN(i+1), pick(r, domains))
	} else {
		fmt.Fprintf(&b, "Subject: %s #%d\n", subj, i%977)
	}
	fmt.Fprintf(&b, "Message-ID: %s\n", msgID)
	b.WriteString("MIME-Version: 1.0\n")

	shape := r.IntN(100)
	boundary := fmt.Sprintf("=_b%016x", r.Uint64())
	switch {
	case shape < 55:
		g.textPart(&b, true)
	case shape < 80:
		g.alternative(&b, boundary)
	default:
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n", boundary)
		fmt.Fprintf(&b, "--%s\n", boundary)
		if shape >= 92 && shape < 97 {
			g.alternative(&b, boundary+"a")
		} else {
			g.textPart(&b, true)
		}
		natt := 1
		if shape >= 97 {
			natt = 2
		}
		for k := 0; k < natt; k++ {
			fmt.Fprintf(&b, "\n--%s\n", boundary)
			g.attachment(&b)
		}
		fmt.Fprintf(&b, "\n--%s--\n", boundary)
	}
	return Message{Body: b.Bytes(), Date: date, Seen: r.IntN(10) < 3}
}

type gen struct{ r *rand.Rand }

type addr struct{ name, email string }

func (a addr) header() string {
	name := a.name
	if strings.ContainsFunc(name, func(c rune) bool { return c > 127 }) {
		name = "=?UTF-8?Q?" + qEncode(name) + "?="
	} else if strings.ContainsAny(name, "'") {
		name = `"` + name + `"`
	}
	return name + " <" + a.email + ">"
}

func qEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c < 128 && c != '=' && c != '?' && c != '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

func (g gen) addr() addr {
	f, l := pick(g.r, firstNames), pick(g.r, lastNames)
	local := strings.ToLower(strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return c
		}
		return -1
	}, f+"."+l))
	if local == "" {
		local = "user"
	}
	return addr{name: f + " " + l, email: fmt.Sprintf("%s%d@%s", local, g.r.IntN(100), pick(g.r, domains))}
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// text returns n bytes (approximately) of wrapped prose.
func (g gen) text(n int) string {
	var b strings.Builder
	line := 0
	for b.Len() < n {
		w := words[g.r.IntN(len(words))]
		if line+len(w)+1 > 72 {
			b.WriteString("\n")
			line = 0
			if g.r.IntN(6) == 0 {
				b.WriteString("\n")
			}
		} else if line > 0 {
			b.WriteString(" ")
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteString("\n")
	return b.String()
}

func (g gen) textPart(b *bytes.Buffer, headers bool) string {
	t := g.text(300 + g.r.IntN(3700))
	if headers {
		b.WriteString("Content-Type: text/plain; charset=utf-8; format=flowed\nContent-Transfer-Encoding: 8bit\n\n")
	}
	b.WriteString(t)
	return t
}

func (g gen) alternative(b *bytes.Buffer, boundary string) {
	fmt.Fprintf(b, "Content-Type: multipart/alternative; boundary=\"%s\"\n\n", boundary)
	fmt.Fprintf(b, "--%s\n", boundary)
	t := g.textPart(b, true)
	fmt.Fprintf(b, "\n--%s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n", boundary)
	b.WriteString("<html><head><meta http-equiv=3D\"Content-Type\" content=3D\"text/html; charset=3Dutf-8\"></head><body>\n")
	for _, para := range strings.Split(t, "\n\n") {
		b.WriteString("<p style=3D\"margin:0 0 1em 0\">")
		b.WriteString(strings.ReplaceAll(para, "\n", " "))
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	fmt.Fprintf(b, "\n--%s--\n", boundary)
}

func (g gen) attachment(b *bytes.Buffer) {
	a := pick(g.r, attachExt)
	name := fmt.Sprintf("%s-%d.%s", pick(g.r, []string{"report", "scan", "photo", "invoice", "notes", "archive"}), g.r.IntN(1000), a.ext)
	fmt.Fprintf(b, "Content-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n", a.ctype, name, name)
	raw := make([]byte, 2048+g.r.IntN(24*1024))
	for k := range raw {
		raw[k] = byte(g.r.Uint32())
	}
	b.WriteString(g.wrapB64(base64.StdEncoding.EncodeToString(raw), ""))
}

func (g gen) b64(n int) string {
	raw := make([]byte, n*3/4)
	for k := range raw {
		raw[k] = byte(g.r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func (g gen) wrapB64(s, indent string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteString("\n" + indent)
		s = s[76:]
	}
	b.WriteString(s)
	b.WriteString("\n")
	return b.String()
}

// CRLF returns body with every LF turned into CRLF.
func CRLF(body []byte) []byte {
	return bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n"))
}
