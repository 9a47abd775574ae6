package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/bench/load"
)

// benchBin is the roost binary that runs `roost bench` (the client): the
// binary under test, or one built here when the server is Dovecot.
func benchBin(t *testing.T) string {
	t.Helper()
	if roostBin != "" {
		return roostBin
	}
	bin := filepath.Join(t.TempDir(), "roost")
	if err := buildRoost(bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runBench runs `roost bench ARGS --json` and decodes the report.
func runBench(t *testing.T, bin string, args ...string) (*load.Report, int, string) {
	t.Helper()
	stdout, stderr, code := runCmd(t, nil, bin, append([]string{"bench", "--json", "--quiet"}, args...)...)
	var rep load.Report
	if err := json.Unmarshal(stdout, &rep); err != nil {
		t.Fatalf("roost bench %v: exit %d, no JSON report (%v)\nstdout: %s\nstderr: %s", args, code, err, stdout, stderr)
	}
	return &rep, code, string(stderr)
}

// TestBenchProfiles: `roost bench --prepare` loads a corpus into eight
// accounts over IMAPS, then every profile runs for two seconds against
// the real server: each must see no errors at all and do real work.
func TestBenchProfiles(t *testing.T) {
	s := startServer(t, serverOpts{imap: true})
	f, err := os.OpenFile(s.users, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(f, "bench%d:{PLAIN}pw-%d\n", i, i)
	}
	f.Close()
	bin := benchBin(t)
	imaps := "127.0.0.1:" + strconv.Itoa(s.imapsPort)
	users := []string{"--users", "bench%d:pw-%d", "--nusers", "8"}

	rep, code, stderr := runBench(t, bin, append(users, "--addr", imaps, "--tls", "--insecure", "--prepare", "--messages", "60", "-n", "4")...)
	if code != 0 || rep.Errors != 0 || rep.Sessions != 8 {
		t.Fatalf("prepare: exit %d, %d errors %v, %d sessions\n%s", code, rep.Errors, rep.ErrorSamples, rep.Sessions, stderr)
	}
	if n := opCount(rep, "APPEND INBOX"); n != 8*60 {
		t.Fatalf("prepare appended %d messages, want %d", n, 8*60)
	}
	// A second prepare finds the mailboxes full and appends nothing.
	rep, code, _ = runBench(t, bin, append(users, "--addr", imaps, "--tls", "--insecure", "--prepare", "--messages", "60", "-n", "4")...)
	if code != 0 || opCount(rep, "APPEND INBOX") != 0 {
		t.Fatalf("second prepare: exit %d, %d APPENDs", code, opCount(rep, "APPEND INBOX"))
	}

	for _, c := range []struct {
		profile, addr, tls string
		want               []string // operations that must have happened
	}{
		{"caching", imaps, "--tls", []string{"LOGIN", "SELECT", "UID FETCH headers", "UID FETCH flags", "UID STORE", "IDLE", "DONE", "LOGOUT"}},
		{"webmail", imaps, "--tls", []string{"LIST", "SELECT", "FETCH page", "UID FETCH body", "UID SEARCH"}},
		{"append", imaps, "--tls", []string{"APPEND Sent"}},
		{"pop3", "127.0.0.1:" + strconv.Itoa(s.pop3sPort), "--tls", []string{"USER", "PASS", "STAT", "UIDL", "LIST", "RETR", "DELE", "QUIT"}},
		// STARTTLS and STLS (RFC 2595) on the plain ports.
		{"caching", "127.0.0.1:" + strconv.Itoa(s.imapPort), "--starttls", []string{"LOGIN", "UID STORE", "IDLE"}},
		{"pop3", "127.0.0.1:" + strconv.Itoa(s.pop3Port), "--starttls", []string{"PASS", "RETR"}},
	} {
		t.Run(c.profile+c.tls, func(t *testing.T) {
			rep, code, stderr := runBench(t, bin, append(users, "--addr", c.addr, c.tls, "--insecure", "--profile", c.profile, "-n", "4", "--duration", "2s")...)
			if code != 0 || rep.Errors != 0 || rep.ProtocolErrors != 0 {
				t.Fatalf("exit %d, %d errors (%d protocol): %v\n%s", code, rep.Errors, rep.ProtocolErrors, rep.ErrorSamples, stderr)
			}
			if rep.OpsPerSec <= 0 || rep.Sessions == 0 || rep.All.P99Ms <= 0 {
				t.Fatalf("no throughput: %.1f ops/s, %d sessions, p99 %.2f ms", rep.OpsPerSec, rep.Sessions, rep.All.P99Ms)
			}
			for _, op := range c.want {
				if opCount(rep, op) == 0 {
					t.Errorf("no %s in the report", op)
				}
			}
		})
	}

	t.Run("idle", func(t *testing.T) {
		args := append(users, "--addr", imaps, "--tls", "--insecure", "--profile", "idle", "-n", "40", "--duration", "4s")
		if !s.ref {
			args = append(args, "--server-pid", strconv.Itoa(s.cmd.Process.Pid))
		}
		rep, code, stderr := runBench(t, bin, args...)
		if code != 0 || rep.Errors != 0 {
			t.Fatalf("exit %d, %d errors: %v\n%s", code, rep.Errors, rep.ErrorSamples, stderr)
		}
		if opCount(rep, "IDLE") != 40 || opCount(rep, "DONE") != 40 {
			t.Fatalf("IDLE %d, DONE %d, want 40 each", opCount(rep, "IDLE"), opCount(rep, "DONE"))
		}
		if s.ref {
			return
		}
		m := rep.Memory
		if m == nil {
			t.Fatalf("no memory report: %s", rep.MemoryError)
		}
		if m.Connections != 40 || m.During.Processes < 1 || m.During.RSSKiB <= 0 || m.During.PSSKiB <= 0 {
			t.Fatalf("memory report %+v", m)
		}
	})
}

func opCount(rep *load.Report, name string) uint64 {
	for _, o := range rep.Commands {
		if o.Name == name {
			return o.Count
		}
	}
	return 0
}

// fakeIMAP is a tiny broken server: it greets, accepts LOGIN, and answers
// every other command with answer(tag, command).
func fakeIMAP(t *testing.T, answer func(tag, cmd string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fmt.Fprintf(c, "* OK [CAPABILITY IMAP4rev1 IDLE] fake ready\r\n")
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					tag, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
					switch {
					case strings.HasPrefix(cmd, "LOGIN "):
						fmt.Fprintf(c, "%s OK logged in\r\n", tag)
					case cmd == "LOGOUT":
						fmt.Fprintf(c, "* BYE bye\r\n%s OK done\r\n", tag)
						return
					default:
						c.Write([]byte(answer(tag, cmd)))
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestBenchReportsServerErrors: against servers that misbehave, roost
// bench counts protocol errors by kind and exits 1.
func TestBenchReportsServerErrors(t *testing.T) {
	bin := benchBin(t)
	for _, c := range []struct {
		name   string
		answer func(tag, cmd string) string
		kind   load.Kind
	}{
		{"BAD to everything", func(tag, cmd string) string { return tag + " BAD unknown command\r\n" }, load.KindBAD},
		{"malformed EXISTS", func(tag, cmd string) string {
			return "* 3 EXISTZ\r\n" + tag + " OK [READ-WRITE] selected\r\n"
		}, load.KindMalformed},
		{"unexpected BYE", func(tag, cmd string) string { return "* BYE shutting down\r\n" }, load.KindBYE},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := fakeIMAP(t, c.answer)
			rep, code, stderr := runBench(t, bin, "--addr", addr, "--users", "u%d:p", "-n", "2", "--duration", "1s", "--profile", "caching")
			if code != 1 {
				t.Errorf("exit %d, want 1\n%s", code, stderr)
			}
			if rep.ProtocolErrors == 0 || rep.ErrorsByKind[c.kind] == 0 {
				t.Fatalf("want %s errors, got %v (%d protocol): %v", c.kind, rep.ErrorsByKind, rep.ProtocolErrors, rep.ErrorSamples)
			}
			if opCount(rep, "session") != 0 {
				t.Errorf("%d sessions completed against a broken server", opCount(rep, "session"))
			}
		})
	}
}
