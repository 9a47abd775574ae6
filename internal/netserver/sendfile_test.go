package netserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/tlsutil"
)

// writeCounter counts the bytes written through it. With unwrap it offers
// NetConn, so SendFile may look through it (and bypass it); without, it
// hides the socket.
type writeCounter struct {
	net.Conn
	n *atomic.Int64
}

func (w writeCounter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.Conn.Write(p)
}

type unwrappableCounter struct{ writeCounter }

func (u unwrappableCounter) NetConn() net.Conn { return u.Conn }

// testFile writes size random bytes to a file and returns it open, with
// its contents.
func testFile(t testing.TB, size int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(data)
	p := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, data
}

// connPair returns a server-side Conn over wrap(accepted socket) and the
// client's end. network is "tcp" or "unix".
func connPair(t testing.TB, network string, wrap func(net.Conn) net.Conn, tlsConfig *tls.Config) (*Conn, net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(wrap(nc), tlsConfig, false, nil)
	t.Cleanup(func() { c.Close() })
	return c, client
}

// readAll reads n bytes from the client side in the background.
func readAll(client net.Conn, n int) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		client.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, n)
		k, _ := io.ReadFull(client, buf)
		ch <- buf[:k]
	}()
	return ch
}

// TestSendFile: a byte range of a file reaches the client exactly, over
// TCP and over a Unix socket, after bytes written the ordinary way, and
// without passing through the wrapper's Write: the kernel sent it.
func TestSendFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is implemented for Linux only")
	}
	f, data := testFile(t, 3<<20+17)
	for _, network := range []string{"tcp", "unix", "tcp behind a PROXY header"} {
		t.Run(network, func(t *testing.T) {
			var through atomic.Int64
			c, client := connPair(t, strings.Fields(network)[0], func(nc net.Conn) net.Conn {
				var w net.Conn = unwrappableCounter{writeCounter{nc, &through}}
				if strings.Contains(network, "PROXY") {
					// As acceptProxied wraps a HAProxy listener's
					// connection after reading the header.
					w = &bufferedConn{Conn: w, r: bufio.NewReader(nc)}
				}
				return w
			}, nil)
			if !c.CanSendFile() {
				t.Fatal("CanSendFile: false on a plain socket")
			}
			prefix := []byte("* 1 FETCH (BODY[] {2097153}\r\n")
			const off, n = 1000, 2<<20 + 1
			got := readAll(client, len(prefix)+n)
			if _, err := c.Write(prefix); err != nil {
				t.Fatal(err)
			}
			w, err := c.SendFile(f, off, n, 5*time.Second)
			if err != nil || w != n {
				t.Fatalf("SendFile: %d, %v; want %d, nil", w, err, n)
			}
			want := append(prefix, data[off:off+n]...)
			if b := <-got; !bytes.Equal(b, want) {
				t.Fatalf("client got %d bytes, want %d (equal prefix: %v)", len(b), len(want), bytes.HasPrefix(b, prefix))
			}
			if through.Load() != int64(len(prefix)) {
				t.Fatalf("%d bytes went through Write, want only the %d of the prefix", through.Load(), len(prefix))
			}
			// The file offset was not used nor moved.
			if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
				t.Fatalf("file offset moved to %d", pos)
			}
		})
	}
}

