package imapserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/netserver"
	"github.com/roost-mail/roost/internal/testutil/pgtest/pgstore"
)

// bigMsg is a multipart message of about size octets: a short text part
// and an 8bit part of random printable lines (which DEFLATE cannot shrink
// much). It returns the message and the body of part 2.
func bigMsg(size int) (msg, part2 string) {
	r := rand.New(rand.NewChaCha8([32]byte{7}))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ .,"
	var b strings.Builder
	line := make([]byte, 76)
	for b.Len() < size {
		for i := range line {
			line[i] = alphabet[r.IntN(len(alphabet))]
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	part2 = strings.TrimSuffix(b.String(), "\r\n")
	msg = "From: sender@example.org\r\nTo: alice@example.org\r\nSubject: big\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		part2 + "\r\n--b--\r\n"
	return msg, part2
}

// fetchExact runs a FETCH that answers one message and requires its
// response line (literals included) to be want.
func fetchExact(t *testing.T, c *testClient, cmd, want string) {
	t.Helper()
	r := c.do(cmd).ok()
	if len(r.lines()) != 1 {
		t.Fatalf("%s: %d untagged responses, want 1", cmd, len(r.lines()))
	}
	if got := r.lines()[0]; got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: response of %d octets differs from the expected %d at octet %d:\n got  %.80q\n want %.80q",
			cmd, len(got), len(want), i, got[i:], want[i:])
	}
}

// bodyFetches is a session fetching the big message (UID 1) in every way
// that sends a byte range of the stored message, whole and partial, and
// the small one (UID 2). Each response is compared with the bytes it must
// carry. It returns how many octets of literals were fetched.
func bodyFetches(t *testing.T, c *testClient, msg, part2, small string) int64 {
	t.Helper()
	c.do("e1 EXAMINE INBOX").ok() // read-only: no \Seen, no FLAGS in the responses
	lit := func(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }
	hdrEnd := strings.Index(msg, "\r\n\r\n") + 4
	var total int64
	for _, f := range []struct{ cmd, want string }{
		{"f1 UID FETCH 1 (BODY.PEEK[])", "* 1 FETCH (UID 1 BODY[] " + lit(msg) + ")"},
		{"f2 UID FETCH 1 RFC822", "* 1 FETCH (UID 1 RFC822 " + lit(msg) + ")"},
		{"f3 UID FETCH 1 (BINARY.PEEK[])", "* 1 FETCH (UID 1 BINARY[] " + lit(msg) + ")"},
		{"f4 UID FETCH 1 (BODY.PEEK[TEXT])", "* 1 FETCH (UID 1 BODY[TEXT] " + lit(msg[hdrEnd:]) + ")"},
		{"f5 UID FETCH 1 (BODY.PEEK[2])", "* 1 FETCH (UID 1 BODY[2] " + lit(part2) + ")"},
		{"f6 UID FETCH 1 (BINARY.PEEK[2])", "* 1 FETCH (UID 1 BINARY[2] " + lit(part2) + ")"},
		// Partial ranges: inside, running past the end, starting past the
		// end, and one below the zero-copy threshold.
		{"f7 UID FETCH 1 (BODY.PEEK[]<1000.300000>)", "* 1 FETCH (UID 1 BODY[]<1000> " + lit(msg[1000:301000]) + ")"},
		{fmt.Sprintf("f8 UID FETCH 1 (BODY.PEEK[]<%d.1000000000>)", len(msg)-70000),
			fmt.Sprintf("* 1 FETCH (UID 1 BODY[]<%d> ", len(msg)-70000) + lit(msg[len(msg)-70000:]) + ")"},
		{fmt.Sprintf("f9 UID FETCH 1 (BODY.PEEK[]<%d.10>)", len(msg)+5), fmt.Sprintf("* 1 FETCH (UID 1 BODY[]<%d> {0}\r\n)", len(msg)+5)},
		{"f10 UID FETCH 1 (BINARY.PEEK[2]<77.100000>)", "* 1 FETCH (UID 1 BINARY[2]<77> " + lit(part2[77:100077]) + ")"},
		{"f11 UID FETCH 1 (BODY.PEEK[]<5.100>)", "* 1 FETCH (UID 1 BODY[]<5> " + lit(msg[5:105]) + ")"},
		// Several literals in one response, small ones copied around a
		// large one sent by the kernel, and a small message.
		{"f12 UID FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1])",
			"* 1 FETCH (UID 1 BODY[HEADER] " + lit(msg[:hdrEnd]) + " BODY[TEXT] " + lit(msg[hdrEnd:]) + " BODY[1] " + lit("see the attachment") + ")"},
		{"f13 UID FETCH 2 (BODY.PEEK[])", "* 2 FETCH (UID 2 BODY[] " + lit(small) + ")"},
	} {
		fetchExact(t, c, f.cmd, f.want)
		total += int64(len(f.want))
	}
	// Two large messages in one FETCH: each literal is exact and the
	// stream stays in step.
	r := c.do("f14 UID FETCH 1,3 (BODY.PEEK[])").ok()
	if want := []string{"* 1 FETCH (UID 1 BODY[] " + lit(msg) + ")", "* 3 FETCH (UID 3 BODY[] " + lit(msg) + ")"}; len(r.lines()) != 2 ||
		r.lines()[0] != want[0] || r.lines()[1] != want[1] {
		t.Fatalf("f14: the two bodies differ from the stored message (%d responses)", len(r.lines()))
	}
	c.do("f15 NOOP").ok()
	return total + 2*int64(len(msg))
}

