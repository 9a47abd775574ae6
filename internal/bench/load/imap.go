package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// IMAP is one client connection to an IMAP server. Every command is timed
// and recorded under its operation name in the owning Worker, and every
// response line is checked against the grammar of RFC 9051 section 9 as far
// as a client needs to (response shape, known untagged kinds, balanced
// parentheses outside strings and literals, tags): anything else is a
// KindMalformed error, so the benchmark doubles as a stress test.
type IMAP struct {
	conn
	tag  int
	Caps map[string]bool // from the greeting or CAPABILITY after login
}

// Untagged is one untagged response ("* ...").
type Untagged struct {
	Num  uint32 // the number before EXISTS/EXPUNGE/FETCH/RECENT, else 0
	Kind string // upper-case: FETCH, EXISTS, LIST, SEARCH, OK, ...
	// Line is the response after "* " with every literal's content
	// replaced by nothing (the "{n}" marker stays), CRLFs removed.
	Line string
	Lits []int // sizes of the literals, in order
}

// Response is a command's complete response.
type Response struct {
	Status   string // OK, NO or BAD
	Text     string // tagged response text (after the status)
	Untagged []Untagged
	Bytes    int64 // every byte read for it
}

// readBuf is the read buffer per connection: small, because the idle
// profile holds thousands; longer lines and literals are read in pieces.
const readBuf = 4 << 10

// maxLine bounds a response line outside literals; a server that sends more
// without CRLF is broken (or hostile), not slow.
const maxLine = 1 << 20

// DialIMAP connects, reads the greeting and (for TLSStart) runs STARTTLS.
// The time to a usable connection is recorded as "connect".
func (w *Worker) DialIMAP(ctx context.Context) (*IMAP, error) {
	return dialTimed(ctx, w, w.dialIMAP)
}

func (w *Worker) dialIMAP(ctx context.Context) (*IMAP, error) {
	t := w.eng.target
	nc, err := dialTCP(ctx, t, w.eng.tlsConf, w.localAddr())
	if err != nil {
		return nil, err
	}
	c := &IMAP{conn: newConn(w, nc)}
	c.c.SetDeadline(time.Now().Add(c.timeout))
	u, err := c.readUntagged("greeting")
	if err != nil {
		nc.Close()
		return nil, err
	}
	if u.Kind != "OK" && u.Kind != "PREAUTH" {
		nc.Close()
		return nil, protoErr(KindBYE, "greeting", "%.200s", u.Line)
	}
	c.Caps = capsFromCode(u.Line)
	if t.TLS == TLSStart {
		if _, err := c.exec("STARTTLS", "STARTTLS", false); err != nil {
			nc.Close()
			return nil, err
		}
		if err := c.startTLS(ctx); err != nil {
			return nil, err
		}
		c.Caps = nil
	}
	return c, nil
}

// Cmd sends one command and reads its response; op names it in the
// report. A tagged NO or BAD is an error (recorded, and returned).
func (c *IMAP) Cmd(op, cmd string) (*Response, error) {
	return c.run(op, cmd, false)
}

// CmdMayFail is Cmd for commands where NO is a legitimate answer (the
// response is returned without error); BAD still is an error.
func (c *IMAP) CmdMayFail(op, cmd string) (*Response, error) {
	return c.run(op, cmd, true)
}

func (c *IMAP) run(op, cmd string, noOK bool) (*Response, error) {
	start := time.Now()
	resp, err := c.exec(op, cmd, noOK)
	if err != nil {
		c.w.Fail(AsError(op, err))
		return resp, err
	}
	c.w.Record(op, time.Since(start))
	return resp, nil
}

func (c *IMAP) exec(op, cmd string, noOK bool) (*Response, error) {
	tag := c.nextTag()
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.c, tag+" "+cmd+"\r\n"); err != nil {
		return nil, ioErr(op, err)
	}
	return c.readResponse(op, tag, noOK, strings.HasPrefix(cmd, "LOGOUT"))
}

func (c *IMAP) nextTag() string {
	c.tag++
	return "a" + strconv.Itoa(c.tag)
}

// Append stores msg in mailbox with flags (e.g. `(\Seen)`, may be empty)
// using a synchronizing literal (RFC 9051 section 6.3.12), which every
// server supports; the time includes waiting for the continuation.
func (c *IMAP) Append(op, mailbox, flags string, msg []byte) (*Response, error) {
	start := time.Now()
	resp, err := c.appendExec(op, mailbox, flags, msg)
	if err != nil {
		c.w.Fail(AsError(op, err))
		return resp, err
	}
	c.w.Record(op, time.Since(start))
	return resp, nil
}

