package imapserver

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/transform"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// msgContent gives SEARCH the header and body of one message, read lazily
// from the store: the top-level header once (bounded by maxFilterHeader),
// body parts streamed per key.
type msgContent struct {
	ctx   context.Context
	acct  mailstore.Account
	mbox  mailstore.MailboxID
	cache *mailstore.MessageCache
	// date is the internal date, the sent date of a message without a
	// usable Date: field (as Dovecot does).
	date time.Time

	body   mailstore.Body
	fields []message.Field // top-level header, parsed
	hdrOK  bool
	root   *message.Part
	// sf, when set, are the fields the store keeps for SEARCH
	// (mailstore.HeaderSearcher): keys on them are answered without the
	// header.
	sf *mailstore.SearchFields
}

func (c *msgContent) close() {
	if c.body != nil {
		c.body.Close()
		c.body = nil
	}
}

func (c *msgContent) open() (mailstore.Body, error) {
	if c.body == nil {
		b, err := c.acct.Open(c.ctx, c.mbox, c.cache.UID)
		if err != nil {
			return nil, err
		}
		c.body = b
	}
	return c.body, nil
}

// header returns the top-level header fields.
func (c *msgContent) header() ([]message.Field, error) {
	if c.hdrOK {
		return c.fields, nil
	}
	b, err := c.open()
	if err != nil {
		return nil, err
	}
	n := min(c.cache.HeaderSize, maxFilterHeader, b.Size())
	raw := make([]byte, max(n, 0))
	if _, err := b.ReadAt(raw, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read header: %w", err)
	}
	c.fields = mailstore.SplitHeader(raw)
	c.hdrOK = true
	return c.fields, nil
}

// fold returns s lower-cased for case-insensitive matching.
func fold(s string) string { return strings.ToLower(s) }

// match evaluates a content key.
func (c *msgContent) match(k *imap.SearchKey) (bool, error) {
	switch k.Op {
	case "BODY":
		return c.bodyContains(fold(k.Text))
	case "TEXT":
		needle := fold(k.Text)
		fields, err := c.header()
		if err != nil {
			return false, err
		}
		for _, f := range fields {
			if strings.Contains(fold(f.Name+":"+message.DecodeHeader(f.Value)), needle) {
				return true, nil
			}
		}
		return c.bodyContains(needle)
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		fields, err := c.header()
		if err != nil {
			return false, err
		}
		d, ok := sentDate(fields)
		if !ok {
			d = dayOf(c.date)
		}
		switch k.Op {
		case "SENTBEFORE":
			return d.Before(k.Date), nil
		case "SENTON":
			return d.Equal(k.Date), nil
		}
		return !d.Before(k.Date), nil
	}
	name := k.Op
	if k.Op == "HEADER" {
		name = k.Field
	}
	needle := fold(k.Text)
	if c.sf != nil {
		// The same answer as below, from the text the store keeps.
		if f, ok := mailstore.SearchFieldOf(name); ok {
			return c.sf.Contains(f, needle), nil
		}
	}
	fields, err := c.header()
	if err != nil {
		return false, err
	}
	for _, f := range fields {
		if !strings.EqualFold(f.Name, name) {
			continue
		}
		if needle == "" || strings.Contains(mailstore.HeaderFieldText(f.Value), needle) {
			return true, nil
		}
	}
	return false, nil
}

// sentDate returns the date of the Date: field (in its own zone).
func sentDate(fields []message.Field) (time.Time, bool) {
	for _, f := range fields {
		if !strings.EqualFold(f.Name, "Date") {
			continue
		}
		t, err := mail.ParseDate(strings.TrimSpace(message.DecodeHeader(f.Value)))
		if err != nil {
			return time.Time{}, false
		}
		return dayOf(t), true
	}
	return time.Time{}, false
}

// bodyContains reports whether a text part of the message (or the header
// of an embedded message) contains needle (folded).
func (c *msgContent) bodyContains(needle string) (bool, error) {
	if needle == "" {
		return true, nil
	}
	if c.root == nil {
		r, err := message.UnmarshalParts(c.cache.Parts)
		if err != nil {
			return false, fmt.Errorf("message %d: %w", c.cache.UID, err)
		}
		c.root = r
	}
	b, err := c.open()
	if err != nil {
		return false, err
	}
	return partContains(b, c.root, needle)
}

// partContains searches p's body: children of a multipart, the header and
// body of an embedded message, the decoded text of a text/* leaf.
func partContains(ra io.ReaderAt, p *message.Part, needle string) (bool, error) {
	switch {
	case p.IsMultipart():
		for _, ch := range p.Children {
			if ok, err := partContains(ra, ch, needle); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	case p.Message != nil:
		m := p.Message
		hdr := make([]byte, max(min(m.BodyStart-m.Start, maxFilterHeader), 0))
		if _, err := ra.ReadAt(hdr, m.Start); err != nil && err != io.EOF {
			return false, err
		}
		for _, f := range mailstore.SplitHeader(hdr) {
			if strings.Contains(fold(f.Name+":"+message.DecodeHeader(f.Value)), needle) {
				return true, nil
			}
		}
		return partContains(ra, m, needle)
	case !p.IsType("text", ""):
		return false, nil
	}
	var r io.Reader = io.NewSectionReader(ra, p.BodyStart, max(p.End-p.BodyStart, 0))
	r = message.NewDecoder(p.Encoding, r)
	if cs := p.Param("charset"); cs != "" {
		if e := lookupCharset(cs); e != nil {
			r = transform.NewReader(r, e.NewDecoder())
		}
	}
	return streamContains(r, needle)
}

// lookupCharset finds a decoder for a MIME charset name; nil for UTF-8,
// US-ASCII and unknown names (the bytes are then searched as they are).
func lookupCharset(name string) encoding.Encoding {
	name = strings.TrimSpace(name)
	switch strings.ToLower(name) {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
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

// streamContains reports whether the text read from r contains needle
// (folded), case-insensitively, without holding more than a chunk of r in
// memory. Chunks are cut at rune boundaries and overlap by len(needle)-1
// folded bytes.
func streamContains(r io.Reader, needle string) (bool, error) {
	buf := make([]byte, 32<<10)
	var carry []byte // incomplete UTF-8 sequence from the last read
	tail := ""       // last folded bytes of the previous window
	for {
		n, err := r.Read(buf)
		chunk := append(carry, buf[:n]...)
		carry = nil
		if err == nil {
			// Keep an incomplete rune at the end for the next round.
			cut := len(chunk)
			for k := 1; k <= 3 && k <= len(chunk); k++ {
				if utf8.RuneStart(chunk[len(chunk)-k]) {
					if !utf8.FullRune(chunk[len(chunk)-k:]) {
						cut = len(chunk) - k
					}
					break
				}
			}
			carry = append([]byte(nil), chunk[cut:]...)
			chunk = chunk[:cut]
		}
		window := tail + fold(string(chunk))
		if strings.Contains(window, needle) {
			return true, nil
		}
		if keep := len(needle) - 1; keep > 0 && len(window) > keep {
			tail = window[len(window)-keep:]
		} else {
			tail = window
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
