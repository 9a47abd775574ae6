package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/tlsutil"
)

// memFS is an in-memory file system for Parse's readFile.
type memFS map[string]string

func (m memFS) read(path string) ([]byte, error) {
	if s, ok := m[filepath.Clean(path)]; ok {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("open %s: %w", path, fs.ErrNotExist)
}

// writeFiles creates files (path relative to dir -> contents) and returns dir.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testKeyPair returns a self-signed certificate and its key, PEM encoded.
func testKeyPair(t testing.TB) (certPEM, keyPEM string) {
	t.Helper()
	c, k, err := tlsutil.SelfSigned([]string{"roost.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return string(c), string(k)
}

// normalized returns a copy of c without source positions, for comparing
// configurations read from different text.
func normalized(c *Config) Config {
	n := *c
	n.File = ""
	n.origin = nil
	n.Passdbs = normDBs(c.Passdbs)
	n.Userdbs = normDBs(c.Userdbs)
	n.Services = nil
	for _, s := range c.Services {
		s2 := Service{Name: s.Name}
		for _, l := range s.Listeners {
			l.File, l.Line = "", 0
			s2.Listeners = append(s2.Listeners, l)
		}
		n.Services = append(n.Services, s2)
	}
	n.Ignored = nil
	for _, ig := range c.Ignored {
		ig.File, ig.Line = "", 0
		n.Ignored = append(n.Ignored, ig)
	}
	return n
}

func normDBs(dbs []DB) []DB {
	var out []DB
	for _, db := range dbs {
		db.File, db.Line = "", 0
		out = append(out, db)
	}
	return out
}

// assertSameConfig fails unless a and b are equal apart from positions.
func assertSameConfig(t testing.TB, a, b *Config) {
	t.Helper()
	na, nb := normalized(a), normalized(b)
	if !reflect.DeepEqual(na, nb) {
		t.Fatalf("configs differ:\n a: %+v\n b: %+v", na, nb)
	}
}

// problemStrings renders problems as "severity: file:line: setting: msg".
func problemStrings(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s: %s\n", p.Severity, p)
	}
	return b.String()
}