func (c *IMAP) appendExec(op, mailbox, flags string, msg []byte) (*Response, error) {
	tag := c.nextTag()
	c.c.SetDeadline(time.Now().Add(c.timeout))
	cmd := tag + " APPEND " + Quote(mailbox)
	if flags != "" {
		cmd += " " + flags
	}
	cmd += " {" + strconv.Itoa(len(msg)) + "}\r\n"
	if _, err := io.WriteString(c.c, cmd); err != nil {
		return nil, ioErr(op, err)
	}
	if resp, err := c.waitContinuation(op, tag); err != nil || resp != nil {
		if err == nil {
			err = protoErr(statusKind(resp.Status), op, "%s %s before the literal", resp.Status, resp.Text)
		}
		return resp, err
	}
	if _, err := c.c.Write(append(msg, '\r', '\n')); err != nil {
		return nil, ioErr(op, err)
	}
	return c.readResponse(op, tag, false, false)
}

// Idle runs IDLE (RFC 2177): it waits for the continuation (recorded as
// "IDLE"), holds for d or until ctx ends, then sends DONE and reads the
// tagged OK (recorded as "DONE"). Untagged responses that arrive while
// idling are read and checked after DONE. onIdle, if not nil, is called
// once the server has accepted IDLE.
func (c *IMAP) Idle(ctx context.Context, d time.Duration, onIdle func()) (*Response, error) {
	tag := c.nextTag()
	start := time.Now()
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.c, tag+" IDLE\r\n"); err != nil {
		err = ioErr("IDLE", err)
		c.w.Fail(err.(*Error))
		return nil, err
	}
	if resp, err := c.waitContinuation("IDLE", tag); err != nil || resp != nil {
		if err == nil {
			err = protoErr(statusKind(resp.Status), "IDLE", "%s %s instead of a continuation", resp.Status, resp.Text)
		}
		c.w.Fail(AsError("IDLE", err))
		return resp, err
	}
	c.w.Record("IDLE", time.Since(start))
	if onIdle != nil {
		onIdle()
	}
	if d > 0 {
		c.c.SetDeadline(time.Time{})
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	start = time.Now()
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err := io.WriteString(c.c, "DONE\r\n"); err != nil {
		err = ioErr("DONE", err)
		c.w.Fail(err.(*Error))
		return nil, err
	}
	resp, err := c.readResponse("DONE", tag, false, false)
	if err != nil {
		c.w.Fail(AsError("DONE", err))
		return resp, err
	}
	c.w.Record("DONE", time.Since(start))
	return resp, nil
}

// waitContinuation reads until "+ " (returns nil, nil) or the tagged
// completion (returns the response: the server refused).
func (c *IMAP) waitContinuation(op, tag string) (*Response, error) {
	for {
		line, lits, n, err := c.readLine()
		if err != nil {
			return nil, ioErr(op, err)
		}
		_ = n
		if bytes.HasPrefix(line, []byte("+")) {
			return nil, nil
		}
		if bytes.HasPrefix(line, []byte("* ")) {
			u, err := parseUntagged(op, line, lits)
			if err != nil {
				return nil, err
			}
			if u.Kind == "BYE" {
				return nil, protoErr(KindBYE, op, "%.200s", u.Line)
			}
			continue
		}
		status, text, err := parseTagged(op, tag, line)
		if err != nil {
			return nil, err
		}
		return &Response{Status: status, Text: text}, nil
	}
}

func statusKind(s string) Kind {
	if s == "NO" {
		return KindNO
	}
	return KindBAD
}

// readResponse reads untagged lines up to the tagged completion of tag.
func (c *IMAP) readResponse(op, tag string, noOK, logout bool) (*Response, error) {
	resp := &Response{}
	for {
		line, lits, n, err := c.readLine()
		resp.Bytes += n
		if err != nil {
			if logout && isEOF(err) && resp.Untagged != nil {
				// A server may close right after BYE without the tagged OK
				// (RFC 9051 section 6.1.3 requires it, but clients cope).
				return resp, protoErr(KindMalformed, op, "connection closed after BYE without tagged OK")
			}
			return resp, ioErr(op, err)
		}
		if bytes.HasPrefix(line, []byte("* ")) {
			u, err := parseUntagged(op, line, lits)
			if err != nil {
				return resp, err
			}
			if u.Kind == "BYE" && !logout {
				return resp, protoErr(KindBYE, op, "%.200s", u.Line)
			}
			if u.Kind == "BAD" {
				return resp, protoErr(KindBAD, op, "untagged %.200s", u.Line)
			}
			resp.Untagged = append(resp.Untagged, u)
			continue
		}
		if bytes.HasPrefix(line, []byte("+")) {
			return resp, protoErr(KindMalformed, op, "unexpected continuation %.200q", line)
		}
		resp.Status, resp.Text, err = parseTagged(op, tag, line)
		if err != nil {
			return resp, err
		}
		switch {
		case resp.Status == "OK", resp.Status == "NO" && noOK:
			return resp, nil
		default:
			return resp, protoErr(statusKind(resp.Status), op, "%s %.200s", resp.Status, resp.Text)
		}
	}
}

