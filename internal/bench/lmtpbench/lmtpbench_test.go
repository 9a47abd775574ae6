package lmtpbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/bench/mailgen"
)

// fakeLMTP is a minimal LMTP server that checks what the client sends:
// the pipelined envelope and the dot-stuffed message, which it unstuffs
// and keeps per recipient.
type fakeLMTP struct {
	mu   sync.Mutex
	got  map[string][][]byte
	errs []string
}

func (f *fakeLMTP) serve(t *testing.T, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go f.conn(c)
	}
}

func (f *fakeLMTP) fail(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeLMTP) conn(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprint(c, "220 fake LMTP\r\n")
	var rcpt string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.TrimRight(line, "\r\n"); {
		case strings.HasPrefix(cmd, "LHLO "):
			fmt.Fprint(c, "250-fake\r\n250 PIPELINING\r\n")
		case strings.HasPrefix(cmd, "MAIL FROM:<"):
			fmt.Fprint(c, "250 2.1.0 OK\r\n")
		case strings.HasPrefix(cmd, "RCPT TO:<"):
			rcpt = strings.TrimSuffix(strings.TrimPrefix(cmd, "RCPT TO:<"), ">")
			fmt.Fprint(c, "250 2.1.5 OK\r\n")
		case cmd == "DATA":
			fmt.Fprint(c, "354 go\r\n")
			var msg bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				if !strings.HasSuffix(l, "\r\n") {
					f.fail("bare LF line %q", l)
				}
				msg.WriteString(strings.TrimPrefix(l, "."))
			}
			f.mu.Lock()
			f.got[rcpt] = append(f.got[rcpt], msg.Bytes())
			f.mu.Unlock()
			fmt.Fprintf(c, "250 2.0.0 <%s> saved\r\n", rcpt)
		case cmd == "QUIT":
			fmt.Fprint(c, "221 bye\r\n")
			return
		default:
			f.fail("unexpected command %q", cmd)
			fmt.Fprint(c, "500 what\r\n")
		}
	}
}

// TestRun: 3 senders deliver 40 messages round robin to 4 recipients; the
// server receives every generated message byte-exact (CRLF, dots
// unstuffed), and the result counts them.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := &fakeLMTP{got: map[string][][]byte{}}
	go f.serve(t, ln)
	rcpts := []string{"a@x", "b@x", "c@x", "d@x"}
	res, err := Run(context.Background(), Config{Addr: ln.Addr().String(), Senders: 3, Deliveries: 40, Recipients: rcpts, Seed: 7, Distinct: 8})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != 40 || res.PerSecond <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("result %+v", res)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		t.Fatalf("server saw: %q", f.errs)
	}
	want := map[string]bool{}
	for i := 0; i < 8; i++ {
		want[string(mailgen.CRLF(mailgen.Generate(7, i).Body))] = true
	}
	n := 0
	for _, r := range rcpts {
		if len(f.got[r]) != 10 {
			t.Errorf("%s got %d messages, want 10", r, len(f.got[r]))
		}
		for _, m := range f.got[r] {
			n++
			if !want[string(m)] {
				t.Errorf("%s got a message that is not a generated one (%d bytes)", r, len(m))
			}
		}
	}
	if n != 40 {
		t.Errorf("server got %d messages", n)
	}
}

// TestRunFailsOnRefusal: a refused recipient ends the run with an error.
func TestRunFailsOnRefusal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		fmt.Fprint(c, "220 x\r\n")
		r.ReadString('\n')
		fmt.Fprint(c, "250 x\r\n")
		for range 3 {
			r.ReadString('\n')
		}
		fmt.Fprint(c, "250 ok\r\n550 5.1.1 no such user\r\n503 no\r\n")
	}()
	_, err = Run(context.Background(), Config{Addr: ln.Addr().String(), Senders: 1, Deliveries: 1, Recipients: []string{"x@y"}})
	if err == nil || !strings.Contains(err.Error(), "550 5.1.1") {
		t.Errorf("Run: %v, want the 550", err)
	}
}

func TestDotStuff(t *testing.T) {
	got := string(dotStuff([]byte(".a\r\nb\r\n..c\r\nno end")))
	if want := "..a\r\nb\r\n...c\r\nno end\r\n.\r\n"; got != want {
		t.Errorf("dotStuff = %q, want %q", got, want)
	}
}

// TestWriteMaildir: the Maildir has one file per message, a
// dovecot-uidlist naming them in order, and \Seen in the names as mailgen
// says.
func TestWriteMaildir(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteMaildir(dir, 20, 3); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "cur"))
	ul, _ := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	lines := strings.Split(strings.TrimSpace(string(ul)), "\n")
	if len(ents) != 20 || len(lines) != 21 || !strings.HasPrefix(lines[0], "3 V1700000000 N21 ") {
		t.Fatalf("%d files, uidlist %q", len(ents), lines[:min(3, len(lines))])
	}
	for i := 0; i < 20; i++ {
		base := strings.SplitN(lines[i+1], ":", 2)[1]
		m := mailgen.Generate(3, i)
		name := base + ":2,"
		if m.Seen {
			name += "S"
		}
		b, err := os.ReadFile(filepath.Join(dir, "cur", name))
		if err != nil || !bytes.Equal(b, m.Body) {
			t.Errorf("UID %d (%s): %v", i+1, name, err)
		}
	}
}
