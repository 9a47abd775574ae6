package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// imapDriver is a long-running Python process that drives imaplib for the
// test: one JSON request per line on stdin, one JSON answer per line on
// stdout. The test calls imaplib methods by name, so what goes over the wire
// is exactly what imaplib sends, and the answers are imaplib's own (typ,
// data) pairs, bytes carried as base64 to stay byte-exact.
const imapDriverScript = `
import base64, imaplib, json, socket, ssl, sys

imaplib._MAXLINE = 1 << 24

class SourceIMAP4(imaplib.IMAP4):
    """IMAP4 from a chosen source address (imaplib has no parameter for it)."""
    def __init__(self, host, port, source, timeout):
        self._source = source
        super().__init__(host, port, timeout)
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=self._source)

def enc(v):
    if isinstance(v, bytes):
        return {"b": base64.b64encode(v).decode()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if v is None:
        return None
    if isinstance(v, (int, str, bool)):
        return v
    return str(v)

def dec(v):
    if isinstance(v, dict) and "b" in v:
        return base64.b64decode(v["b"])
    if isinstance(v, list):
        return tuple(dec(x) for x in v)
    return v

M = None
for line in sys.stdin:
    req = json.loads(line)
    op = req["op"]
    res = {}
    try:
        if op == "connect":
            ctx = ssl.create_default_context(cafile=req["cafile"])
            src = (req["source"], 0) if req.get("source") else None
            if req["mode"] == "ssl":
                M = imaplib.IMAP4_SSL(req["host"], req["port"], ssl_context=ctx, timeout=120)
            else:
                M = SourceIMAP4(req["host"], req["port"], src, 120)
                if req["mode"] == "starttls":
                    res["caps_before"] = list(M.capabilities)
                    M.starttls(ssl_context=ctx)
            res["welcome"] = enc(M.welcome)
            res["caps"] = list(M.capabilities)
        elif op == "call":
            typ, data = getattr(M, req["method"])(*[dec(a) for a in req["args"]])
            res["typ"] = typ
            res["data"] = enc(data)
        elif op == "untagged":
            # What the last commands left in imaplib's untagged response
            # table, then cleared.
            res["untagged"] = {k: enc(v) for k, v in M.untagged_responses.items()}
            M.untagged_responses.clear()
        elif op == "plain":
            # AUTHENTICATE PLAIN with a UTF-8 password (LOGIN in imaplib
            # only sends ASCII).
            auth = b"\0" + req["user"].encode() + b"\0" + req["password"].encode()
            typ, data = M.authenticate("PLAIN", lambda _: auth)
            res["typ"] = typ
            res["data"] = enc(data)
        elif op == "caps":
            res["caps"] = list(M.capabilities)
        elif op == "close_socket":
            M.shutdown()
        else:
            res["error"] = "unknown op " + op
    except imaplib.IMAP4.abort as e:
        res["abort"] = str(e)
    except imaplib.IMAP4.error as e:
        res["error"] = str(e)
    except (OSError, EOFError) as e:
        res["abort"] = "%s: %s" % (type(e).__name__, e)
    except Exception as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(res), flush=True)
`

// imapItem is one element of imaplib's data list: a line (bytes) or a
// response with a literal, imaplib's (prefix, literal) tuple.
type imapItem struct {
	Line    []byte
	Tuple   bool
	Prefix  []byte
	Literal []byte
}

// pyIMAP is one imaplib connection.
type pyIMAP struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
	Caps   []string // after connect (and STARTTLS)
	Before []string // capabilities before STARTTLS
	Hello  string
}

type pyAnswer struct {
	CapsBefore []string         `json:"caps_before"`
	Caps       []string         `json:"caps"`
	Welcome    json.RawMessage  `json:"welcome"`
	Typ        string           `json:"typ"`
	Data       json.RawMessage  `json:"data"`
	Untagged   map[string][]any `json:"untagged"`
	Error      string           `json:"error"`
	Abort      string           `json:"abort"`
}

