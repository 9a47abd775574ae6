package message

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The golden test compares our ENVELOPE, BODYSTRUCTURE and BODY with what
// Dovecot 2.3 returns for the same bytes. The golden files are made with
//
//	go test ./internal/message -run Golden -update
//
// which runs Dovecot's imap binary in PREAUTH mode on a throw-away Maildir
// per message (see testdata/README.md). Without -update the test needs only
// the golden files.
var update = flag.Bool("update", false, "rewrite testdata/golden from Dovecot's output")

const dovecotIMAP = "/usr/lib/dovecot/imap"

// goldenItems are the FETCH items compared.
var goldenItems = []string{"RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY"}

// corpus returns the test messages: our own (testdata/messages) and the
// enmime real-world set (testdata/enmime).
func corpus(t testing.TB) []string {
	var files []string
	for _, pat := range []string{"testdata/messages/*.eml", "testdata/enmime/*.raw"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) < 40 {
		t.Fatalf("corpus too small: %d files", len(files))
	}
	return files
}

// normalized returns the file's bytes with line ends made CRLF, as delivery
// stores them.
func normalized(t testing.TB, path string) []byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(NewCRLFReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func goldenPath(path string) string {
	return filepath.Join("testdata", "golden", filepath.Base(path)+".golden")
}

func ours(t testing.TB, msg []byte) map[string]string {
	m, err := Parse(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"RFC822.SIZE":   strconv.FormatInt(m.Size, 10),
		"ENVELOPE":      m.Envelope(),
		"BODYSTRUCTURE": m.BodyStructure(true),
		"BODY":          m.BodyStructure(false),
	}
}

func TestGolden(t *testing.T) {
	files := corpus(t)
	if *update {
		for _, f := range files {
			items, err := dovecotFetch(normalized(t, f))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var b strings.Builder
			for _, k := range goldenItems {
				v, ok := items[k]
				if !ok {
					t.Fatalf("%s: dovecot returned no %s", f, k)
				}
				fmt.Fprintf(&b, "%s %s\n", k, strconv.Quote(v))
			}
			if err := os.MkdirAll(filepath.Dir(goldenPath(f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(goldenPath(f), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	known := knownDifferences()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := readGolden(t, goldenPath(f))
			got := ours(t, normalized(t, f))
			for _, k := range goldenItems {
				if got[k] == want[k] {
					if known[filepath.Base(f)+" "+k] {
						t.Errorf("%s now matches Dovecot: remove it from DIFFERENCES.md", k)
					}
					continue
				}
				if known[filepath.Base(f)+" "+k] {
					t.Logf("known difference in %s (DIFFERENCES.md)", k)
					continue
				}
				t.Errorf("%s differs from Dovecot\n got: %q\nwant: %q", k, got[k], want[k])
			}
		})
	}
}

// knownDifferences reads the "file ITEM" entries listed in DIFFERENCES.md
// (lines of the form "- `file.eml` ITEM: reason").
func knownDifferences() map[string]bool {
	known := map[string]bool{}
	b, err := os.ReadFile("DIFFERENCES.md")
	if err != nil {
		return known
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "- `") {
			continue
		}
		rest := line[3:]
		i := strings.IndexByte(rest, '`')
		if i < 0 {
			continue
		}
		name := rest[:i]
		fields := strings.Fields(rest[i+1:])
		if len(fields) == 0 {
			continue
		}
		known[name+" "+strings.TrimSuffix(fields[0], ":")] = true
	}
	return known
}

func readGolden(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update where Dovecot is installed)", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		s, err := strconv.Unquote(v)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		m[k] = s
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// dovecotFetch stores msg in a fresh Maildir and asks Dovecot's imap binary
// (PREAUTH on stdin/stdout) for the golden items.
func dovecotFetch(msg []byte) (map[string]string, error) {
	if _, err := os.Stat(dovecotIMAP); err != nil {
		return nil, fmt.Errorf("dovecot is not installed: %w", err)
	}
	dir, err := os.MkdirTemp("", "roost-golden-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, "Maildir", d), 0o777); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Maildir", "cur", "1.golden:2,"), msg, 0o666); err != nil {
		return nil, err
	}
	// Dovecot refuses to run mail processes as root: use nobody.
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command("chown", "-R", u.Uid+":"+u.Gid, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chown: %v: %s", err, out)
	}
	cmd := exec.Command(dovecotIMAP,
		"-o", "mail_location=maildir:"+filepath.Join(dir, "Maildir"),
		"-o", "mail_uid="+u.Uid, "-o", "mail_gid="+u.Gid,
		"-o", "first_valid_uid=0", "-o", "first_valid_gid=0",
		"-o", "mail_cache_min_mail_count=1000000",
	)
	cmd.Dir = dir
	cmd.Env = []string{"USER=nobody", "HOME=" + dir, "PATH=/usr/bin:/bin"}
	cmd.Stdin = strings.NewReader("a SELECT INBOX\r\nb FETCH 1 (" + strings.Join(goldenItems, " ") + ")\r\nc LOGOUT\r\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dovecot imap: %v: %s", err, stderr.String())
	}
	i := bytes.Index(out, []byte("* 1 FETCH ("))
	if i < 0 {
		return nil, fmt.Errorf("no FETCH response in %q", out)
	}
	return parseFetchItems(out[i+len("* 1 FETCH ("):])
}

// parseFetchItems splits "NAME value NAME value ...)" of a FETCH response,
// where values are atoms, quoted strings, literals or parenthesized lists.
func parseFetchItems(b []byte) (map[string]string, error) {
	items := map[string]string{}
	i := 0
	for {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) {
			return nil, fmt.Errorf("unterminated FETCH response")
		}
		if b[i] == ')' {
			return items, nil
		}
		j := bytes.IndexByte(b[i:], ' ')
		if j < 0 {
			return nil, fmt.Errorf("bad FETCH response")
		}
		name := string(b[i : i+j])
		i += j + 1
		end, err := skipValue(b, i)
		if err != nil {
			return nil, err
		}
		items[name] = string(b[i:end])
		i = end
	}
}

// skipValue returns the end of the IMAP value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth == 0 {
				return i, nil
			}
			depth--
			i++
			if depth == 0 {
				return i, nil
			}
		case c == ' ':
			if depth == 0 {
				return i, nil
			}
			i++
		case c == '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
			if depth == 0 {
				return i, nil
			}
		case c == '{':
			j := bytes.IndexByte(b[i:], '}')
			if j < 0 {
				return 0, fmt.Errorf("bad literal")
			}
			n, err := strconv.Atoi(string(b[i+1 : i+j]))
			if err != nil {
				return 0, err
			}
			i += j + 3 + n
			if depth == 0 {
				return i, nil
			}
		default:
			for i < len(b) && b[i] != ' ' && b[i] != ')' && b[i] != '(' {
				i++
			}
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unterminated value")
}
