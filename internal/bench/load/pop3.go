package load

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"time"
)

// POP3 is one client connection to a POP3 server (RFC 1939). Like IMAP it
// times and records every command and checks every response: a status line
// that is neither +OK nor -ERR, a multi-line response without its
// terminating dot, or a line without CRLF is KindMalformed; -ERR to a
// command the profile expects to work is KindBAD.
type POP3 struct {
	conn
}

// DialPOP3 connects, reads the greeting and (for TLSStart) runs STLS
// (RFC 2595). The time is recorded as "connect".
func (w *Worker) DialPOP3(ctx context.Context) (*POP3, error) {
	return dialTimed(ctx, w, w.dialPOP3)
}

func (w *Worker) dialPOP3(ctx context.Context) (*POP3, error) {
	t := w.eng.target
	nc, err := dialTCP(ctx, t, w.eng.tlsConf, w.localAddr())
	if err != nil {
		return nil, err
	}
	c := &POP3{conn: newConn(w, nc)}
	nc.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.status("greeting"); err != nil {
		nc.Close()
		return nil, err
	}
	if t.TLS == TLSStart {
		if _, err := c.exec("STLS", "STLS"); err != nil {
			nc.Close()
			return nil, err
		}
		if err := c.startTLS(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Cmd runs a single-line command and returns the text after "+OK".
func (c *POP3) Cmd(op, cmd string) (string, error) {
	start := time.Now()
	text, err := c.exec(op, cmd)
	if err != nil {
		c.w.Fail(AsError(op, err))
		return text, err
	}
	c.w.Record(op, time.Since(start))
	return text, nil
}

// Multi runs a multi-line command (RFC 1939 section 3) and returns the
// status text, the lines (dot-unstuffed; only if keep) and the number of
// octets of the body as the server counts them for RETR (CRLF line ends,
// before byte-stuffing).
func (c *POP3) Multi(op, cmd string, keep bool) (text string, lines []string, octets int64, err error) {
	start := time.Now()
	text, lines, octets, err = c.multi(op, cmd, keep)
	if err != nil {
		c.w.Fail(AsError(op, err))
		return
	}
	c.w.Record(op, time.Since(start))
	return
}

func (c *POP3) exec(op, cmd string) (string, error) {
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.c, cmd+"\r\n"); err != nil {
		return "", ioErr(op, err)
	}
	return c.status(op)
}

func (c *POP3) multi(op, cmd string, keep bool) (string, []string, int64, error) {
	text, err := c.exec(op, cmd)
	if err != nil {
		return text, nil, 0, err
	}
	var lines []string
	var octets int64
	for {
		line, err := c.line(op)
		if err != nil {
			return text, lines, octets, err
		}
		if bytes.Equal(line, []byte(".")) {
			return text, lines, octets, nil
		}
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		octets += int64(len(line)) + 2
		if keep {
			lines = append(lines, string(line))
		}
	}
}

// status reads a +OK/-ERR line.
func (c *POP3) status(op string) (string, error) {
	line, err := c.line(op)
	if err != nil {
		return "", err
	}
	s := string(line)
	switch {
	case s == "+OK" || strings.HasPrefix(s, "+OK "):
		return strings.TrimPrefix(strings.TrimPrefix(s, "+OK"), " "), nil
	case s == "-ERR" || strings.HasPrefix(s, "-ERR "):
		return s, protoErr(KindBAD, op, "%.200s", s)
	}
	return s, protoErr(KindMalformed, op, "not +OK or -ERR: %.200q", s)
}

// line reads one CRLF-terminated line (without the CRLF).
func (c *POP3) line(op string) ([]byte, error) {
	var line []byte
	for {
		part, err := c.r.ReadSlice('\n')
		line = append(line, part...)
		if err == bufio.ErrBufferFull {
			if len(line) > maxLine {
				return nil, protoErr(KindMalformed, op, "line longer than %d bytes", maxLine)
			}
			continue
		}
		if err != nil {
			return nil, ioErr(op, err)
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return nil, protoErr(KindMalformed, op, "line not ended by CRLF: %.200q", line)
		}
		return line[:len(line)-2], nil
	}
}

// Login runs USER and PASS.
func (c *POP3) Login(user, pass string) error {
	if _, err := c.Cmd("USER", "USER "+user); err != nil {
		return err
	}
	_, err := c.Cmd("PASS", "PASS "+pass)
	return err
}

// Stat runs STAT and returns the message count and maildrop size.
func (c *POP3) Stat() (n int, size int64, err error) {
	text, err := c.Cmd("STAT", "STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(text)
	if len(f) >= 2 {
		n, err1 := strconv.Atoi(f[0])
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 == nil && err2 == nil && n >= 0 {
			return n, size, nil
		}
	}
	e := protoErr(KindMalformed, "STAT", "bad STAT answer %.200q", text)
	c.w.Fail(e)
	return 0, 0, e
}

// Quit sends QUIT (committing deletions, RFC 1939 section 6) and closes.
func (c *POP3) Quit() error {
	_, err := c.Cmd("QUIT", "QUIT")
	c.Close()
	return err
}
