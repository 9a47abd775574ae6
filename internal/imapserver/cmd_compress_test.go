package imapserver

import (
	"bufio"
	"bytes"
	stdflate "compress/flate"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
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
		ss[i].r = bufio.NewReaderSize(newInflater(raw), compressedReadBuf)
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

// mbsyncPipelined is what mbsync 1.4.4 (isync, zlib 1.2.13) sent after
// COMPRESS DEFLATE, captured on the wire: NAMESPACE, LIST, SELECT and UID
// FETCH 1:43 (UID FLAGS), each ended by deflate(Z_PARTIAL_FLUSH), then 43
// pipelined "UID FETCH n (BODY.PEEK[])" in one dynamic-Huffman block and
// one Z_PARTIAL_FLUSH, whose empty static block zlib keeps 5 bits of. An
// inflater that reads 10 bits past a symbol (klauspost's and the standard
// library's in a non-final dynamic block) gives out nothing of that
// block.
const mbsyncPipelined = "" +
	"3256f073f4750d0e707476e5e502082013051fcfe01005252505252d255e2e800032550876f57175060a78fa39f94700" +
	"450002c84c21d4d345c1cd35c4d943c1d0cac4584103ccf771740fd6e4e5020840361de23418404110be0a1245fa765f" +
	"696b095508b08470ff6b809cbfa3c77dd9bdb03e3dbf7dbe7fbf7cddef1f3fbffff18a98c77843ec639c13eaaa0eea59" +
	"35a8afaa45bda82eea55f58c7a533d489d940f54b21a628db4865c23afd06b0416828dc442b111594836320bcd466821" +
	"da482d548bd442b5482d8789492d548bd44ab548ad548bd44ab548ad548bd44ab548ad548bd44ab54aad54abd44ab54a" +
	"ad876b4a6da956a92dd52ab5a55aa5b654abd4966a95da52ad525baaadd4966a2bb5a5da4a6da9b652fb13"

func mbsyncCommands() string {
	s := "3 NAMESPACE\r\n4 LIST \"\" \"*\"\r\n5 SELECT \"INBOX\"\r\n6 UID FETCH 1:43 (UID FLAGS)\r\n"
	for i := 1; i <= 43; i++ {
		s += fmt.Sprintf("%d UID FETCH %d (BODY.PEEK[])\r\n", i+6, i)
	}
	return s
}

// TestInflaterMbsync: everything mbsync sent comes out of the inflater
// while the connection stays open (no more input, no EOF).
func TestInflaterMbsync(t *testing.T) {
	z, err := hex.DecodeString(mbsyncPipelined)
	if err != nil {
		t.Fatal(err)
	}
	want := mbsyncCommands()
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(z)
	got := make(chan string, 1)
	go func() {
		r := newInflater(bufio.NewReader(pr))
		buf := make([]byte, len(want))
		n, err := io.ReadFull(r, buf)
		if err != nil {
			t.Error(err)
		}
		got <- string(buf[:n])
	}()
	select {
	case g := <-got:
		if g != want {
			t.Fatalf("got %q\nwant %q", g, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("inflater waits for input mbsync has not sent")
	}
}

// TestCompressMbsync replays mbsync's stream against the server: every
// pipelined command is answered without more input.
func TestCompressMbsync(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Compress = true }))
	for i := range 3 {
		ts.deliver("alice", "INBOX", testMsg(fmt.Sprint("m", i)))
	}
	c := ts.login("alice")
	c.do("2 COMPRESS DEFLATE").ok()
	z, err := hex.DecodeString(mbsyncPipelined)
	if err != nil {
		t.Fatal(err)
	}
	c.conn.SetWriteDeadline(deadline())
	if _, err := c.conn.Write(z); err != nil {
		t.Fatal(err)
	}
	c.startDeflate()
	c.readUntilTagged("3").ok()
	c.readUntilTagged("4").ok()
	c.readUntilTagged("5").contains("* 3 EXISTS").ok()
	c.readUntilTagged("6").contains(`* 3 FETCH (UID 3 FLAGS (\Recent))`).ok()
	if r := c.readUntilTagged("7").ok(); !strings.Contains(r.String(), "Subject: m0") {
		t.Fatalf("7: %s", r)
	}
	c.readUntilTagged("49").ok()
}

// TestInflaterRoundTrip checks the inflater against the standard
// library's compressor: every level (stored, Huffman-only, static and
// dynamic blocks), sync flushes at arbitrary points, matches reaching
// back the whole window, tiny reads, and EOF after the final block.
func TestInflaterRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var data []byte
	for len(data) < 300<<10 {
		switch rnd.IntN(4) {
		case 0:
			data = append(data, fmt.Sprintf("%d UID FETCH %d (BODY.PEEK[])\r\n", rnd.IntN(1000), rnd.IntN(99999))...)
		case 1:
			for range rnd.IntN(300) {
				data = append(data, byte(rnd.IntN(256)))
			}
		case 2:
			if len(data) > 40000 {
				off := len(data) - 32768 + rnd.IntN(100)
				data = append(data, data[off:off+rnd.IntN(600)]...)
			}
		default:
			data = append(data, bytes.Repeat([]byte{'a' + byte(rnd.IntN(3))}, rnd.IntN(700))...)
		}
	}
	for _, level := range []int{stdflate.NoCompression, stdflate.HuffmanOnly, 1, 6, 9} {
		var z bytes.Buffer
		zw, _ := stdflate.NewWriter(&z, level)
		for p := data; len(p) > 0; {
			n := min(len(p), 1+rnd.IntN(5000))
			zw.Write(p[:n])
			if rnd.IntN(3) == 0 {
				zw.Flush()
			}
			p = p[n:]
		}
		zw.Close()
		r := newInflater(bufio.NewReader(iotest.HalfReader(bytes.NewReader(z.Bytes()))))
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(r, 1<<30)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("level %d: %v, %d bytes of %d, equal %v", level, err, len(got), len(data), bytes.Equal(got, data))
		}
		got, err = io.ReadAll(newInflater(bufio.NewReader(bytes.NewReader(z.Bytes()))))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("level %d, big reads: %v, %d of %d", level, err, len(got), len(data))
		}
	}
	// Corrupt input is an error, not a hang or a panic.
	for _, bad := range []string{"ff", "0100", "010500fafe"} {
		b, _ := hex.DecodeString(bad)
		if _, err := io.ReadAll(newInflater(bufio.NewReader(bytes.NewReader(b)))); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
