package message

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// Parse reads a whole message and returns its part tree. The message should
// already be CRLF-normalized (see NewCRLFReader); bare LF line ends are
// tolerated (offsets are then counted on the bytes as given).
//
// Parse never fails on malformed MIME; it returns an error only when r fails.
// Memory does not grow with the size of a body part: only header fields are
// kept, within the limits MaxPartHeader and MaxHeaderTotal.
func Parse(r io.Reader) (*Message, error) {
	p := &parser{br: bufio.NewReaderSize(r, 64<<10)}
	root := &Part{}
	st := p.parsePart(root, 0, false)
	if p.err != nil {
		return nil, p.err
	}
	_ = st
	return &Message{Root: root, Size: p.off}, nil
}

// stop tells why a part ended.
type stop struct {
	eof     bool
	idx     int   // index into parser.bounds of the boundary found
	closing bool  // the boundary line was a close delimiter ("--b--")
	end     int64 // end of the ending part (start of the line break before the boundary line)
	endLFs  int64 // LFs before end
	next    int64 // offset after the boundary line
}

type parser struct {
	br  *bufio.Reader
	err error

	off         int64 // absolute offset of the next byte
	lfs         int64 // LFs read so far
	atLineStart bool  // the next byte starts a line
	lastTerm    int   // length of the line break of the last complete line

	bounds    []string // active boundaries, innermost last
	parts     int
	hdrKept   int64
	lineStart int64 // start offset of the last returned chunk
	prevTerm  int   // lastTerm before the last returned chunk

	// curBody is set by skipBody when the last chunk was a body line;
	// prevBody is its value for the chunk before. Like Dovecot, the line
	// break before a boundary line is left out of the ending part only when
	// it ends a body line (not a header line or another boundary line).
	curBody, prevBody bool
}

// next returns the next chunk of input: a whole line including its line
// break, or a piece of a line longer than the buffer. It returns nil at EOF
// or on a read error (kept in p.err). The slice is valid until the next call.
func (p *parser) next() (chunk []byte, lineStart bool) {
	if p.err != nil {
		return nil, false
	}
	b, err := p.br.ReadSlice('\n')
	if err != nil && err != bufio.ErrBufferFull {
		if err != io.EOF {
			p.err = err
			return nil, false
		}
		if len(b) == 0 {
			return nil, false
		}
	}
	lineStart = p.atLineStart || p.off == 0
	p.lineStart = p.off
	p.prevTerm = p.lastTerm
	p.prevBody, p.curBody = p.curBody, false
	p.off += int64(len(b))
	if n := len(b); n > 0 && b[n-1] == '\n' {
		p.lfs++
		p.atLineStart = true
		if n > 1 && b[n-2] == '\r' {
			p.lastTerm = 2
		} else {
			p.lastTerm = 1
		}
	} else {
		p.atLineStart = false
		p.lastTerm = 0
	}
	return b, lineStart
}

// boundary checks whether line (at a line start) is a delimiter line of an
// active boundary, innermost first, like Dovecot: "--" followed by the
// boundary as a prefix.
func (p *parser) boundary(line []byte) (idx int, closing, ok bool) {
	if len(p.bounds) == 0 || len(line) < 2 || line[0] != '-' || line[1] != '-' {
		return 0, false, false
	}
	rest := line[2:]
	for i := len(p.bounds) - 1; i >= 0; i-- {
		b := p.bounds[i]
		if len(rest) >= len(b) && string(rest[:len(b)]) == b {
			after := rest[len(b):]
			closing = len(after) >= 2 && after[0] == '-' && after[1] == '-'
			return i, closing, true
		}
	}
	return 0, false, false
}

// stopAt builds the stop for a boundary line just returned by next.
func (p *parser) stopAt(idx int, closing bool) stop {
	end := p.lineStart
	lfs := p.lfs - 1 // the boundary line's own LF (if any) is not before end
	if p.lastTerm == 0 {
		lfs = p.lfs
	}
	if p.prevBody && p.prevTerm > 0 {
		end -= int64(p.prevTerm)
		lfs--
	}
	return stop{idx: idx, closing: closing, end: end, endLFs: lfs, next: p.off}
}

func (p *parser) eofStop() stop {
	return stop{eof: true, end: p.off, endLFs: p.lfs, next: p.off}
}

// finish sets the end of part pt from st.
func finish(pt *Part, st stop, bodyLFs int64) {
	if st.end < pt.BodyStart {
		pt.End = pt.BodyStart
		pt.Lines = 0
		return
	}
	pt.End = st.end
	pt.Lines = st.endLFs - bodyLFs
}