// readUntagged reads one line that must be untagged (the greeting).
func (c *IMAP) readUntagged(op string) (Untagged, error) {
	line, lits, _, err := c.readLine()
	if err != nil {
		return Untagged{}, ioErr(op, err)
	}
	if !bytes.HasPrefix(line, []byte("* ")) {
		return Untagged{}, protoErr(KindMalformed, op, "not an untagged response: %.200q", line)
	}
	return parseUntagged(op, line, lits)
}

// readLine reads one logical response line: the text up to CRLF, with
// each literal's content skipped (its "{n}" marker kept) and counted. It
// returns the text without the final CRLF, the literal sizes and the bytes
// read.
func (c *IMAP) readLine() (line []byte, lits []int, n int64, err error) {
	for {
		part, err := c.r.ReadSlice('\n')
		n += int64(len(part))
		line = append(line, part...)
		if err == bufio.ErrBufferFull {
			if len(line) > maxLine {
				return nil, nil, n, protoErr(KindMalformed, "read", "line longer than %d bytes", maxLine)
			}
			continue
		}
		if err != nil {
			return nil, nil, n, err
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return nil, nil, n, protoErr(KindMalformed, "read", "line not ended by CRLF: %.200q", line)
		}
		line = line[:len(line)-2]
		size, ok := trailingLiteral(line)
		if !ok {
			return line, lits, n, nil
		}
		if _, err := c.r.Discard(size); err != nil {
			return nil, nil, n, err
		}
		n += int64(size)
		lits = append(lits, size)
	}
}

// trailingLiteral finds "{n}" (or literal8 "~{n}", RFC 3516) at the end of
// a line.
func trailingLiteral(line []byte) (int, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(line[i+1 : len(line)-1]))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// parseTagged checks "TAG STATUS text" against the tag we sent.
func parseTagged(op, tag string, line []byte) (status, text string, err error) {
	s := string(line)
	t, rest, _ := strings.Cut(s, " ")
	if t != tag {
		return "", "", protoErr(KindMalformed, op, "tagged response for %q while waiting for %q: %.200q", t, tag, s)
	}
	status, text, _ = strings.Cut(rest, " ")
	switch status {
	case "OK", "NO", "BAD":
		return status, text, nil
	}
	return "", "", protoErr(KindMalformed, op, "bad status in %.200q", s)
}

// untaggedKinds are the untagged responses of IMAP4rev2/rev1 and the
// extensions a client may see without enabling anything exotic.
var untaggedKinds = map[string]bool{
	"OK": true, "NO": true, "BAD": true, "BYE": true, "PREAUTH": true,
	"CAPABILITY": true, "FLAGS": true, "LIST": true, "LSUB": true, "STATUS": true,
	"SEARCH": true, "ESEARCH": true, "ENABLED": true, "ID": true, "NAMESPACE": true,
	"VANISHED": true, "QUOTA": true, "QUOTAROOT": true, "METADATA": true,
	"SORT": true, "THREAD": true, "LANGUAGE": true, "COMPARATOR": true,
	"NOTIFY": true, "LISTRIGHTS": true, "MYRIGHTS": true, "ACL": true,
}

var numberedKinds = map[string]bool{"EXISTS": true, "RECENT": true, "EXPUNGE": true, "FETCH": true}

// parseUntagged checks one "* ..." line (literal contents already removed).
func parseUntagged(op string, line []byte, lits []int) (Untagged, error) {
	s := string(line[2:])
	u := Untagged{Line: s, Lits: lits}
	word, rest, _ := strings.Cut(s, " ")
	if n, err := strconv.ParseUint(word, 10, 32); err == nil {
		kind, _, _ := strings.Cut(rest, " ")
		if !numberedKinds[kind] {
			return u, protoErr(KindMalformed, op, "unknown numbered response %.200q", s)
		}
		u.Num, u.Kind = uint32(n), kind
		if kind == "FETCH" && (n == 0 || !strings.HasPrefix(rest, "FETCH (")) {
			return u, protoErr(KindMalformed, op, "bad FETCH response %.200q", s)
		}
	} else {
		if !untaggedKinds[word] {
			return u, protoErr(KindMalformed, op, "unknown untagged response %.200q", s)
		}
		u.Kind = word
	}
	if err := balanced(s); err != nil {
		return u, protoErr(KindMalformed, op, "%v in %.200q", err, s)
	}
	return u, nil
}

