package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchUsers(t *testing.T) {
	got, err := parseUsers("user%d:pw-%d", 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].User != "user1" || got[0].Pass != "pw-1" || got[2].User != "user3" {
		t.Fatalf("pattern: %+v", got)
	}
	if got, _ := parseUsers("u%d:p", 0, 4); len(got) != 4 {
		t.Fatalf("pattern without --nusers: %d users, want the concurrency 4", len(got))
	}
	if _, err := parseUsers("user%d", 3, 3); err == nil {
		t.Fatal("pattern without a password accepted")
	}

	// A users file, and a Dovecot passwd-file with {PLAIN} passwords.
	f := filepath.Join(t.TempDir(), "users")
	os.WriteFile(f, []byte("# test users\nalice:secret:with:colons\n\nbob:{PLAIN}b0b::::::\n"), 0o600)
	got, err = parseUsers(f, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Pass != "secret:with:colons" || got[1].User != "bob" || got[1].Pass != "b0b" {
		t.Fatalf("file: %+v", got)
	}
	os.WriteFile(f, []byte("no-colon\n"), 0o600)
	if _, err := parseUsers(f, 0, 1); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("bad line: %v", err)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--users", "u%d:p"},                                                                  // no --addr
		{"bench", "--addr", "127.0.0.1:1"},                                                             // no --users
		{"bench", "--addr", "127.0.0.1:1", "--users", "u%d:p", "--tls", "--starttls"},                  // both TLS modes
		{"bench", "--addr", "127.0.0.1:1", "--users", "u%d:p", "--profile", "nosuch"},                  // unknown profile
		{"bench", "--addr", "127.0.0.1:1", "--users", "u%d:p", "--profile", "pop3", "--proto", "imap"}, // mismatch
		{"bench", "--addr", "127.0.0.1:1", "--users", "u%d:p", "--duration", "1s", "--count", "3"},
	} {
		var out, errb bytes.Buffer
		if code := mainEnv(args, nil, &out, &errb, false); code != benchExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, benchExitUsage, errb.String())
		}
	}
}