// imaplib connects to s with mode "starttls" (imap port), "ssl" (imaps)
// or "plain" (imap, no TLS), optionally from a source address.
func (s *server) imaplib(t testing.TB, mode, source string) *pyIMAP {
	t.Helper()
	py := requireTool(t, "python3", "python3")
	script := filepath.Join(s.dir, "imapdriver.py")
	imapScriptOnce.Lock()
	if _, err := os.Stat(script); err != nil {
		if err := os.WriteFile(script, []byte(imapDriverScript), 0o644); err != nil {
			imapScriptOnce.Unlock()
			t.Fatal(err)
		}
	}
	imapScriptOnce.Unlock()
	c := &pyIMAP{t: t, name: mode, stderr: new(bytes.Buffer)}
	c.cmd = exec.Command(py, script)
	c.cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	port := s.imapPort
	if mode == "ssl" {
		port = s.imapsPort
	}
	a := c.req(map[string]any{"op": "connect", "mode": mode, "host": "127.0.0.1", "port": port,
		"cafile": caFile, "source": source})
	if a.Error != "" || a.Abort != "" {
		t.Fatalf("imaplib connect %s: %s%s", mode, a.Error, a.Abort)
	}
	c.Caps, c.Before = a.Caps, a.CapsBefore
	c.Hello = string(decodeBytes(t, a.Welcome))
	return c
}

var imapScriptOnce sync.Mutex

func (c *pyIMAP) close() {
	if c.stdin != nil {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
		c.stdin = nil
	}
}

func (c *pyIMAP) req(r map[string]any) pyAnswer {
	c.t.Helper()
	j, _ := json.Marshal(r)
	if _, err := c.stdin.Write(append(j, '\n')); err != nil {
		c.t.Fatalf("imaplib driver: %v\n%s", err, c.stderr)
	}
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("imaplib driver %v: %v\nstderr:\n%s", r["method"], err, c.stderr)
	}
	var a pyAnswer
	if err := json.Unmarshal(line, &a); err != nil {
		c.t.Fatalf("imaplib driver answer %.200q: %v", line, err)
	}
	return a
}

// call runs an imaplib method and returns its typ ("OK", "NO", "BAD"), data
// and the error text imaplib raised ("" if none). An aborted connection is
// fatal.
func (c *pyIMAP) call(method string, args ...any) (string, []imapItem, string) {
	c.t.Helper()
	enc := make([]any, len(args))
	for i, a := range args {
		if b, ok := a.([]byte); ok {
			enc[i] = map[string]string{"b": base64.StdEncoding.EncodeToString(b)}
		} else {
			enc[i] = a
		}
	}
	a := c.req(map[string]any{"op": "call", "method": method, "args": enc})
	if a.Abort != "" {
		c.t.Fatalf("imaplib %s%v: connection aborted: %s", method, args, a.Abort)
	}
	if a.Error != "" {
		return "", nil, a.Error
	}
	return a.Typ, decodeItems(c.t, a.Data), ""
}

// ok runs an imaplib method that must succeed with OK.
func (c *pyIMAP) ok(method string, args ...any) []imapItem {
	c.t.Helper()
	typ, data, e := c.call(method, args...)
	if e != "" || typ != "OK" {
		c.t.Fatalf("imaplib %s %q: %s %s %s", method, args, typ, e, itemsString(data))
	}
	return data
}

// fails runs an imaplib method that must not succeed (NO, or BAD which
// imaplib raises) and returns the server's text.
func (c *pyIMAP) fails(method string, args ...any) string {
	c.t.Helper()
	typ, data, e := c.call(method, args...)
	if e == "" && typ == "OK" {
		c.t.Errorf("imaplib %s %q: OK, want a failure (%s)", method, args, itemsString(data))
	}
	if e != "" {
		return e
	}
	return typ + " " + itemsString(data)
}

