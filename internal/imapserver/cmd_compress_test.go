package imapserver

import (
	"bufio"
	stdflate "compress/flate"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

// flateConn is the client side of COMPRESS DEFLATE: writes go through the
// standard library's compressor (an implementation independent of the
// server's) with a sync flush after each write; reads through klauspost's
// inflater. rawIn and rawOut count the bytes on the wire.
type flateConn struct {
	net.Conn
	zr     io.Reader
	zw     *stdflate.Writer
	rawIn  atomic.Int64
	rawOut atomic.Int64
}

func (f *flateConn) Read(p []byte) (int, error) { return f.zr.Read(p) }

func (f *flateConn) Write(p []byte) (int, error) {
	n, err := f.zw.Write(p)
	if err == nil {
		err = f.zw.Flush() // Z_SYNC_FLUSH
	}
	return n, err
}

// rawWriter counts and writes to the socket.
type rawWriter struct{ f *flateConn }

func (w rawWriter) Write(p []byte) (int, error) {
	w.f.rawOut.Add(int64(len(p)))
	return w.f.Conn.Write(p)
}

// rawReader counts what is read from the client's old buffered reader
// (which may hold bytes of the compressed stream already).
type rawReader struct {
	f *flateConn
	r io.Reader
}

func (r rawReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.f.rawIn.Add(int64(n))
	return n, err
}

// startDeflate switches the client to DEFLATE in both directions, as after
// COMPRESS's tagged OK.
func (c *testClient) startDeflate() *flateConn {
	c.t.Helper()
	f := &flateConn{Conn: c.conn}
	f.zr = flate.NewReader(bufio.NewReader(rawReader{f, c.r}))
	zw, err := stdflate.NewWriter(rawWriter{f}, stdflate.DefaultCompression)
	if err != nil {
		c.t.Fatal(err)
	}
	f.zw = zw
	c.conn = f
	c.r = bufio.NewReader(f)
	return f
}

// compress runs COMPRESS DEFLATE and switches the client over.
func (c *testClient) compress() *flateConn {
	c.t.Helper()
	c.do("z1 COMPRESS DEFLATE").tagged("OK Begin compression.")
	return c.startDeflate()
}

func TestCompressTranscript(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Compress = true }))
	body := testMsg("compressed") + strings.Repeat("The same line, again and again.\r\n", 50)
	ts.deliver("alice", "INBOX", body)
	ts.deliver("alice", "INBOX", testMsg("second"))

	c := ts.dial()
	if strings.Contains(c.greeting, "COMPRESS") {
		t.Fatalf("COMPRESS offered before login: %q", c.greeting)
	}
	c.login("alice", alicePass)
	caps := capsOf(t, c.do("a0 CAPABILITY").ok().lines()[0])
	if !caps["COMPRESS=DEFLATE"] {
		t.Fatalf("COMPRESS=DEFLATE not offered after login: %v", caps)
	}
	f := c.compress()

	// Pipelined over the compressed stream: one write, answered in order.
	c.send("a1 NOOP\r\na2 SELECT INBOX\r\na3 FETCH 1:2 (UID BODY.PEEK[])\r\n")
	c.readUntilTagged("a1").untagged().tagged("OK Noop completed.")
	c.readUntilTagged("a2").contains("* 2 EXISTS").ok("READ-WRITE")
	r := c.readUntilTagged("a3").ok()
	want := fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)", len(body), body)
	if len(r.lines()) != 2 || r.lines()[0] != want {
		t.Fatalf("%s\nwant first %q", r, want)
	}
	c.do("a4 COMPRESS DEFLATE").tagged("NO [COMPRESSIONACTIVE] COMPRESSION=DEFLATE already enabled.")
	c.do("a5 LOGOUT").untagged("* BYE Logging out").ok()
	if in := f.rawIn.Load(); in == 0 || in > int64(len(body))/2 {
		t.Fatalf("%d compressed bytes received for a %d-byte body and more", in, len(body))
	}
	// The server ends its side; the stream holds nothing more.
	c.conn.SetReadDeadline(deadline())
	if b, err := c.r.ReadByte(); err == nil {
		t.Fatalf("after LOGOUT got %q", b)
	}
}

