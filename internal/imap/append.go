package imap

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/imapwire"
)

// appendCmd: "APPEND" SP mailbox 1*append-message (RFC 3502 MULTIAPPEND);
// append-message = [SP flag-list] [SP date-time] SP append-data;
// append-data = literal / literal8 (RFC 3516) / "UTF8" SP "(" literal8 ")"
// (RFC 6855 4).
func (p *parser) appendCmd(cmd *Command) any {
	p.sp()
	a := &AppendCmd{Mailbox: p.mailbox()}
	for {
		p.sp()
		var m AppendMessage
		if p.dec.Peek('(') {
			if !p.dec.ExpectFlagList(&m.Flags) {
				p.fail()
			}
			p.sp()
		}
		if p.dec.Peek('"') {
			if !p.dec.ExpectDateTime(&m.Date) {
				p.fail()
			}
			p.sp()
		}
		if b, ok := p.dec.PeekByte(); ok && (b == 'U' || b == 'u') {
			if kw := p.keyword(); kw != "UTF8" {
				p.failf("expected literal or UTF8")
			}
			p.sp()
			p.special('(')
			if !p.dec.Peek('~') {
				p.failf("expected literal8 in UTF8 data")
			}
			m.UTF8 = true
			p.appendLiteral(&m)
			p.special(')')
		} else {
			p.appendLiteral(&m)
		}
		a.Messages = append(a.Messages, m)
		if !p.dec.Peek(' ') {
			p.check()
			return a
		}
	}
}

func (p *parser) appendLiteral(m *AppendMessage) {
	check := func(size int64, nonSync, binary bool) error {
		if p.opts.MaxAppendSize > 0 && size > p.opts.MaxAppendSize {
			return ErrTooBig
		}
		return nil
	}
	sink := func(info imapwire.LiteralInfo, r io.Reader) error {
		m.Binary = info.Binary
		// The memory budget is per command, so MULTIAPPEND of many small
		// messages cannot hold more than SpoolMemory in memory either.
		mem := p.opts.SpoolMemory - p.memUsed
		l, err := spool(r, info.Size, mem, p.opts.TempDir)
		if err != nil {
			return err
		}
		if _, inMem := l.(*memLiteral); inMem {
			p.memUsed += info.Size
		}
		m.Body = l
		p.lits = append(p.lits, l)
		return nil
	}
	if !p.dec.ExpectLiteralBody(true, check, sink) {
		p.fail()
	}
}

// spool copies size bytes from r into memory (size <= mem) or into an
// unlinked temporary file in dir.
func spool(r io.Reader, size, mem int64, dir string) (Literal, error) {
	if size <= mem {
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return &memLiteral{Reader: bytes.NewReader(buf)}, nil
	}
	f, err := os.CreateTemp(dir, "roost-append-*")
	if err != nil {
		return nil, err
	}
	l := &fileLiteral{f: f, size: size}
	// Unlink at once where the OS allows it, so nothing is left behind
	// after a crash; otherwise Close removes it.
	if os.Remove(f.Name()) != nil {
		l.path = f.Name()
	}
	n, err := io.Copy(f, r)
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// memLiteral is a literal spooled in memory. It also implements
// io.ReaderAt and io.Seeker.
type memLiteral struct{ *bytes.Reader }

func (l *memLiteral) Close() error { return nil }

// fileLiteral is a literal spooled to a temporary file. It also
// implements io.ReaderAt and io.Seeker.
type fileLiteral struct {
	f    *os.File
	size int64
	path string // to remove on Close; "" when already unlinked
}

func (l *fileLiteral) Read(p []byte) (int, error)              { return l.f.Read(p) }
func (l *fileLiteral) ReadAt(p []byte, off int64) (int, error) { return l.f.ReadAt(p, off) }
func (l *fileLiteral) Seek(off int64, whence int) (int64, error) {
	return l.f.Seek(off, whence)
}
func (l *fileLiteral) Size() int64 { return l.size }
func (l *fileLiteral) Close() error {
	err := l.f.Close()
	if l.path != "" {
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
		l.path = ""
	}
	return err
}

var (
	_ Literal     = (*memLiteral)(nil)
	_ io.ReaderAt = (*memLiteral)(nil)
	_ io.Seeker   = (*memLiteral)(nil)
	_ Literal     = (*fileLiteral)(nil)
	_ io.ReaderAt = (*fileLiteral)(nil)
	_ io.Seeker   = (*fileLiteral)(nil)
)

var _ = strings.ToUpper
var _ = time.Now