// plain logs in with AUTHENTICATE PLAIN.
func (c *pyIMAP) plain(user, pass string) {
	c.t.Helper()
	a := c.req(map[string]any{"op": "plain", "user": user, "password": pass})
	if a.Error != "" || a.Abort != "" || a.Typ != "OK" {
		c.t.Fatalf("AUTHENTICATE PLAIN %s: %s %s%s", user, a.Typ, a.Error, a.Abort)
	}
}

// logout sends LOGOUT, which imaplib answers with the BYE.
func (c *pyIMAP) logout() {
	c.t.Helper()
	typ, data, e := c.call("logout")
	if e != "" || typ != "BYE" {
		c.t.Errorf("LOGOUT: %s %s %s", typ, e, itemsString(data))
	}
}

// untagged returns and clears imaplib's table of untagged responses.
func (c *pyIMAP) untagged() map[string][]imapItem {
	c.t.Helper()
	a := c.req(map[string]any{"op": "untagged"})
	m := map[string][]imapItem{}
	for k, v := range a.Untagged {
		j, _ := json.Marshal(v)
		m[k] = decodeItems(c.t, j)
	}
	return m
}

func decodeItems(t testing.TB, raw json.RawMessage) []imapItem {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("imaplib data %.200s: %v", raw, err)
	}
	var items []imapItem
	for _, e := range list {
		if bytes.HasPrefix(e, []byte("[")) {
			var pair []json.RawMessage
			if err := json.Unmarshal(e, &pair); err != nil || len(pair) != 2 {
				t.Fatalf("imaplib tuple %.200s: %v", e, err)
			}
			items = append(items, imapItem{Tuple: true, Prefix: decodeBytes(t, pair[0]), Literal: decodeBytes(t, pair[1])})
		} else {
			items = append(items, imapItem{Line: decodeBytes(t, e)})
		}
	}
	return items
}

func decodeBytes(t testing.TB, raw json.RawMessage) []byte {
	if string(raw) == "null" {
		return nil
	}
	var v struct{ B string }
	if err := json.Unmarshal(raw, &v); err == nil && v.B != "" {
		b, err := base64.StdEncoding.DecodeString(v.B)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []byte(s)
	}
	return []byte(strings.Trim(string(raw), `"`))
}

func itemsString(items []imapItem) string {
	var parts []string
	for _, it := range items {
		if it.Tuple {
			l := it.Literal
			if len(l) > 200 {
				l = append(l[:200:200], "..."...)
			}
			parts = append(parts, fmt.Sprintf("(%q {%q})", it.Prefix, l))
		} else {
			parts = append(parts, fmt.Sprintf("%q", it.Line))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// lines returns the text of data's items (prefix for tuples).
func lines(items []imapItem) []string {
	var out []string
	for _, it := range items {
		if it.Tuple {
			out = append(out, string(it.Prefix))
		} else if it.Line != nil {
			out = append(out, string(it.Line))
		}
	}
	return out
}

// ---- a raw IMAP connection, for what no client library does on purpose:
// IDLE, bad input, exact transcripts.

type rawIMAP struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	log  strings.Builder // transcript, for failure messages
	tagN int
}

// dialIMAP opens a raw connection: tls for the imaps port, else plain.
func (s *server) dialIMAP(t testing.TB, useTLS bool) *rawIMAP {
	t.Helper()
	var conn net.Conn
	var err error
	if useTLS {
		conn, err = tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp",
			fmt.Sprintf("127.0.0.1:%d", s.imapsPort), testTLSConfig(t))
	} else {
		conn, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.imapPort), 10*time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &rawIMAP{t: t, conn: conn, r: bufio.NewReaderSize(conn, 1<<16)}
	t.Cleanup(func() { conn.Close() })
	g := c.readLine(10 * time.Second)
	if !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	return c
}

func testTLSConfig(t testing.TB) *tls.Config {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// send writes raw bytes (the caller adds CRLF).
func (c *rawIMAP) send(s string) {
	c.t.Helper()
	fmt.Fprintf(&c.log, "C: %q\n", trunc(s, 300))
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write %q: %v\ntranscript:\n%s", trunc(s, 100), err, c.log.String())
	}
}

// readLine reads one line (without CRLF) within d; a timeout returns "".
func (c *rawIMAP) readLine(d time.Duration) string {
	c.t.Helper()
	line, err := c.tryReadLine(d)
	if err != nil {
		c.t.Fatalf("read: %v\ntranscript:\n%s", err, c.log.String())
	}
	return line
}

func (c *rawIMAP) tryReadLine(d time.Duration) (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(d))
	line, err := c.r.ReadString('\n')
	if err != nil {
		fmt.Fprintf(&c.log, "S: (%v) %q\n", err, line)
		return line, err
	}
	line = strings.TrimRight(line, "\r\n")
	fmt.Fprintf(&c.log, "S: %q\n", trunc(line, 300))
	// A literal at the end of the line: read it into the line, as text.
	if m := literalAtEnd.FindStringSubmatch(line); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return line, err
		}
		rest, err := c.tryReadLine(d)
		return line + "\n" + string(buf) + rest, err
	}
	return line, nil
}

