package profile

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/bench/load"
)

func TestUIDSet(t *testing.T) {
	for _, c := range []struct {
		in   []uint32
		want string
	}{
		{[]uint32{5}, "5"},
		{[]uint32{3, 1, 2, 7, 9, 8, 11}, "1:3,7:9,11"},
		{nil, ""},
	} {
		if got := uidSet(c.in); got != c.want {
			t.Errorf("uidSet(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAppendArgs(t *testing.T) {
	m := message(1, 3)
	got := appendArgs(m)
	if !strings.HasPrefix(got, "(") || !strings.Contains(got, `) "`) || strings.Count(got, `"`) != 2 {
		t.Fatalf("appendArgs = %q", got)
	}
	if strings.Contains(string(m.Body), "\n") && strings.Count(string(m.Body), "\r\n") != strings.Count(string(m.Body), "\n") {
		t.Fatal("message has bare LF")
	}
}

// script is a fake server: after the greeting, each command line is
// answered by the first rule whose prefix matches it (after the tag for
// IMAP); "%s" in an IMAP answer is replaced by the tag.
type script struct {
	greeting string
	imap     bool
	rules    [][2]string
}

func (s script) serve(t *testing.T) string {
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
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprint(c, s.greeting)
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					tag, cmd := "", line
					if s.imap {
						tag, cmd, _ = strings.Cut(line, " ")
					}
					for _, rule := range s.rules {
						if strings.HasPrefix(cmd, rule[0]) {
							ans := rule[1]
							if s.imap {
								ans = strings.ReplaceAll(ans, "%s", tag)
							}
							fmt.Fprint(c, ans)
							break
						}
					}
					if cmd == "QUIT" || cmd == "LOGOUT" {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func runProfile(t *testing.T, name, addr string) *load.Report {
	t.Helper()
	return runProfileN(t, name, addr, 1)
}

func runProfileN(t *testing.T, name, addr string, sessions int) *load.Report {
	t.Helper()
	p, err := New(name, Settings{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := load.Run(context.Background(), p, load.Options{
		Target: load.Target{Addr: addr, Timeout: 2 * time.Second},
		Users:  []load.Cred{{User: "u", Pass: "p"}}, Concurrency: 1, Count: sessions,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func wantCheck(t *testing.T, rep *load.Report, op string) {
	t.Helper()
	if rep.ErrorsByKind[load.KindCheck] != 1 || rep.Errors != 1 {
		t.Fatalf("want one %s error, got %v: %v", load.KindCheck, rep.ErrorsByKind, rep.ErrorSamples)
	}
	if !strings.HasPrefix(rep.ErrorSamples[0], op+":") {
		t.Fatalf("error not on %s: %s", op, rep.ErrorSamples[0])
	}
}

var pop3Base = [][2]string{
	{"USER", "+OK\r\n"},
	{"PASS", "+OK logged in\r\n"},
	{"STAT", "+OK 2 300\r\n"},
	{"UIDL", "+OK\r\n1 a\r\n2 b\r\n.\r\n"},
	{"DELE", "+OK\r\n"},
	{"QUIT", "+OK bye\r\n"},
}

func TestPOP3Checks(t *testing.T) {
	retr := "+OK\r\nSubject: x\r\n\r\n..dot-stuffed\r\nbody\r\n.\r\n" // 34 octets once unstuffed
	t.Run("clean", func(t *testing.T) {
		s := script{greeting: "+OK ready\r\n", rules: append([][2]string{{"LIST", "+OK\r\n1 34\r\n2 34\r\n.\r\n"}, {"RETR", retr}}, pop3Base...)}
		rep := runProfile(t, "pop3", s.serve(t))
		if rep.Errors != 0 || rep.Sessions != 1 {
			t.Fatalf("errors %v %v, sessions %d", rep.ErrorsByKind, rep.ErrorSamples, rep.Sessions)
		}
	})
	t.Run("RETR shorter than LIST said", func(t *testing.T) {
		s := script{greeting: "+OK ready\r\n", rules: append([][2]string{{"LIST", "+OK\r\n1 35\r\n2 35\r\n.\r\n"}, {"RETR", retr}}, pop3Base...)}
		wantCheck(t, runProfile(t, "pop3", s.serve(t)), "RETR")
	})
	t.Run("UIDL misses a message", func(t *testing.T) {
		rules := append([][2]string{{"UIDL", "+OK\r\n1 a\r\n.\r\n"}, {"LIST", "+OK\r\n1 34\r\n2 34\r\n.\r\n"}, {"RETR", retr}}, pop3Base...)
		wantCheck(t, runProfile(t, "pop3", script{greeting: "+OK ready\r\n", rules: rules}.serve(t)), "UIDL")
	})
}

func TestWebmailChecks(t *testing.T) {
	base := [][2]string{
		{"LOGIN", "%s OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n"},
		{"LIST", "* LIST () \"/\" INBOX\r\n%s OK done\r\n"},
		{"SELECT", "* 3 EXISTS\r\n* OK [UIDNEXT 4] next\r\n%s OK [READ-WRITE] done\r\n"},
		{"UID SEARCH", "* SEARCH 1 3\r\n%s OK done\r\n"},
		{"LOGOUT", "* BYE bye\r\n%s OK done\r\n"},
	}
	page := "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5)\r\n* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 5)\r\n* 3 FETCH (UID 3 FLAGS () RFC822.SIZE 5)\r\n%s OK done\r\n"
	body := "* 2 FETCH (UID 2 RFC822.SIZE 5 BODY[] {5}\r\nhello)\r\n%s OK done\r\n"
	t.Run("clean", func(t *testing.T) {
		s := script{greeting: "* OK ready\r\n", imap: true, rules: append([][2]string{{"FETCH", page}, {"UID FETCH", body}}, base...)}
		rep := runProfile(t, "webmail", s.serve(t))
		if rep.Errors != 0 || rep.Sessions != 1 {
			t.Fatalf("errors %v %v, sessions %d", rep.ErrorsByKind, rep.ErrorSamples, rep.Sessions)
		}
	})
	t.Run("page misses a message", func(t *testing.T) {
		short := page[strings.Index(page, "* 2"):]
		s := script{greeting: "* OK ready\r\n", imap: true, rules: append([][2]string{{"FETCH", short}, {"UID FETCH", body}}, base...)}
		wantCheck(t, runProfile(t, "webmail", s.serve(t)), "FETCH page")
	})
	t.Run("body shorter than RFC822.SIZE", func(t *testing.T) {
		bad := strings.Replace(body, "RFC822.SIZE 5", "RFC822.SIZE 6", 1)
		s := script{greeting: "* OK ready\r\n", imap: true, rules: append([][2]string{{"FETCH", page}, {"UID FETCH", bad}}, base...)}
		wantCheck(t, runProfile(t, "webmail", s.serve(t)), "UID FETCH body")
	})
}

func TestCachingChecks(t *testing.T) {
	base := [][2]string{
		{"LOGIN", "%s OK [CAPABILITY IMAP4rev1 UIDPLUS IDLE] in\r\n"},
		{"SELECT", "* 2 EXISTS\r\n* OK [UIDNEXT 3] next\r\n%s OK [READ-WRITE] done\r\n"},
		{"UID FETCH 1:2 (UID FLAGS)", "* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n%s OK done\r\n"},
		{"UID STORE", "%s OK done\r\n"},
		{"UID EXPUNGE", "* 1 EXPUNGE\r\n%s OK done\r\n"},
		{"IDLE", "+ idling\r\n"},
		{"DONE", ""},
		{"LOGOUT", "* BYE bye\r\n%s OK done\r\n"},
	}
	headers := "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 9 BODY[HEADER.FIELDS (DATE FROM)] {9}\r\nDate: x\r\n)\r\n" +
		"* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 9 BODY[HEADER.FIELDS (DATE FROM)] {9}\r\nDate: y\r\n)\r\n%s OK done\r\n"
	// The fake answers DONE with the IDLE's tagged OK: remember the tag.
	serve := func(t *testing.T, fetch string) string {
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
					c.SetDeadline(time.Now().Add(10 * time.Second))
					fmt.Fprint(c, "* OK ready\r\n")
					r := bufio.NewReader(c)
					idleTag := ""
					for {
						line, err := r.ReadString('\n')
						if err != nil {
							return
						}
						line = strings.TrimRight(line, "\r\n")
						if line == "DONE" {
							fmt.Fprintf(c, "%s OK idle done\r\n", idleTag)
							continue
						}
						tag, cmd, _ := strings.Cut(line, " ")
						switch {
						case cmd == "IDLE":
							idleTag = tag
						case strings.HasPrefix(cmd, "APPEND"):
							// Read the literal ({n} at the end) and its CRLF.
							var n int
							fmt.Sscanf(cmd[strings.LastIndexByte(cmd, '{'):], "{%d}", &n)
							fmt.Fprint(c, "+ go\r\n")
							if _, err := io.ReadFull(r, make([]byte, n+2)); err != nil {
								return
							}
							fmt.Fprintf(c, "%s OK appended\r\n", tag)
							continue
						}
						if strings.HasPrefix(cmd, "UID FETCH") && strings.Contains(cmd, "HEADER.FIELDS") {
							fmt.Fprint(c, strings.ReplaceAll(fetch, "%s", tag))
							continue
						}
						for _, rule := range base {
							if strings.HasPrefix(cmd, rule[0]) {
								fmt.Fprint(c, strings.ReplaceAll(rule[1], "%s", tag))
								break
							}
						}
						if cmd == "LOGOUT" {
							return
						}
					}
				}()
			}
		}()
		return ln.Addr().String()
	}
	t.Run("clean", func(t *testing.T) {
		// 30 sessions (seeded): some take the new-mail path, APPEND and
		// UID EXPUNGE of the oldest message.
		rep := runProfileN(t, "caching", serve(t, headers), 30)
		if rep.Errors != 0 || rep.Sessions != 30 {
			t.Fatalf("errors %v %v, sessions %d", rep.ErrorsByKind, rep.ErrorSamples, rep.Sessions)
		}
		ops := map[string]uint64{}
		for _, o := range rep.Commands {
			ops[o.Name] = o.Count
		}
		if ops["APPEND INBOX"] == 0 || ops["UID EXPUNGE"] != ops["APPEND INBOX"] || ops["IDLE"] != 90 || ops["DONE"] != 90 {
			t.Fatalf("operations %v", ops)
		}
	})
	t.Run("FETCH without the header fields", func(t *testing.T) {
		bad := "* 1 FETCH (UID 1 FLAGS ())\r\n%s OK done\r\n"
		wantCheck(t, runProfile(t, "caching", serve(t, bad)), "UID FETCH headers")
	})
}