// TestCompressBufferedRemainder: bytes after the COMPRESS line that the
// server has already buffered are the start of the compressed stream.
func TestCompressBufferedRemainder(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Compress = true }))
	c := ts.login("alice")
	var z strings.Builder
	zw, _ := stdflate.NewWriter(&z, stdflate.BestSpeed)
	io.WriteString(zw, "a1 NOOP\r\n")
	zw.Flush()
	c.send("z1 COMPRESS DEFLATE\r\n" + z.String()) // one write: one read on the server
	c.expect("z1 OK Begin compression.")
	c.startDeflate()
	c.readUntilTagged("a1").untagged().ok()
	c.do("a2 NOOP").ok()
}

func TestCompressRefused(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Compress = true }))
	c := ts.dial()
	c.do("a1 COMPRESS DEFLATE").tagged("BAD Login first.")
	caps := capsOf(t, c.do("a2 CAPABILITY").ok().lines()[0])
	if caps["COMPRESS=DEFLATE"] {
		t.Fatal("COMPRESS=DEFLATE offered before login")
	}
	c.login("alice", alicePass)
	c.do("a3 COMPRESS LZ4").tagged("BAD Unknown compression mechanism.")
	c.do("a4 COMPRESS").bad()
	c.do(`a5 COMPRESS "DEFLATE"`).bad() // an atom (RFC 4978 5)
	// Still uncompressed.
	c.do("a6 NOOP").tagged("OK Noop completed.")
	c.do("a7 compress deflate").tagged("OK Begin compression.")
	c.startDeflate()
	c.do("a8 NOOP").tagged("OK Noop completed.")
}

// TestCompressIdle: an update during IDLE reaches the client at once: the
// server flushes its compressor whenever it flushes the connection.
func TestCompressIdle(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Compress = true }))
	c := ts.login("alice")
	c.compress()
	c.do("a1 SELECT INBOX").contains("* 0 EXISTS").ok()
	c.send("a2 IDLE\r\n")
	c.expect("+ idling")

	c2 := ts.login("alice")
	c2.appendMsg("b1", "INBOX", testMsg("while idling")).ok()
	c.expect("* 1 EXISTS")
	c.expect("* 1 RECENT")
	c.send("DONE\r\n")
	c.readUntilTagged("a2").ok()
	c.do("a3 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])").
		untagged("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {25}\r\nSubject: while idling\r\n\r\n)").ok()
}

// partialFlushed is what zlib (deflateInit2 with windowBits -15, level 6)
// writes for three commands, each followed by deflate(Z_PARTIAL_FLUSH):
// the stream is then not byte-aligned, the last block ends in empty
// static blocks, and an inflater must give out the command without
// waiting for the next one.
var partialFlushed = []struct{ cmd, hex string }{
	{"p1 NOOP\r\n", "2a3054f0f3f70fe0e50208"},
	{"p2 SELECT INBOX\r\n", "a002238560571f57e710054f3f27ff085e2e8000"},
	{"p3 LOGOUT\r\n", "2a3056f0f177f70f0de1e50208"},
}

func TestCompressPartialFlush(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Compress = true }))
	c := ts.login("alice")
	c.do("z1 COMPRESS DEFLATE").ok()
	raw := c.conn
	c.startDeflate()
	send := func(i int) {
		t.Helper()
		b, err := hex.DecodeString(partialFlushed[i].hex)
		if err != nil {
			t.Fatal(err)
		}
		raw.SetWriteDeadline(deadline())
		if _, err := raw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// Each reply is awaited before the next command is sent: an
	// inflater that waits for more input deadlocks here (until the
	// client's read timeout fails the test).
	send(0)
	c.readUntilTagged("p1").tagged("OK Noop completed.")
	send(1)
	c.readUntilTagged("p2").contains("* 0 EXISTS").ok()
	send(2)
	c.readUntilTagged("p3").untagged("* BYE Logging out").ok()
}

