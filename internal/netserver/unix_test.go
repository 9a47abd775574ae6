package netserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUnixListener: a Unix socket listener creates its directory, replaces
// a stale socket, refuses one in use, and serves connections that count as
// secure (Dovecot treats local sockets as secure).
func TestUnixListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "lmtp")
	// A stale socket: bound and closed without unlinking.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	s := New(Options{})
	l := Listener{Name: "lmtp", Protocol: "lmtp", Network: "unix", Address: path,
		Handler: HandlerFunc(func(_ context.Context, c *Conn) {
			fmt.Fprintf(c, "secure=%v remote=%v\r\n", c.Secure(), c.Remote().Addr().IsValid())
		})}
	ln, err := s.Listen(l)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln, l) }()

	if _, err := New(Options{}).Listen(l); err == nil || !strings.Contains(err.Error(), "another process is listening") {
		t.Errorf("second listener on a live socket: %v", err)
	}

	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "secure=true remote=false\r\n" {
		t.Errorf("got %q, %v", line, err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket left after shutdown: %v", err)
	}
}