// parsePart parses the part starting at the current offset. digest says the
// part is a child of a multipart/digest (default type message/rfc822).
func (p *parser) parsePart(pt *Part, depth int, digest bool) stop {
	p.parts++
	pt.Start = p.off
	if st, ended := p.parseHeader(pt); ended {
		// The header ended at EOF or at a boundary line: the body is
		// empty and starts where the header ended.
		pt.BodyStart = st.end
		setContent(pt, digest)
		finish(pt, st, st.endLFs)
		return st
	}
	pt.BodyStart = p.off
	bodyLFs := p.lfs
	setContent(pt, digest)

	canNest := depth < MaxDepth && p.parts < MaxParts
	switch {
	case pt.multipart && canNest:
		st := p.parseMultipart(pt, depth)
		finish(pt, st, bodyLFs)
		return st
	case isMessageType(pt) && canNest:
		sub := &Part{}
		st := p.parsePart(sub, depth+1, false)
		pt.Message = sub
		sub.envelope = sub.Envelope() // kept so that a serialized tree can render BODYSTRUCTURE
		finish(pt, st, bodyLFs)
		return st
	}
	pt.multipart = false
	st := p.skipBody()
	finish(pt, st, bodyLFs)
	return st
}

// skipBody reads lines until an active boundary line or EOF.
func (p *parser) skipBody() stop {
	for {
		line, ls := p.next()
		if line == nil {
			return p.eofStop()
		}
		if ls {
			if idx, closing, ok := p.boundary(line); ok {
				return p.stopAt(idx, closing)
			}
		}
		p.curBody = true
	}
}

func (p *parser) parseMultipart(pt *Part, depth int) stop {
	p.bounds = append(p.bounds, pt.Param("boundary"))
	level := len(p.bounds) - 1
	defer func() { p.bounds = p.bounds[:level] }()
	digest := strings.EqualFold(pt.Subtype, "digest")

	// Preamble.
	st := p.skipBody()
	for {
		if st.eof || st.idx != level {
			return st
		}
		if st.closing {
			// Epilogue: everything up to an outer boundary or EOF.
			p.bounds = p.bounds[:level]
			st = p.skipBody()
			return st
		}
		if p.parts >= MaxParts {
			// Too many parts: the rest is body of this multipart.
			p.bounds = p.bounds[:level]
			return p.skipBody()
		}
		child := &Part{}
		pt.Children = append(pt.Children, child)
		st = p.parsePart(child, depth+1, digest)
	}
}

// parseHeader reads the header of pt up to and including the blank line.
// A boundary line (or EOF) ends the header early: then the body is empty and
// ended reports the stop.
func (p *parser) parseHeader(pt *Part) (st stop, ended bool) {
	var cur []byte // the field being collected
	kept := 0
	curDropped := false
	flush := func() {
		if cur == nil {
			return
		}
		f := cur
		cur = nil
		i := bytes.IndexByte(f, ':')
		if i <= 0 {
			return // not a field: skipped (Dovecot ignores it for MIME too)
		}
		name := strings.TrimRight(string(f[:i]), " \t")
		if name == "" {
			return
		}
		value := f[i+1:]
		value = bytes.TrimSuffix(value, []byte("\n"))
		value = bytes.TrimSuffix(value, []byte("\r"))
		if kept+len(f) > MaxPartHeader {
			return
		}
		if p.hdrKept+int64(len(f)) > MaxHeaderTotal {
			if !hasPrefixFold(name, "content-") || len(f) > 64<<10 {
				return
			}
		}
		kept += len(f)
		p.hdrKept += int64(len(f))
		pt.Header = append(pt.Header, Field{Name: name, Value: string(value)})
	}
	midLine := false
	for {
		line, ls := p.next()
		if line == nil {
			flush()
			return p.eofStop(), true
		}
		if ls && !midLine {
			if idx, closing, ok := p.boundary(line); ok {
				flush()
				return p.stopAt(idx, closing), true
			}
		}
		if !midLine && (isBlank(line)) {
			flush()
			return stop{}, false
		}
		continued := midLine || line[0] == ' ' || line[0] == '\t'
		if !continued {
			flush()
			curDropped = false
		}
		if !curDropped {
			if len(cur)+len(line) > MaxPartHeader {
				// An over-long field: read on, keep nothing of it.
				curDropped = true
				cur = nil
			} else {
				cur = append(cur, line...)
			}
		}
		midLine = line[len(line)-1] != '\n'
	}
}

func isBlank(line []byte) bool {
	return (len(line) == 1 && line[0] == '\n') || (len(line) == 2 && line[0] == '\r' && line[1] == '\n')
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isMessageType(pt *Part) bool {
	if !strings.EqualFold(pt.Type, "message") {
		return false
	}
	// Like Dovecot 2.3, only message/rfc822 is parsed as an embedded
	// message; message/global is a leaf.
	return strings.EqualFold(pt.Subtype, "rfc822")
}
