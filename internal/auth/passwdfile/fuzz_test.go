package passwdfile

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and an entry written by Format parses back
// identically.
func FuzzParse(f *testing.F) {
	f.Add(oddFile, "user", "{PLAIN}pw", "k=v:w")
	f.Add("", "a", "", "")
	f.Add(":\n#\r\n\n", "a@b", "$6$x$y", "nopassword")
	f.Fuzz(func(t *testing.T, file, user, pw, extra string) {
		Parse([]byte(file))
		e := Entry{User: user, Password: pw}
		if k, v, ok := strings.Cut(extra, "="); ok {
			e.Extra = map[string]string{k: v}
		}
		line, err := Format(e)
		if err != nil {
			return
		}
		got := Parse([]byte(line + "\n"))
		e.Line = 1
		if len(got) != 1 || !reflect.DeepEqual(got[0], e) {
			t.Fatalf("Format(%+v) = %q parsed back as %+v", e, line, got)
		}
	})
}
