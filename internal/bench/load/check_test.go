package load

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer accepts connections and, on each, sends greeting, reads one
// command line and answers it with reply, then reads until the client
// closes. It stands for a misbehaving server.
func fakeServer(t *testing.T, greeting, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(greeting))
				r := bufio.NewReader(c)
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
				if reply == "" {
					return // hang up without answering
				}
				c.Write([]byte(reply))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// oneCommand is a profile that sends one command and stops.
type oneCommand struct {
	proto string
	multi bool
}

func (p oneCommand) Name() string  { return "test" }
func (p oneCommand) Proto() string { return p.proto }
func (p oneCommand) Session(ctx context.Context, w *Worker) error {
	if p.proto == "pop3" {
		c, err := w.DialPOP3(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		if p.multi {
			_, _, _, err = c.Multi("UIDL", "UIDL", true)
		} else {
			_, err = c.Cmd("STAT", "STAT")
		}
		return err
	}
	c, err := w.DialIMAP(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Cmd("NOOP", "NOOP")
	return err
}

func runOne(t *testing.T, p Profile, addr string) *Report {
	t.Helper()
	rep, err := Run(context.Background(), p, Options{
		Target: Target{Addr: addr, Timeout: 500 * time.Millisecond},
		Users:  []Cred{{"u", "p"}}, Concurrency: 1, Count: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestIMAPResponseChecks(t *testing.T) {
	const greet = "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n"
	for _, c := range []struct {
		name, greeting, reply string
		want                  Kind // "" = no error
	}{
		{"ok", greet, "* 3 EXISTS\r\n* OK [UIDNEXT 4] next\r\na1 OK NOOP done\r\n", ""},
		{"literal with parens inside", greet, "* 1 FETCH (UID 7 BODY[] {4}\r\n((())\r\n* 2 FETCH (FLAGS (\\Seen))\r\na1 OK done\r\n", ""},
		{"quoted paren", greet, "* LIST () \"/\" \"a)b\"\r\na1 OK done\r\n", ""},
		{"tagged BAD", greet, "a1 BAD what?\r\n", KindBAD},
		{"tagged NO", greet, "a1 NO not now\r\n", KindNO},
		{"untagged BAD", greet, "* BAD junk\r\na1 OK done\r\n", KindBAD},
		{"unexpected BYE", greet, "* BYE going away\r\n", KindBYE},
		{"closed without answer", greet, "", KindBYE},
		{"unknown untagged", greet, "* FOO bar\r\na1 OK done\r\n", KindMalformed},
		{"unknown numbered", greet, "* 3 EXIST\r\na1 OK done\r\n", KindMalformed},
		{"FETCH without list", greet, "* 3 FETCH UID 4\r\na1 OK done\r\n", KindMalformed},
		{"FETCH of message 0", greet, "* 0 FETCH (UID 4)\r\na1 OK done\r\n", KindMalformed},
		{"line ends inside a FETCH after a literal", greet, "* 1 FETCH (UID 7 BODY[] {4}\r\n((()\r\na1 OK done\r\n", KindMalformed},
		{"unbalanced", greet, "* 1 FETCH (FLAGS (\\Seen)\r\na1 OK done\r\n", KindMalformed},
		{"unterminated string", greet, "* LIST () \"/\" \"INBOX\r\na1 OK done\r\n", KindMalformed},
		{"wrong tag", greet, "a7 OK done\r\n", KindMalformed},
		{"bad status", greet, "a1 MAYBE done\r\n", KindMalformed},
		{"LF only", greet, "a1 OK done\n", KindMalformed},
		{"unexpected continuation", greet, "+ go on\r\n", KindMalformed},
		{"greeting BYE", "* BYE too busy\r\n", "", KindBYE},
		{"greeting garbage", "HELLO\r\n", "", KindMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := runOne(t, oneCommand{proto: "imap"}, fakeServer(t, c.greeting, c.reply))
			checkKind(t, rep, c.want)
		})
	}
}

func TestIMAPTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("* OK ready\r\n"))
			time.Sleep(2 * time.Second) // never answers
			c.Close()
		}
	}()
	checkKind(t, runOne(t, oneCommand{proto: "imap"}, ln.Addr().String()), KindTimeout)
}

func TestPOP3ResponseChecks(t *testing.T) {
	for _, c := range []struct {
		name, greeting, reply string
		multi                 bool
		want                  Kind
	}{
		{"ok", "+OK ready\r\n", "+OK 2 320\r\n", false, ""},
		{"multi ok", "+OK ready\r\n", "+OK\r\n1 a\r\n2 b\r\n.\r\n", true, ""},
		{"ERR", "+OK ready\r\n", "-ERR no\r\n", false, KindBAD},
		{"garbage status", "+OK ready\r\n", "OK 2 320\r\n", false, KindMalformed},
		{"multi without dot", "+OK ready\r\n", "+OK\r\n1 a\r\n", true, KindTimeout},
		{"greeting ERR", "-ERR busy\r\n", "", false, KindBAD},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := runOne(t, oneCommand{proto: "pop3", multi: c.multi}, fakeServer(t, c.greeting, c.reply))
			checkKind(t, rep, c.want)
		})
	}
}

func checkKind(t *testing.T, rep *Report, want Kind) {
	t.Helper()
	if want == "" {
		if rep.Errors != 0 || rep.Ops != 1 {
			t.Fatalf("want a clean run, got %d errors %v (%s), %d ops", rep.Errors, rep.ErrorsByKind, strings.Join(rep.ErrorSamples, "; "), rep.Ops)
		}
		return
	}
	if rep.ErrorsByKind[want] == 0 || len(rep.ErrorsByKind) != 1 {
		t.Fatalf("want errors of kind %s, got %v (%s)", want, rep.ErrorsByKind, strings.Join(rep.ErrorSamples, "; "))
	}
	if want.Protocol() != (rep.ProtocolErrors > 0) {
		t.Errorf("protocol errors %d for kind %s", rep.ProtocolErrors, want)
	}
}

func TestSourceAddr(t *testing.T) {
	seen := map[string]bool{}
	for i := range 10000 {
		ip := SourceAddr(i)
		if !ip.IsLoopback() || ip.To4()[3] == 0 || ip.To4()[3] == 255 || ip.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Fatalf("SourceAddr(%d) = %v", i, ip)
		}
		if seen[ip.String()] {
			t.Fatalf("SourceAddr(%d) = %v twice", i, ip)
		}
		seen[ip.String()] = true
	}
}