// deliverBig stores the big message twice around a small one (UIDs 1, 2, 3).
func deliverBig(ts *testServer) (msg, part2, small string) {
	msg, part2 = bigMsg(1 << 20)
	small = testMsg("small")
	ts.deliver("alice", "INBOX", msg)
	ts.deliver("alice", "INBOX", small)
	ts.deliver("alice", "INBOX", msg)
	return msg, part2, small
}

// TestFetchSendFile: over plain TCP the large literals go from the blob
// file to the socket with sendfile: the client gets exactly the stored
// bytes, and they never pass through the session's writes (the harness
// counts the bytes of every Write on the server's connection; sendfile
// bypasses it).
func TestFetchSendFile(t *testing.T) {
	ts := newTestServer(t)
	msg, part2, small := deliverBig(ts)
	c := ts.login("alice")
	before := ts.written.Load()
	fetched := bodyFetches(t, c, msg, part2, small)
	written := ts.written.Load() - before
	if pgstore.Postgres(t) || runtime.GOOS != "linux" {
		// PostgreSQL blobs are no files, and sendfile is used on Linux
		// only: everything is copied.
		if written < fetched {
			t.Fatalf("%d octets written for %d fetched, with copied bodies", written, fetched)
		}
		return
	}
	// Through Write: the response lines, the tagged replies, and the
	// literals below sendFileMin (headers, <5.100>, the small message).
	if written > 64<<10 {
		t.Fatalf("%d octets went through the session's writes for %d octets fetched: the bodies were copied, not sent with sendfile", written, fetched)
	}
	t.Logf("%d octets fetched, %d written by the session", fetched, written)
}

// TestFetchSendFileTLS: after STARTTLS the same fetches are copied (and
// encrypted): every octet passes through the session's writes.
func TestFetchSendFileTLS(t *testing.T) {
	ts := newTestServer(t, withTLS())
	msg, part2, small := deliverBig(ts)
	c := ts.dial()
	c.do("s1 STARTTLS").ok()
	c.startTLS()
	c.login("alice", alicePass)
	before := ts.written.Load()
	fetched := bodyFetches(t, c, msg, part2, small)
	if written := ts.written.Load() - before; written < fetched {
		t.Fatalf("%d octets (with TLS overhead) written by the session for %d fetched: bodies bypassed TLS", written, fetched)
	}
}

// TestFetchSendFileCompress: under COMPRESS=DEFLATE the bodies go through
// the compressor: the client inflates exactly the stored bytes.
func TestFetchSendFileCompress(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Compress = true }))
	msg, part2, small := deliverBig(ts)
	c := ts.login("alice")
	f := c.compress()
	before := ts.written.Load()
	fetched := bodyFetches(t, c, msg, part2, small)
	// The random lines compress to about 80%: they were compressed, and
	// written by the session.
	if written := ts.written.Load() - before; written < fetched/2 || f.rawIn.Load() < fetched/2 {
		t.Fatalf("%d octets written, %d received compressed, for %d fetched", written, f.rawIn.Load(), fetched)
	}
}

