package imapserver

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
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
// decoder and encoder hold, never change. While parked, s.bw is a working
// writer with a parkedWriteBuf-byte buffer, so that what an idle session
// says without being asked (IDLE's updates and keepalives, BYE at
// shutdown or timeout) needs no big buffer: a wake-up of 10,000 idling
// sessions does not take 10,000 output buffers from the pool at once. The
// parked reader is the zero value and must not be read: awaitInput reads
// the connection itself while parked, and unparks as soon as input
// arrives; after a failed read the session only ends or, in IDLE, waits
// again.
//
// Sessions with COMPRESS active keep their buffers (s.br then reads from
// an inflater whose state is not parked).
const (
	// readBufSize is the input buffer of a session while it reads a
	// command.
	readBufSize = 8 * 1024
	// parkedWriteBuf is the output buffer of a parked session: one IDLE
	// update line ("* 12345 EXISTS") fits.
	parkedWriteBuf = 64
)

var (
	readBufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writeBufPool = sync.Pool{New: func() any { writeBufsMade.Add(1); return bufio.NewWriterSize(nil, writeBufSize) }}
	// writeBufsMade counts the output buffers the pool had to make
	// (TestSessionBuffersReused).
	writeBufsMade atomic.Int64
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
// deadline passes, or the connection fails), holding no big buffers while
// it waits. It returns at once when input is already buffered. It returns
// nil with the buffers in place; after an error they may stay parked (see
// above): the caller may write (BYE, IDLE updates) and call awaitInput
// again, but must not read. The read deadline in force applies.
func (s *session) awaitInput() error {
	if !s.parked && s.br.Buffered() > 0 || s.src.has {
		s.unparkBuffers()
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
		// Callers flush first; a failed flush keeps its data: keep the
		// buffers so that the caller sees the error on its next flush.
		s.unparkBuffers()
		_, err := s.br.Peek(1)
		return err
	}
	s.parkBuffers()
	n, err := s.conn.Read(s.src.pending[:])
	if n > 0 {
		s.src.has = true
		s.unparkBuffers()
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// parkBuffers gives the session's buffers back to the pools (see above).
// It does nothing when they are parked already.
func (s *session) parkBuffers() {
	if s.parked {
		return
	}
	s.parked = true
	r := new(bufio.Reader)
	*r = *s.br
	r.Reset(nil)
	readBufPool.Put(r)
	*s.br = bufio.Reader{}

	w := new(bufio.Writer)
	*w = *s.bw
	w.Reset(nil)
	writeBufPool.Put(w)
	*s.bw = *bufio.NewWriterSize(deadlineWriter{s}, parkedWriteBuf)
}

// releaseBuffers gives the buffers back to the pools for good when the
// session has ended: without it every connection allocated 40 KiB that it
// dropped at logout, 12% of the bytes the server allocated under the
// webmail profile of roost bench (short sessions, one per page view;
// docs/BENCHMARKS.md). The session must not read or write afterwards:
// s.br and s.bw are left zero (a write would panic, never reach another
// session's buffer). Buffers of another size (COMPRESS's reader and
// writer chain) are left to the collector.
func (s *session) releaseBuffers() {
	if s.deflate {
		return
	}
	if !s.parked {
		r := new(bufio.Reader)
		*r = *s.br
		r.Reset(nil)
		readBufPool.Put(r)
		w := new(bufio.Writer)
		*w = *s.bw
		w.Reset(nil)
		writeBufPool.Put(w)
	}
	s.parked = true
	*s.br = bufio.Reader{}
	*s.bw = bufio.Writer{}
}

// unparkBuffers takes buffers from the pools. It does nothing when the
// session has its buffers. The parked writer must be flushed.
func (s *session) unparkBuffers() {
	if !s.parked {
		return
	}
	s.parked = false
	*s.br = *readBufPool.Get().(*bufio.Reader)
	s.br.Reset(&s.src)
	*s.bw = *writeBufPool.Get().(*bufio.Writer)
	s.bw.Reset(deadlineWriter{s})
}
