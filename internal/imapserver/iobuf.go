package imapserver

import (
	"bufio"
	"io"
	"sync"
)

// Buffers of a session that waits for its client.
//
// Most IMAP connections spend nearly all their life waiting: between
// commands and, above all, in IDLE (issue 8: 10,000 idle connections under
// 60 KiB each). A session's input and output buffers (readBufSize +
// writeBufSize = 40 KiB) are only needed while a command is read and
// answered, so while the session waits for the first byte of the next
// command, or for input or a wake-up in IDLE, it parks them: the buffers
// go back to a process-wide pool and the waiting read goes into a one-byte
// array in the session (awaitInput). When the byte arrives the session
// takes buffers from the pool again and the byte is handed to the reader
// first (connReader).
//
// bufio has no API to hand its buffer back. A bufio.Reader or
// bufio.Writer value is plain data (a slice, a destination, counters; no
// locks), so moving the value moves the buffer: park copies *s.br into a
// pooled *bufio.Reader and sets *s.br to the zero value; unpark copies a
// pooled value back and Resets it. The pointers s.br and s.bw, which the
// decoder and encoder hold, never change. A parked reader or writer must
// not be used: only awaitInput parks, and it unparks before it returns.
//
// Sessions with COMPRESS active keep their buffers (s.br then reads from
// an inflater whose state is not parked).
const (
	// readBufSize is the input buffer of a session while it reads a
	// command.
	readBufSize = 8 * 1024
)

var (
	readBufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writeBufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

// connReader is the source of s.br: the connection, after the byte that
// awaitInput took from it, if any.
type connReader struct {
	conn    io.Reader
	pending [1]byte
	has     bool
}

// Read returns the pending byte first; in the same call it reads what
// follows from the connection, which blocks only until more input arrives:
// no IMAP command is one byte long, so the reader's caller needs more
// anyway.
func (r *connReader) Read(p []byte) (int, error) {
	if !r.has || len(p) == 0 {
		return r.conn.Read(p)
	}
	p[0] = r.pending[0]
	r.has = false
	if len(p) == 1 {
		return 1, nil
	}
	n, err := r.conn.Read(p[1:])
	return n + 1, err
}

// awaitInput blocks until the client sends something (or the read
// deadline passes, or the connection fails), holding no buffers while it
// waits. It returns at once when input is already buffered. On return
// the buffers are in place, also on error (the caller may still say BYE).
// The read deadline in force applies.
func (s *session) awaitInput() error {
	if s.br.Buffered() > 0 || s.src.has {
		return nil
	}
	if s.deflate {
		// s.br reads from the inflater: wait through it, keeping the
		// buffers (a timeout ends the compressed stream; IDLE does not
		// come here under COMPRESS).
		_, err := s.br.Peek(1)
		return err
	}
	if s.bw.Buffered() > 0 {
		// Callers flush first; a write error kept the data: keep the
		// buffers so the caller sees the error on its next flush.
		_, err := s.br.Peek(1)
		return err
	}
	s.parkBuffers()
	n, err := s.conn.Read(s.src.pending[:])
	s.src.has = n > 0
	s.unparkBuffers()
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (s *session) parkBuffers() {
	r := new(bufio.Reader)
	*r = *s.br
	r.Reset(nil)
	readBufPool.Put(r)
	*s.br = bufio.Reader{}

	w := new(bufio.Writer)
	*w = *s.bw
	w.Reset(nil)
	writeBufPool.Put(w)
	*s.bw = bufio.Writer{}
}

func (s *session) unparkBuffers() {
	*s.br = *readBufPool.Get().(*bufio.Reader)
	s.br.Reset(&s.src)
	*s.bw = *writeBufPool.Get().(*bufio.Writer)
	s.bw.Reset(deadlineWriter{s})
}