// balanced checks that parentheses and brackets outside quoted strings
// nest properly and that quoted strings end. Literal contents are not part
// of s; "{n}" markers are plain text here.
func balanced(s string) error {
	var stack []byte
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if inQuote {
			switch ch {
			case '\\':
				i++
			case '"':
				inQuote = false
			}
			continue
		}
		switch ch {
		case '"':
			inQuote = true
		case '(':
			stack = append(stack, ')')
		case '[':
			stack = append(stack, ']')
		case ')', ']':
			if len(stack) == 0 || stack[len(stack)-1] != ch {
				return fmt.Errorf("unbalanced %q at %d", ch, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inQuote {
		return errors.New("unterminated quoted string")
	}
	if len(stack) > 0 {
		return fmt.Errorf("%d unclosed", len(stack))
	}
	return nil
}

// Quote makes an IMAP quoted string.
func Quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func capsFromCode(line string) map[string]bool {
	i := strings.Index(line, "[CAPABILITY ")
	if i < 0 {
		return nil
	}
	rest := line[i+len("[CAPABILITY "):]
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return nil
	}
	caps := map[string]bool{}
	for _, f := range strings.Fields(rest[:j]) {
		caps[strings.ToUpper(f)] = true
	}
	return caps
}

// Login runs LOGIN (RFC 9051 section 6.2.3).
func (c *IMAP) Login(user, pass string) error {
	resp, err := c.Cmd("LOGIN", "LOGIN "+Quote(user)+" "+Quote(pass))
	if err == nil {
		if caps := capsFromCode(resp.Text); caps != nil {
			c.Caps = caps
		}
	}
	return err
}

// Logout sends LOGOUT and closes the connection.
func (c *IMAP) Logout() error {
	_, err := c.Cmd("LOGOUT", "LOGOUT")
	c.Close()
	return err
}

// Exists returns the last EXISTS count in r, or -1.
func (r *Response) Exists() int {
	n := -1
	for _, u := range r.Untagged {
		if u.Kind == "EXISTS" {
			n = int(u.Num)
		}
	}
	return n
}

// Code returns the number in an "OK [NAME n]" untagged response (UIDNEXT,
// UIDVALIDITY), or 0.
func (r *Response) Code(name string) uint32 {
	p := "[" + name + " "
	for _, u := range r.Untagged {
		if u.Kind != "OK" {
			continue
		}
		if i := strings.Index(u.Line, p); i >= 0 {
			v := u.Line[i+len(p):]
			if j := strings.IndexByte(v, ']'); j > 0 {
				n, _ := strconv.ParseUint(v[:j], 10, 32)
				return uint32(n)
			}
		}
	}
	return 0
}

// SearchResults returns the numbers of "* SEARCH" responses.
func (r *Response) SearchResults() ([]uint32, error) {
	var out []uint32
	for _, u := range r.Untagged {
		if u.Kind != "SEARCH" {
			continue
		}
		for _, f := range strings.Fields(u.Line)[1:] {
			if strings.HasPrefix(f, "(") { // (MODSEQ n) of RFC 7162
				break
			}
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil || n == 0 {
				return nil, protoErr(KindMalformed, "SEARCH", "bad number %q in %.200q", f, u.Line)
			}
			out = append(out, uint32(n))
		}
	}
	return out, nil
}

// FetchItem returns the value of a simple (atom or number) item such as
// UID or RFC822.SIZE in a FETCH response line, or "".
func FetchItem(u Untagged, name string) string {
	i := strings.Index(u.Line, " "+name+" ")
	if i < 0 {
		i = strings.Index(u.Line, "("+name+" ")
	}
	if i < 0 {
		return ""
	}
	v := u.Line[i+len(name)+2:]
	if j := strings.IndexAny(v, " )"); j >= 0 {
		v = v[:j]
	}
	return v
}

// FetchUIDs returns the UIDs of the FETCH responses in r.
func (r *Response) FetchUIDs() []uint32 {
	var out []uint32
	for _, u := range r.Untagged {
		if u.Kind != "FETCH" {
			continue
		}
		if n, err := strconv.ParseUint(FetchItem(u, "UID"), 10, 32); err == nil {
			out = append(out, uint32(n))
		}
	}
	return out
}