var literalAtEnd = regexp.MustCompile(`\{(\d+)\}$`)

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// cmd sends "TAG command" and returns the untagged lines and the tagged
// completion line (without the tag).
func (c *rawIMAP) cmd(command string) (untagged []string, done string) {
	c.t.Helper()
	c.tagN++
	tag := fmt.Sprintf("t%d", c.tagN)
	c.send(tag + " " + command + "\r\n")
	for {
		line := c.readLine(60 * time.Second)
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, line)
	}
}

// tryCmd is cmd that returns a read error instead of failing.
func (c *rawIMAP) tryCmd(command string) (untagged []string, done string, err error) {
	c.t.Helper()
	c.tagN++
	tag := fmt.Sprintf("t%d", c.tagN)
	c.send(tag + " " + command + "\r\n")
	for {
		line, err := c.tryReadLine(60 * time.Second)
		if err != nil {
			return untagged, "", err
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			return untagged, rest, nil
		}
		untagged = append(untagged, line)
	}
}

// ok is cmd that requires a tagged OK.
func (c *rawIMAP) ok(command string) []string {
	c.t.Helper()
	u, done := c.cmd(command)
	if !strings.HasPrefix(done, "OK") {
		c.t.Fatalf("%q: %q\ntranscript:\n%s", command, done, c.log.String())
	}
	return u
}

// login logs in as alice (plaintext is fine on loopback: secure by rule).
func (c *rawIMAP) login() {
	c.t.Helper()
	c.ok("LOGIN alice " + alicePass)
}

// waitFor reads untagged lines until one matches re, within d. It returns
// the matching line and everything read before it.
func (c *rawIMAP) waitFor(re *regexp.Regexp, d time.Duration) (string, []string) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var seen []string
	for {
		left := time.Until(deadline)
		if left <= 0 {
			c.t.Fatalf("no line matching %s within %v; got %q\ntranscript:\n%s", re, d, seen, c.log.String())
		}
		line, err := c.tryReadLine(left)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("no line matching %s within %v; got %q\ntranscript:\n%s", re, d, seen, c.log.String())
			}
			c.t.Fatalf("read: %v\ntranscript:\n%s", err, c.log.String())
		}
		if re.MatchString(line) {
			return line, seen
		}
		seen = append(seen, line)
	}
}

// checkNoPanic asserts the roost server's stderr has no panic (its
// recovered panics included).
func (s *server) checkNoPanic(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.Contains(s.stderr.String(), "panic") {
		t.Errorf("server stderr mentions a panic:\n%s", s.stderr.String())
	}
}

// imapWant is what BODY[] must return for a delivered message: the message
// with CRLF line ends. A server may add a CRLF to a message that lacks a
// final line end (as for POP3, corpusMsg.storedSizes).
func imapBodyOK(m corpusMsg, got []byte) bool {
	w := crlf(m.raw)
	if bytes.Equal(got, w) {
		return true
	}
	return !bytes.HasSuffix(w, []byte("\r\n")) && bytes.Equal(got, append(w, '\r', '\n'))
}
