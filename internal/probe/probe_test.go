package probe

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestClosedAndSilent runs the probe against real loopback sockets: a port
// nobody listens on is "closed" (not an error); a listener that accepts and
// never greets is an error after one step's timeout, not a hang.
func TestClosedAndSilent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port

	targets := []Target{
		{Scheme: "imap", Host: "127.0.0.1", Port: closedPort},
		{Scheme: "pop3", Host: "127.0.0.1", Port: silentPort},
	}
	start := time.Now()
	r := Run(context.Background(), targets, Options{Timeout: 300 * time.Millisecond})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v with a 300ms step timeout", d)
	}
	if s := r.Services[0]; s.State != StateClosed {
		t.Errorf("closed port: state %q error %q", s.State, s.Error)
	}
	if s := r.Services[1]; s.State != StateError || !strings.Contains(s.Error, "greeting") {
		t.Errorf("silent server: state %q error %q, want an error about the greeting", s.State, s.Error)
	}
	if !r.Errors() {
		t.Error("report has no errors")
	}
	if len(r.Findings) != 0 {
		t.Errorf("findings for unreachable services: %v", r.Findings)
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "  closed\n") {
		t.Errorf("text report does not say closed:\n%s", b.String())
	}
}

func TestDialErrorTimeout(t *testing.T) {
	if got := dialError(&net.OpError{Op: "dial", Err: timeoutErr{}}); got != StateFiltered {
		t.Errorf("dialError(timeout) = %q, want %q", got, StateFiltered)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