// TestFetchSendFileStalledClient: a client that stops reading in the
// middle of a large body is disconnected after the idle timeout, as with
// copied bodies; the literal cannot be finished, so the connection is
// closed and the reason logged.
func TestFetchSendFileStalledClient(t *testing.T) {
	if pgstore.Postgres(t) || runtime.GOOS != "linux" {
		t.Skip("bodies are copied (PostgreSQL blobs, or not Linux): no sendfile to stall")
	}
	ts := newTestServer(t, withOptions(func(o *Options) { o.IdleTimeout = 500 * time.Millisecond }))
	msg, _ := bigMsg(16 << 20)
	ts.deliver("alice", "INBOX", msg)
	c := ts.login("alice")
	c.do("a1 SELECT INBOX").ok()
	c.conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	c.send("a2 FETCH 1 (BODY.PEEK[])\r\n")
	ts.waitEnded(1)
	if logs := ts.logs.String(); !strings.Contains(logs, "imap sending a message body failed: connection closed") ||
		!strings.Contains(logs, "i/o timeout") {
		t.Fatalf("no log of the failed send:\n%s", logs)
	}
	// The client gets a cut literal and then the end of the stream, no
	// BYE inside the literal.
	got := 0
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, 64<<10)
	var last []byte
	for {
		n, err := c.r.Read(buf)
		got += n
		if n > 0 {
			last = append(last[:0], buf[max(0, n-64):n]...)
		}
		if err != nil {
			break
		}
	}
	if got >= len(msg) || strings.Contains(string(last), "BYE") {
		t.Fatalf("client read %d octets of a %d-octet body, ending %q", got, len(msg), last)
	}
}

// TestFetcherLiteral checks fetcher.literal's decisions without a
// network: which literals are handed to sendFile (and with what range),
// the copy when sendfile turns out unsupported (nothing was sent: the
// literal is copied and later ones too), and a failure mid-send, which is
// fatal for the session.
func TestFetcherLiteral(t *testing.T) {
	st, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB
	id, _, err := st.Put(context.Background(), strings.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	body, err := st.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()

	type call struct{ off, n int64 }
	var calls []call
	var result error
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	f := &fetcher{enc: imapwire.NewEncoder(bw), sendFile: func(file *os.File, off, n int64) error {
		calls = append(calls, call{off, n})
		return result
	}}
	flushed := func() string { bw.Flush(); s := out.String(); out.Reset(); return s }

	// Large ranges go to sendFile after "{n}" CRLF (or "~{n}") is flushed.
	if err := f.literal(body, sectionData{off: 1000, n: 100000}, false); err != nil {
		t.Fatal(err)
	}
	if err := f.literal(body, sectionData{off: 0, n: 200000}, true); err != nil {
		t.Fatal(err)
	}
	if got := flushed(); got != "{100000}\r\n~{200000}\r\n" || len(calls) != 2 || calls[0] != (call{1000, 100000}) || calls[1] != (call{0, 200000}) {
		t.Fatalf("wrote %q, sendFile calls %v", got, calls)
	}
	// Small ranges and computed data are copied.
	calls = nil
	f.literal(body, sectionData{off: 16, n: 100}, false)
	f.literal(body, sectionData{computed: true, data: bytes.Repeat([]byte("h"), 100000)}, false)
	if got := flushed(); got != "{100}\r\n"+data[16:116]+"{100000}\r\n"+strings.Repeat("h", 100000) || len(calls) != 0 {
		t.Fatalf("small and computed literals: wrote %d octets, sendFile calls %v", len(got), calls)
	}
	// Unsupported (nothing sent): copied, and sendfile is not tried again.
	result = netserver.ErrSendFileUnsupported
	if err := f.literal(body, sectionData{off: 5, n: 70000}, false); err != nil {
		t.Fatal(err)
	}
	if got := flushed(); got != "{70000}\r\n"+data[5:70005] || f.sendFile != nil {
		t.Fatalf("unsupported: wrote %d octets, sendFile still set: %v", len(got), f.sendFile != nil)
	}
	// A failure mid-send ends the session.
	f.sendFile = func(*os.File, int64, int64) error {
		return errors.New("sendfile: 4096 of 70000 bytes sent: broken pipe")
	}
	if err := f.literal(body, sectionData{off: 0, n: 70000}, false); !fatalErr(err) {
		t.Fatalf("failure mid-send: %v, want a fatal error", err)
	}
}
