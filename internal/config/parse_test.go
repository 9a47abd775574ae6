package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseTree(t *testing.T) {
	in := `# comment
key = value  # trailing comment
quoted = "a # not a comment \"x\" \\ y"
single = 'it\'s'
hash = a#b
spaced =   padded value	
empty =
cont = one \
  two
file = < /etc/x.pem
section {
  inner = 1
  sub "two words" {
    deep = yes
  }
}
named name {
}
`
	got, err := ParseTree("t.conf", []byte(in), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type flat struct {
		line           int
		key, value     string
		quoted, isFile bool
		section        bool
	}
	var all []flat
	var walk func([]*Entry)
	walk = func(es []*Entry) {
		for _, e := range es {
			all = append(all, flat{e.Line, e.Key, e.Value, e.Quoted, e.IsFile, e.Section})
			walk(e.Children)
		}
	}
	walk(got)
	want := []flat{
		{2, "key", "value", false, false, false},
		{3, "quoted", `a # not a comment "x" \ y`, true, false, false},
		{4, "single", "it's", true, false, false},
		{5, "hash", "a#b", false, false, false},
		{6, "spaced", "padded value", false, false, false},
		{7, "empty", "", false, false, false},
		{8, "cont", "one two", false, false, false},
		{10, "file", "/etc/x.pem", false, true, false},
		{11, "section", "", false, false, true},
		{12, "inner", "1", false, false, false},
		{13, "sub", "two words", true, false, true},
		{14, "deep", "yes", false, false, false},
		{17, "named", "name", false, false, true},
	}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", all, want)
	}
}

func TestParseTreeErrors(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"a {\n", "t.conf:1: section \"a\" has no closing '}'"},
		{"}\n", "t.conf:1: unexpected '}'"},
		{"a { b = 1 }\n", "t.conf:1: unexpected text after '{'"},
		{"\n\nfoo\n", "t.conf:3: expecting '=' or '{' after \"foo\""},
		{"= x\n", "t.conf:1: missing setting name"},
		{"k = \"abc\n", "t.conf:1: k: unterminated quoted value"},
		{"k = \"a\" b\n", "t.conf:1: k: unexpected text after closing quote"},
		{"k = 'it''s'\n", "t.conf:1: k: unexpected text after closing quote"},
		{"a b c {\n}\n", "t.conf:1: section a: name \"b c\" must be one word or quoted"},
		{"} x\n", "t.conf:1: unexpected text after '}'"},
		{"k = a\x01b\n", "t.conf:1: control character"},
		{"k = a \\\n", "t.conf:1: line continued with '\\' at end of file"},
		{"!include\n", "t.conf:1: !include : missing file name"},
		{"!include x.conf\n", "t.conf:1: !include x.conf: file access is not available here"},
		{"!include conf.d/*.conf\n", "t.conf:1: !include conf.d/*.conf: glob patterns are not available here"},
	}
	for _, tc := range cases {
		_, err := ParseTree("t.conf", []byte(tc.in), ParseOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want prefix %q", tc.in, err, tc.want)
		}
		var le *LineError
		if err != nil && !errors.As(err, &le) {
			t.Errorf("%q: error %T is not a *LineError", tc.in, err)
		}
	}
}

func TestIncludes(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"roost.conf": "login_greeting = main\n" +
			"!include conf.d/*.conf\n" +
			"!include_try missing.conf\n" +
			"!include_try nomatch.d/*.conf\n" +
			"service imap-login {\n  !include listener.inc\n}\n",
		"conf.d/10-a.conf":   "login_greeting = from a\n!include ../sub/x.conf\n",
		"conf.d/20-b.conf":   "mail_max_userip_connections = 20\n",
		"conf.d/ignored.txt": "this is not config\n",
		"sub/x.conf":         "auth_mechanisms = plain login\n",
		"listener.inc":       "inet_listener imap {\n  port = 1143\n}\n",
	})
	c, err := Load(filepath.Join(dir, "roost.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LoginGreeting != "from a" || c.MailMaxUserIPConnections != 20 ||
		!reflect.DeepEqual(c.AuthMechanisms, []string{"plain", "login"}) {
		t.Fatalf("includes not applied in order: %+v", c)
	}
	if f, l, _ := c.Origin("auth_mechanisms"); f != filepath.Join(dir, "sub/x.conf") || l != 1 {
		t.Errorf("origin of auth_mechanisms = %s:%d", f, l)
	}
	if ls := c.Listeners("imap"); len(ls) != 2 || ls[0].Port != 1143 {
		t.Errorf("include inside a section: %+v", ls)
	}

	// Errors inside an included file name that file and line.
	writeFiles(t, dir, map[string]string{"conf.d/30-bad.conf": "\n\nno_such_setting = 1\n"})
	_, err = Load(filepath.Join(dir, "roost.conf"))
	if want := filepath.Join(dir, "conf.d/30-bad.conf") + `:3: unknown setting "no_such_setting"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	os.Remove(filepath.Join(dir, "conf.d/30-bad.conf"))

	// !include of a missing file or an empty glob is an error.
	for _, line := range []string{"!include missing.conf", "!include none.d/*.conf"} {
		writeFiles(t, dir, map[string]string{"x.conf": "\n" + line + "\n"})
		_, err = Load(filepath.Join(dir, "x.conf"))
		if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "x.conf")+":2: "+line) {
			t.Errorf("%s: got %v", line, err)
		}
	}

	// A recursive include is an error, not a hang.
	writeFiles(t, dir, map[string]string{"loop1.conf": "!include loop2.conf\n", "loop2.conf": "!include loop1.conf\n"})
	_, err = Load(filepath.Join(dir, "loop1.conf"))
	if err == nil || !strings.Contains(err.Error(), "recursive include") {
		t.Errorf("loop: got %v", err)
	}
}

func TestFileValues(t *testing.T) {
	cert, key := testKeyPair(t)
	fsys := memFS{"etc/cert.pem": cert, "/abs/key.pem": key}
	c, err := Parse("etc/roost.conf", []byte("ssl_cert = <cert.pem\nssl_key = </abs/key.pem\n"), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	if c.SSLCert.Path != "etc/cert.pem" || string(c.SSLCert.Data) != cert {
		t.Errorf("ssl_cert = %+v", c.SSLCert.Path)
	}
	if c.SSLKey.Path != "/abs/key.pem" || string(c.SSLKey.Data) != key {
		t.Errorf("ssl_key = %+v", c.SSLKey.Path)
	}
	var out strings.Builder
	if err := c.Dump(&out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ssl_cert = <etc/cert.pem\n") || strings.Contains(out.String(), "BEGIN") {
		t.Errorf("dump must print <path, not contents:\n%s", out.String())
	}

	cases := []struct{ in, want string }{
		{"\nssl_cert = <nope.pem\n", "etc/roost.conf:2: ssl_cert: read etc/nope.pem: open etc/nope.pem: file does not exist"},
		{"ssl_cert = /etc/cert.pem\n", `etc/roost.conf:1: ssl_cert: must be written as "<path"`},
		{"login_greeting = <cert.pem\n", "etc/roost.conf:1: login_greeting: a <file value is not allowed here"},
	}
	for _, tc := range cases {
		_, err := Parse("etc/roost.conf", []byte(tc.in), fsys.read)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
	// Without file access, a <file value is an error, not a silent empty value.
	if _, err := Parse("r.conf", []byte("ssl_cert = <c.pem\n"), nil); err == nil {
		t.Error("nil readFile: <file accepted")
	}
}