// TestSendFileUnsupported: under TLS, or through a wrapper that hides the
// socket, SendFile refuses with nothing written, so the caller can copy.
func TestSendFileUnsupported(t *testing.T) {
	f, _ := testFile(t, 1000)
	t.Run("opaque wrapper", func(t *testing.T) {
		var through atomic.Int64
		c, _ := connPair(t, "tcp", func(nc net.Conn) net.Conn { return writeCounter{nc, &through} }, nil)
		if c.CanSendFile() {
			t.Fatal("CanSendFile: true through a wrapper without NetConn")
		}
		if w, err := c.SendFile(f, 0, 1000, time.Second); w != 0 || !errors.Is(err, ErrSendFileUnsupported) {
			t.Fatalf("SendFile: %d, %v; want 0, ErrSendFileUnsupported", w, err)
		}
	})
	t.Run("tls", func(t *testing.T) {
		c, client := connPair(t, "tcp", func(nc net.Conn) net.Conn { return nc }, tlsutil.TestServerConfig())
		if runtime.GOOS == "linux" && !c.CanSendFile() {
			t.Fatal("CanSendFile: false before STARTTLS")
		}
		tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true})
		errc := make(chan error, 1)
		go func() { errc <- tc.Handshake() }()
		if err := c.StartTLS(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if c.CanSendFile() {
			t.Fatal("CanSendFile: true under TLS")
		}
		if w, err := c.SendFile(f, 0, 1000, time.Second); w != 0 || !errors.Is(err, ErrSendFileUnsupported) {
			t.Fatalf("SendFile under TLS: %d, %v; want 0, ErrSendFileUnsupported", w, err)
		}
		// The stream is intact: TLS records still flow.
		go c.Write([]byte("still TLS\r\n"))
		buf := make([]byte, 11)
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(tc, buf); err != nil || string(buf) != "still TLS\r\n" {
			t.Fatalf("TLS read after refused SendFile: %q, %v", buf, err)
		}
	})
}

// TestSendFileShortFile: a range past the end of the file sends what
// there is and reports io.ErrUnexpectedEOF (the caller announced more).
func TestSendFileShortFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is implemented for Linux only")
	}
	f, data := testFile(t, 5000)
	c, client := connPair(t, "tcp", func(nc net.Conn) net.Conn { return nc }, nil)
	got := readAll(client, 1000)
	w, err := c.SendFile(f, 4000, 2000, time.Second)
	if w != 1000 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("SendFile past the end: %d, %v; want 1000, io.ErrUnexpectedEOF", w, err)
	}
	if b := <-got; !bytes.Equal(b, data[4000:]) {
		t.Fatal("client got the wrong bytes")
	}
}

// TestSendFileDeadline: the timeout bounds each wait for the client, not
// the whole transfer. A client that stops reading is cut off after about
// the timeout; one that reads slowly but steadily gets everything although
// the transfer takes several times the timeout. Small socket buffers make
// the kernel wait for the client.
func TestSendFileDeadline(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is implemented for Linux only")
	}
	const size = 2 << 20
	f, data := testFile(t, size)
	small := func(nc net.Conn) net.Conn {
		nc.(*net.TCPConn).SetWriteBuffer(32 << 10)
		return nc
	}
	t.Run("stalled client", func(t *testing.T) {
		c, client := connPair(t, "tcp", small, nil)
		client.(*net.TCPConn).SetReadBuffer(32 << 10)
		start := time.Now()
		w, err := c.SendFile(f, 0, size, 300*time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) || w >= size {
			t.Fatalf("SendFile to a client that reads nothing: %d, %v; want a deadline error", w, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("gave up after %v, want about 300ms", d)
		}
	})
	t.Run("slow client", func(t *testing.T) {
		c, client := connPair(t, "tcp", small, nil)
		client.(*net.TCPConn).SetReadBuffer(32 << 10)
		got := make(chan []byte, 1)
		go func() {
			var out []byte
			buf := make([]byte, 256<<10)
			client.SetReadDeadline(time.Now().Add(30 * time.Second))
			for len(out) < size {
				n, err := io.ReadFull(client, buf[:min(len(buf), size-len(out))])
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			got <- out
		}()
		start := time.Now()
		w, err := c.SendFile(f, 0, size, 300*time.Millisecond)
		if err != nil || w != size {
			t.Fatalf("SendFile to a slow client: %d, %v", w, err)
		}
		if d := time.Since(start); d < 600*time.Millisecond {
			t.Fatalf("transfer took %v: the test did not make the server wait beyond one timeout", d)
		}
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatal("slow client got the wrong bytes")
		}
	})
}