// BenchmarkCompressSession measures a compressed session: the bytes on the
// wire for a login, COMPRESS, SELECT, FETCH of 20 messages and LOGOUT
// (against the uncompressed byte count of the responses), and the heap
// held per idle compressed session: both-sides-B/session over 200 real
// sessions minus the same sessions before COMPRESS (client and server
// share the process: the client's standard-library compressor is most of
// it), and server-B/session for the server's streams alone, built as
// cmdCompress builds them. For comparison, flatewriter-B is what one
// stateful klauspost flate.Writer at BestSpeed allocates for a first
// write and sync flush.
func BenchmarkCompressSession(b *testing.B) {
	ts := newTestServer(b, withOptions(func(o *Options) { o.MaxUserIPConnections = 1000; o.Compress = true }))
	for i := range 20 {
		ts.deliver("alice", "INBOX", testMsg(fmt.Sprint("message ", i))+strings.Repeat("Some body text of a mail.\r\n", 40))
	}
	var wire, plain int64
	for b.Loop() {
		c := ts.login("alice")
		f := c.compress()
		r1 := c.do("a1 SELECT INBOX").ok()
		r2 := c.do("a2 FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])").ok()
		c.do("a3 LOGOUT").ok()
		wire = f.rawIn.Load()
		plain = 0
		for _, l := range append(r1.lines(), r2.lines()...) {
			plain += int64(len(l) + 2)
		}
		c.conn.Close()
	}
	b.ReportMetric(float64(wire), "wire-B/session")
	b.ReportMetric(float64(plain), "plain-B/session")

	const n = 200
	cs := make([]*testClient, n)
	for i := range cs {
		cs[i] = ts.login("alice")
		cs[i].do("a1 NOOP").ok()
	}
	before := heapInUse()
	for _, c := range cs {
		c.compress()
		c.do("a2 NOOP").ok()
	}
	after := heapInUse()
	b.ReportMetric(float64(after-before)/n, "both-sides-B/session")
	for _, c := range cs {
		c.conn.Close()
	}

	// The server's part alone: what cmdCompress allocates, built the
	// same way, after one command in and one reply out.
	var cmd strings.Builder
	zw, _ := stdflate.NewWriter(&cmd, stdflate.BestSpeed)
	io.WriteString(zw, "a2 NOOP\r\n")
	zw.Flush()
	type serverSide struct {
		r *bufio.Reader
		w *deflateWriter
	}
	ss := make([]serverSide, n)
	before = heapInUse()
	for i := range ss {
		raw := bufio.NewReaderSize(strings.NewReader(cmd.String()), 8<<10)
		ss[i].r = bufio.NewReaderSize(flate.NewReaderOpts(raw, flate.WithPartialBlock()), compressedReadBuf)
		if l, err := ss[i].r.ReadString('\n'); err != nil || l != "a2 NOOP\r\n" {
			b.Fatalf("inflated %q, %v", l, err)
		}
		ss[i].w = newDeflateWriter(io.Discard)
		ss[i].w.Write([]byte("a2 OK Noop completed.\r\n"))
	}
	after = heapInUse()
	runtime.KeepAlive(ss)
	b.ReportMetric(float64(after-before)/n, "server-B/session")

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fw, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
	fw.Write([]byte("a1 OK Noop completed.\r\n"))
	fw.Flush()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(fw)
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc), "flatewriter-B")
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// deadline is the deadline of one client read or write.
func deadline() time.Time { return time.Now().Add(ioTimeout) }

// Without Options.Compress (the default) COMPRESS is neither advertised nor
// accepted.
func TestCompressOffByDefault(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do("a1 CAPABILITY").lacks("COMPRESS=DEFLATE").ok()
	c.do("a2 COMPRESS DEFLATE").bad()
	c.do("a3 NOOP").ok()
}
