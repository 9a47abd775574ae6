package pop3server

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// copyBufSize is the chunk size used to stream a message from the store.
const copyBufSize = 32 * 1024

// copyBufs holds the chunk buffers of messages being sent, so that a RETR
// allocates nothing per message (issue 8).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// writeMessage streams a stored message from r to w as the body of a POP3
// multi-line response (RFC 1939 section 3) and ends it with the ".CRLF"
// terminator. It returns the number of bytes written to w.
//
//   - Every line that starts with '.' gets a second '.' (byte-stuffing).
//   - A bare LF is written as CRLF, so a line can never end early or be
//     mistaken for the terminator; stored mail is CRLF already, so this only
//     guards against a damaged blob.
//   - A message that does not end with a line break gets CRLF added before
//     the terminator.
//
// With bodyLines >= 0 (TOP, RFC 1939 section 7) only the header, the blank
// line after it and at most bodyLines lines of the body are sent. A message
// without a blank line is all header and is sent whole.
//
// writeMessage does not flush; w flushes itself whenever its buffer fills, so
// memory use is bounded by the buffers, not by the message size.
func writeMessage(w *bufio.Writer, r io.Reader, bodyLines int64) (int64, error) {
	dw := dotWriter{w: w, lineStart: true, bodyLeft: bodyLines}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for !dw.done {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := dw.write(buf[:n]); err != nil {
				return dw.n, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return dw.n, rerr
		}
	}
	if !dw.lineStart {
		dw.put([]byte("\r\n"))
	}
	dw.put([]byte(".\r\n"))
	return dw.n, dw.err
}

// dotWriter is writeMessage's state between chunks.
type dotWriter struct {
	w         *bufio.Writer
	n         int64
	err       error
	lineStart bool  // the next byte starts a line
	prevCR    bool  // the last byte of the current line so far is '\r'
	lineLen   int   // bytes of the current line so far, CR included
	inBody    bool  // the blank line ending the header has been written
	bodyLeft  int64 // body lines still to send; < 0: unlimited
	done      bool  // TOP's line budget is spent
}

func (d *dotWriter) put(b []byte) {
	if d.err != nil {
		return
	}
	n, err := d.w.Write(b)
	d.n += int64(n)
	d.err = err
}

// putByte writes one inserted byte (a stuffing '.', a missing CR) without
// allocating a slice for it.
func (d *dotWriter) putByte(c byte) {
	if d.err != nil {
		return
	}
	d.err = d.w.WriteByte(c)
	if d.err == nil {
		d.n++
	}
}

func (d *dotWriter) write(buf []byte) error {
	// Bytes are passed through in runs; a run is cut only where a byte
	// must be inserted (a stuffing '.', a missing CR), so a typical chunk
	// is one Write.
	start, i := 0, 0
	for i < len(buf) && !d.done {
		if d.lineStart && buf[i] == '.' {
			d.put(buf[start:i])
			d.putByte('.')
			start = i
		}
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			d.lineLen += len(buf) - i
			d.prevCR = buf[len(buf)-1] == '\r'
			d.lineStart = false
			i = len(buf)
			break
		}
		j += i
		hasCR := (j > i && buf[j-1] == '\r') || (j == i && d.prevCR)
		if !hasCR {
			d.put(buf[start:j])
			d.putByte('\r')
			start = j
		}
		content := d.lineLen + (j - i)
		if hasCR {
			content--
		}
		i = j + 1
		d.endLine(content == 0)
	}
	d.put(buf[start:i])
	return d.err
}

// endLine records a completed line; empty reports whether it had no
// content besides its line break.
func (d *dotWriter) endLine(empty bool) {
	d.lineStart, d.prevCR, d.lineLen = true, false, 0
	if d.bodyLeft < 0 {
		return
	}
	if !d.inBody {
		if empty {
			d.inBody = true
			d.done = d.bodyLeft == 0
		}
		return
	}
	d.bodyLeft--
	d.done = d.bodyLeft == 0
}
