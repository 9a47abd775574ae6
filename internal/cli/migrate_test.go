package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportExport runs import twice (the second stores nothing), then
// export, through the command line.
func TestImportExport(t *testing.T) {
	cfg, _ := testConfig(t, "")
	src := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp", ".Archive.2026/cur"} {
		os.MkdirAll(filepath.Join(src, d), 0o700)
	}
	os.WriteFile(filepath.Join(src, "dovecot-uidlist"), []byte("3 V123456 N8 Gx\n7 :1.a\n"), 0o600)
	os.WriteFile(filepath.Join(src, "cur", "1.a:2,S"), []byte("Subject: a\n\nA\n"), 0o600)
	os.WriteFile(filepath.Join(src, ".Archive.2026", "cur", "2.b:2,F"), []byte("Subject: b\n\nB\n"), 0o600)

	code, out, errOut := run(t, "", "import", "-c", cfg, "-u", "alice", "maildir", src)
	if code != 0 || !strings.Contains(out, "alice: imported 2 messages") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	code, out, errOut = run(t, "", "import", "-c", cfg, "-u", "alice", "-q", "maildir", src)
	if code != 0 || !strings.Contains(out, "imported 0 messages") || !strings.Contains(out, "2 already there") {
		t.Fatalf("second import: %d %q %q", code, out, errOut)
	}
	dst := filepath.Join(t.TempDir(), "out")
	code, out, errOut = run(t, "", "export", "-c", cfg, "-u", "alice", "maildir", dst)
	if code != 0 {
		t.Fatalf("export: %d %q %q", code, out, errOut)
	}
	ul, err := os.ReadFile(filepath.Join(dst, "dovecot-uidlist"))
	if err != nil || !strings.HasPrefix(string(ul), "3 V123456 N8 ") || !strings.Contains(string(ul), "\n7 :") {
		t.Fatalf("exported uidlist %q, %v", ul, err)
	}
	if _, err := os.Stat(filepath.Join(dst, ".Archive.2026", "dovecot-uidlist")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, "", "import", "-c", cfg, "maildir", src); code != exitUsage {
		t.Fatalf("import without -u: exit %d", code)
	}
}

// TestImportAllUsers imports every passwd-file user's Maildir found by
// --home-template; users without one are skipped with a message.
func TestImportAllUsers(t *testing.T) {
	cfg, dir := testConfig(t, "")
	os.WriteFile(filepath.Join(dir, "users"), []byte("alice@example.org:{PLAIN}a::::::\nbob@example.org:{PLAIN}b::::::\n"), 0o600)
	vmail := filepath.Join(t.TempDir(), "vmail")
	src := filepath.Join(vmail, "example.org", "alice", "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(src, d), 0o700)
	}
	os.WriteFile(filepath.Join(src, "dovecot-uidlist"), []byte("3 V99 N3 Gx\n2 :1.a\n"), 0o600)
	os.WriteFile(filepath.Join(src, "cur", "1.a:2,S"), []byte("Subject: a\n\nA\n"), 0o600)

	code, out, errOut := run(t, "", "import", "-c", cfg, "--all-users", "--home-template", vmail+"/%d/%n/Maildir", "maildir")
	if code != 0 || !strings.Contains(out, "alice@example.org: imported 1 messages") || strings.Contains(out, "bob@") ||
		!strings.Contains(errOut, "bob@example.org") {
		t.Fatalf("import --all-users: %d %q %q", code, out, errOut)
	}
	if code, _, _ := run(t, "", "import", "-c", cfg, "--all-users", "-u", "alice", "maildir"); code != exitUsage {
		t.Fatalf("--all-users with -u: exit %d", code)
	}
}

func TestExportLayoutFS(t *testing.T) {
	cfg, _ := testConfig(t, "")
	src := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp", "Lists/go/cur"} {
		os.MkdirAll(filepath.Join(src, d), 0o700)
	}
	os.WriteFile(filepath.Join(src, "Lists", "go", "cur", "1.a:2,S"), []byte("Subject: a\n\nA\n"), 0o600)
	if code, out, errOut := run(t, "", "import", "-c", cfg, "-u", "alice", "--layout", "fs", "-q", "maildir", src); code != 0 || !strings.Contains(out, "imported 1 messages") {
		t.Fatalf("import --layout fs: %d %q %q", code, out, errOut)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if code, out, errOut := run(t, "", "export", "-c", cfg, "-u", "alice", "--layout", "fs", "-q", "maildir", dst); code != 0 {
		t.Fatalf("export --layout fs: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dst, "Lists", "go", "dovecot-uidlist")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, "", "export", "-c", cfg, "-u", "alice", "--layout", "bogus", "-q", "maildir", t.TempDir()+"/x"); code == 0 {
		t.Fatal("export with an unknown layout succeeded")
	}
}
