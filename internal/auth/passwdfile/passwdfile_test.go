package passwdfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

const oddFile = "# Roost users\n" +
	"\n" +
	"alice:{PLAIN}secret:1000:1000:Alice A:/home/alice:/bin/sh:userdb_quota_rule=*:storage=1G  allow_nets=127.0.0.1/8\n" +
	":{PLAIN}nouser\n" +
	"   \n" +
	"bob:$6$salt$hash\r\n" +
	"#carol:{PLAIN}commented\n" +
	"carol\n" +
	"alice:{PLAIN}shadowed\n" +
	"Dave:{PLAIN}x::::::nopassword deny=yes\n" +
	"erin:{PLAIN}pass:with:colons"

func TestParse(t *testing.T) {
	got := Parse([]byte(oddFile))
	want := []Entry{
		{User: "alice", Password: "{PLAIN}secret", UID: "1000", GID: "1000", Gecos: "Alice A", Home: "/home/alice", Shell: "/bin/sh",
			Extra: map[string]string{"userdb_quota_rule": "*:storage=1G", "allow_nets": "127.0.0.1/8"}, Line: 3},
		// A line of spaces has a user name of spaces, as in Dovecot; it can never log in.
		{User: "   ", Line: 5},
		{User: "bob", Password: "$6$salt$hash", Line: 6},
		{User: "carol", Line: 8},
		{User: "alice", Password: "{PLAIN}shadowed", Line: 9},
		{User: "Dave", Password: "{PLAIN}x", Extra: map[string]string{"nopassword": "", "deny": "yes"}, Line: 10},
		{User: "erin", Password: "{PLAIN}pass", UID: "with", GID: "colons", Line: 11},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", got, want)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, oddFile)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, password string
		found          bool
	}{
		{"alice", "{PLAIN}secret", true}, // first of two entries wins
		{"bob", "$6$salt$hash", true},    // CRLF stripped
		{"carol", "", true},
		{"Dave", "{PLAIN}x", true},
		{"dave", "", false}, // exact, case-sensitive
		{"ALICE", "", false},
		{"#carol", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		e, ok, err := f.Lookup(tt.user)
		if err != nil || ok != tt.found || e.Password != tt.password {
			t.Errorf("Lookup(%q) = %q, %v, %v; want %q, %v", tt.user, e.Password, ok, err, tt.password, tt.found)
		}
	}
	users, err := f.Users()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.User)
	}
	if want := []string{"alice", "   ", "bob", "carol", "Dave", "erin"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Users = %q, want %q", names, want)
	}
	// Lookup returns copies.
	e, _, _ := f.Lookup("alice")
	e.Extra["allow_nets"] = "0.0.0.0/0"
	if e2, _, _ := f.Lookup("alice"); e2.Extra["allow_nets"] != "127.0.0.1/8" {
		t.Error("modifying a returned Entry changed the File")
	}
}

func TestReloadOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "alice:{PLAIN}one\n")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(user, want string) {
		t.Helper()
		e, ok, err := f.Lookup(user)
		if err != nil {
			t.Fatal(err)
		}
		if want == "" && ok || want != "" && e.Password != want {
			t.Fatalf("Lookup(%q) = %q, %v; want %q", user, e.Password, ok, want)
		}
	}
	check("alice", "{PLAIN}one")

	// In place, same size, same inode: mtime/ctime (nanoseconds) differ.
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("two"), int64(len("alice:{PLAIN}"))); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	check("alice", "{PLAIN}two")

	// Replaced by rename (the editor's way).
	if err := Add(path, Entry{User: "bob", Password: "{PLAIN}b"}); err != nil {
		t.Fatal(err)
	}
	check("bob", "{PLAIN}b")
	if err := Delete(path, "alice"); err != nil {
		t.Fatal(err)
	}
	check("alice", "")

	// A removed file is an error, not stale data.
	os.Remove(path)
	if _, _, err := f.Lookup("bob"); err == nil {
		t.Fatal("Lookup on a removed file: no error")
	}
	if _, err := Open(path); err == nil {
		t.Fatal("Open of a missing file: no error")
	}
}

func TestEditPreservesBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	orig := "# comment  with  spaces\n\nalice:{PLAIN}a:1:1::/h:/s:k=v\r\nbob\ncarol:{PLAIN}c\n#tail"
	writeFile(t, path, orig)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"add", func() error {
			return Add(path, Entry{User: "dave", Password: "{PLAIN}d", Home: "/home/dave", Extra: map[string]string{"b": "2", "a": "*:x=1", "nopassword": ""}})
		},
			orig + "\ndave:{PLAIN}d::::/home/dave::a=*:x=1 b=2 nopassword\n"},
		{"set CRLF line", func() error { return SetPassword(path, "alice", "{SHA}new") },
			"# comment  with  spaces\n\nalice:{SHA}new:1:1::/h:/s:k=v\r\nbob\ncarol:{PLAIN}c\n#tail\ndave:{PLAIN}d::::/home/dave::a=*:x=1 b=2 nopassword\n"},
		{"set user-only line", func() error { return SetPassword(path, "bob", "{PLAIN}b b") },
			"# comment  with  spaces\n\nalice:{SHA}new:1:1::/h:/s:k=v\r\nbob:{PLAIN}b b\ncarol:{PLAIN}c\n#tail\ndave:{PLAIN}d::::/home/dave::a=*:x=1 b=2 nopassword\n"},
		{"set password-only line", func() error { return SetPassword(path, "carol", "$2y$05$x") },
			"# comment  with  spaces\n\nalice:{SHA}new:1:1::/h:/s:k=v\r\nbob:{PLAIN}b b\ncarol:$2y$05$x\n#tail\ndave:{PLAIN}d::::/home/dave::a=*:x=1 b=2 nopassword\n"},
		{"delete", func() error { return Delete(path, "bob") },
			"# comment  with  spaces\n\nalice:{SHA}new:1:1::/h:/s:k=v\r\ncarol:$2y$05$x\n#tail\ndave:{PLAIN}d::::/home/dave::a=*:x=1 b=2 nopassword\n"},
		{"delete last", func() error { return Delete(path, "dave") },
			"# comment  with  spaces\n\nalice:{SHA}new:1:1::/h:/s:k=v\r\ncarol:$2y$05$x\n#tail\n"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != s.want {
			t.Fatalf("%s:\n got %q\nwant %q", s.name, got, s.want)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o640 {
			t.Fatalf("%s: mode %v, want 0640", s.name, st.Mode().Perm())
		}
	}
	// No temporary files left behind; the lock file stays.
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"users", "users.lock"}; !reflect.DeepEqual(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}
}

func TestEditDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "a:{PLAIN}1\nb:{PLAIN}x\na:{PLAIN}2\n")
	if err := SetPassword(path, "a", "{PLAIN}new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "a:{PLAIN}new\nb:{PLAIN}x\na:{PLAIN}2\n" {
		t.Fatalf("SetPassword changed %q; want only the first (effective) line", got)
	}
	if err := Delete(path, "a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "b:{PLAIN}x\n" {
		t.Fatalf("Delete left %q; want every line of the user gone", got)
	}
}

func TestEditErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users")
	if err := SetPassword(path, "nobody", "{PLAIN}x"); err == nil {
		t.Error("SetPassword on a missing file: no error")
	}
	if err := Add(path, Entry{User: "alice", Password: "{PLAIN}a"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v, %v; want mode 0600", st.Mode(), err)
	}
	if err := Add(path, Entry{User: "alice", Password: "{PLAIN}b"}); !errors.Is(err, ErrExists) {
		t.Errorf("Add existing: %v, want ErrExists", err)
	}
	if err := SetPassword(path, "bob", "{PLAIN}x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword unknown: %v, want ErrNotFound", err)
	}
	if err := Delete(path, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete unknown: %v, want ErrNotFound", err)
	}
	for _, name := range []string{"", "a:b", "a b", "a\tb", "a\nb", "a\x00", "a\x7f", "#x", "a\u00a0b", "a\u2028", "\xff"} {
		if err := Add(path, Entry{User: name, Password: "{PLAIN}x"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Add(%q): %v, want ErrInvalid", name, err)
		}
		if err := SetPassword(path, name, "{PLAIN}x"); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPassword(%q): %v, want ErrInvalid", name, err)
		}
	}
	bad := []Entry{
		{User: "x", Password: "a:b"},
		{User: "x", Password: "a\nb"},
		{User: "x", Home: "/a:b"},
		{User: "x", Shell: "/bin/s h"},
		{User: "x", Extra: map[string]string{"k": "v v"}},
		{User: "x", Extra: map[string]string{"k k": "v"}},
		{User: "x", Extra: map[string]string{"": "v"}},
	}
	for _, e := range bad {
		if err := Add(path, e); !errors.Is(err, ErrInvalid) {
			t.Errorf("Add(%+v): %v, want ErrInvalid", e, err)
		}
	}
	if err := SetPassword(path, "alice", "{PLAIN}a:b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPassword with ':' in hash: %v, want ErrInvalid", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "alice:{PLAIN}a\n" {
		t.Errorf("file changed by rejected edits: %q", got)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, e := range []Entry{
		{User: "a", Password: "{PLAIN}x"},
		{User: "a@example.org", Password: "$6$s$h", UID: "1000", GID: "100", Gecos: "A B", Home: "/h", Shell: "/bin/false"},
		{User: "a", Password: "", Extra: map[string]string{"userdb_quota_rule": "*:storage=1G", "nopassword": ""}},
	} {
		line, err := Format(e)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseLine(line)
		if !ok || !reflect.DeepEqual(got, e) {
			t.Errorf("Format %+v = %q, parsed back as %+v", e, line, got)
		}
	}
}

func TestConcurrentEditors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	writeFile(t, path, "# keep me\n")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- Add(path, Entry{User: fmt.Sprintf("user%02d", i), Password: "{PLAIN}x"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := f.Users()
	if len(users) != n {
		t.Fatalf("%d users after %d concurrent Adds, want %d (an edit was lost)", len(users), n, n)
	}
	for i := range n {
		if _, ok, _ := f.Lookup(fmt.Sprintf("user%02d", i)); !ok {
			t.Errorf("user%02d missing", i)
		}
	}
	if got, _ := os.ReadFile(path); string(got[:10]) != "# keep me\n" {
		t.Errorf("comment lost: %q", got)
	}
}
