package message

import "io"

// NewCRLFReader returns a reader that converts bare LF line ends to CRLF
// and leaves CRLF alone. A bare CR is kept as it is, as dovecot-lda does: it
// is not a line end, and changing it would alter the message's bytes. It streams: memory does not depend on
// the input size. Delivery uses it so that stored sizes are CRLF octet
// counts, as IMAP requires.
func NewCRLFReader(r io.Reader) io.Reader {
	return &crlfReader{r: r, in: make([]byte, 32<<10)}
}

type crlfReader struct {
	r      io.Reader
	in     []byte
	buf    []byte // converted output not yet returned
	lastCR bool   // the last input byte was a CR
	err    error
}

func (c *crlfReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		n, err := c.r.Read(c.in)
		c.convert(c.in[:n])
		if err != nil {
			c.err = err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *crlfReader) convert(in []byte) {
	out := c.buf[:0]
	if cap(out) < 2*len(in)+1 {
		out = make([]byte, 0, 2*len(in)+1)
	}
	for _, b := range in {
		switch b {
		case '\n':
			if !c.lastCR {
				out = append(out, '\r')
			}
			out = append(out, '\n')
			c.lastCR = false
		case '\r':
			out = append(out, '\r')
			c.lastCR = true
		default:
			out = append(out, b)
			c.lastCR = false
		}
	}
	c.buf = out
}
