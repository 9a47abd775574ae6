package imapserver

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
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// The FETCH golden test renders body sections of every message of the
// message package's corpus and compares them byte for byte with what
// Dovecot 2.3 answers for the same message. Re-capture (as root, where
// /usr/lib/dovecot/imap is installed) with
//
//	go test ./internal/imapserver -run TestFetchGolden -update-fetch
//
// See testdata/fetch/README.md.
var updateFetch = flag.Bool("update-fetch", false, "rewrite testdata/fetch from Dovecot's output")

const dovecotIMAP = "/usr/lib/dovecot/imap"

func fetchCorpus(t testing.TB) []string {
	var files []string
	for _, pat := range []string{"../message/testdata/messages/*.eml", "../message/testdata/enmime/*.raw", "testdata/fetch/extra/*.eml"} {
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

func crlfFile(t testing.TB, path string) []byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(message.NewCRLFReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// partPaths lists the section part numbers of a message, depth first, as
// "1", "1.2", ... (at most 40).
func partPaths(root *message.Part) []string {
	var out []string
	var walk func(container *message.Part, prefix string, depth int)
	walk = func(container *message.Part, prefix string, depth int) {
		if depth > 6 || len(out) >= 40 {
			return
		}
		kids := container.Children
		if !container.IsMultipart() {
			kids = []*message.Part{container}
		}
		for i, k := range kids {
			p := prefix + strconv.Itoa(i+1)
			out = append(out, p)
			switch {
			case k.Message != nil:
				walk(k.Message, p+".", depth+1)
			case k.IsMultipart() && k != container:
				walk(k, p+".", depth+1)
			}
		}
	}
	walk(root, "", 0)
	return out
}

// goldenCommands returns the FETCH item lists asked for one message.
func goldenCommands(msg []byte) []string {
	m, err := message.Parse(bytes.NewReader(msg))
	if err != nil {
		panic(err)
	}
	cmds := []string{
		"BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.HEADER RFC822.SIZE",
		"BODY.PEEK[HEADER.FIELDS (FROM Subject x-none)] BODY.PEEK[HEADER.FIELDS.NOT (from content-type MIME-Version)] BODY.PEEK[HEADER.FIELDS (Received)]",
		"BODY.PEEK[TEXT]<4.10> BODY.PEEK[]<0.1> BODY.PEEK[HEADER]<100000.5> BODY.PEEK[1]<3.100000>",
		"BODY.PEEK[9] BODY.PEEK[1.9] BODY.PEEK[9.MIME] BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT]",
		"BINARY.PEEK[] BINARY.SIZE[]",
	}
	for _, p := range partPaths(m.Root) {
		cmds = append(cmds,
			fmt.Sprintf("BODY.PEEK[%s] BODY.PEEK[%s.MIME] BODY.PEEK[%s.HEADER] BODY.PEEK[%s.TEXT] BODY.PEEK[%s.HEADER.FIELDS (SUBJECT CONTENT-TYPE)]", p, p, p, p, p),
			fmt.Sprintf("BINARY.PEEK[%s]", p),
			fmt.Sprintf("BINARY.SIZE[%s] BINARY.PEEK[%s]<1.5>", p, p),
		)
	}
	return cmds
}

// goldenCase is one command and Dovecot's answer: the untagged responses
// and the tagged status (without Dovecot's timing).
type goldenCase struct {
	Items    string
	Response string
	Status   string
}

var timingRE = regexp.MustCompile(` \([0-9.]+ \+ [0-9.]+( \+ [0-9.]+)? secs\)`)

// dovecotRun stores msg in a fresh Maildir owned by nobody and runs
// Dovecot's imap binary in PREAUTH mode with the commands on stdin.
func dovecotRun(t testing.TB, msg []byte, cmds []string) []byte {
	// Not t.TempDir: its parent is private to root, and Dovecot runs as nobody.
	dir, err := os.MkdirTemp("", "roost-fetch-golden-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, "Maildir", d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Maildir", "cur", "1.golden:2,"), msg, 0o666); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", u.Uid+":"+u.Gid, dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	cmd := exec.Command(dovecotIMAP,
		"-o", "mail_location=maildir:"+filepath.Join(dir, "Maildir"),
		"-o", "mail_uid="+u.Uid, "-o", "mail_gid="+u.Gid,
		"-o", "first_valid_uid=0", "-o", "first_valid_gid=0",
		"-o", "mail_cache_min_mail_count=1000000",
	)
	cmd.Dir = dir
	cmd.Env = []string{"USER=nobody", "HOME=" + dir, "PATH=/usr/bin:/bin"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	br := bufio.NewReader(stdout)
	// Dovecot runs pipelined FETCH commands concurrently (their tagged
	// replies come last), so send one command at a time.
	var out []byte
	send := func(tag, line string) bool {
		if _, err := io.WriteString(stdin, tag+" "+line+"\r\n"); err != nil {
			return false
		}
		for {
			resp, ok := readResponse(br)
			if !ok {
				return false
			}
			out = append(out, resp...)
			if strings.HasPrefix(resp, tag+" ") {
				return true
			}
			if strings.HasPrefix(resp, "* BYE") {
				return false
			}
		}
	}
	if !send("a", "SELECT INBOX") {
		t.Fatalf("dovecot: SELECT failed: %q %s", out, stderr.String())
	}
	for i, c := range cmds {
		if !send(fmt.Sprintf("c%d", i), "FETCH 1 ("+c+")") {
			break
		}
	}
	send("z", "LOGOUT")
	return out
}

// readResponse reads one whole response: a line and the literals it
// announces.
func readResponse(br *bufio.Reader) (string, bool) {
	var cur []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return string(cur), false
		}
		cur = append(cur, line...)
		n, ok := literalSize(line)
		if !ok {
			return string(cur), true
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(br, lit); err != nil {
			return string(cur), false
		}
		cur = append(cur, lit...)
	}
}

// splitResponses splits server output into whole responses (a line plus
// any literals it announces).
func splitResponses(out []byte) []string {
	var res []string
	var cur []byte
	br := bufio.NewReader(bytes.NewReader(out))
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			break
		}
		cur = append(cur, line...)
		if n, ok := literalSize(line); ok {
			lit := make([]byte, n)
			k, _ := io.ReadFull(br, lit)
			cur = append(cur, lit[:k]...)
			continue
		}
		res = append(res, string(cur))
		cur = nil
	}
	if len(cur) > 0 {
		res = append(res, string(cur))
	}
	return res
}

var literalRE = regexp.MustCompile(`~?\{([0-9]+)\}\r\n$`)

func literalSize(line []byte) (int, bool) {
	m := literalRE.FindSubmatch(line)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(m[1]))
	return n, err == nil
}

func captureGolden(t testing.TB, msg []byte) []goldenCase {
	cmds := goldenCommands(msg)
	out := dovecotRun(t, msg, cmds)
	resps := splitResponses(out)
	var cases []goldenCase
	i := 0
	// Skip to the SELECT's tagged reply.
	for i < len(resps) && !strings.HasPrefix(resps[i], "a ") {
		i++
	}
	i++
	for n, c := range cmds {
		gc := goldenCase{Items: c}
		tag := fmt.Sprintf("c%d ", n)
		for i < len(resps) && !strings.HasPrefix(resps[i], tag) {
			if strings.HasPrefix(resps[i], "* BYE") {
				gc.Status = "BYE"
				break
			}
			gc.Response += resps[i]
			i++
		}
		if gc.Status == "BYE" {
			cases = append(cases, gc)
			break
		}
		if i >= len(resps) {
			t.Fatalf("no tagged reply for %q in %q", c, out)
		}
		gc.Status = strings.TrimSpace(timingRE.ReplaceAllString(strings.TrimPrefix(resps[i], tag), ""))
		i++
		cases = append(cases, gc)
	}
	return cases
}

func fetchGoldenPath(path string) string {
	return filepath.Join("testdata", "fetch", filepath.Base(path)+".golden")
}

func writeGolden(t testing.TB, path string, cases []goldenCase) {
	var b strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&b, "ITEMS %s\nRESPONSE %s\nSTATUS %s\n\n", c.Items, strconv.Quote(c.Response), c.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGoldenCases(t testing.TB, path string) []goldenCase {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-fetch where Dovecot is installed)", err)
	}
	var cases []goldenCase
	for _, block := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
		var c goldenCase
		for _, line := range strings.Split(block, "\n") {
			k, v, _ := strings.Cut(line, " ")
			switch k {
			case "ITEMS":
				c.Items = v
			case "RESPONSE":
				s, err := strconv.Unquote(v)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				c.Response = s
			case "STATUS":
				c.Status = v
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// parseFetchItems parses "FETCH 1 (items)" with the real grammar.
func parseFetchItems(t testing.TB, items string) []imap.FetchItem {
	t.Helper()
	line := "x FETCH 1 (" + items + ")\r\n"
	dec := imapwire.NewDecoder(bufio.NewReader(strings.NewReader(line)), imapwire.DecoderOptions{Continue: func() error { return nil }})
	cmd, err := imap.ReadCommand(dec, imap.ParseOptions{})
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return cmd.Args.(*imap.FetchCmd).Items
}

// memBody is a stored message in memory.
type memBody struct{ *bytes.Reader }

func (memBody) Close() error { return nil }

// cacheOf computes what delivery caches for msg.
func cacheOf(t testing.TB, uid mailstore.UID, msg []byte) mailstore.MessageCache {
	m, err := message.Parse(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return mailstore.MessageCache{
		UID:           uid,
		Envelope:      m.Envelope(),
		BodyStructure: m.BodyStructure(true),
		Body:          m.BodyStructure(false),
		Parts:         message.MarshalParts(m.Root),
		HeaderSize:    m.HeaderSize(),
	}
}

// renderFetch renders one message's FETCH response the way cmdFetch does,
// returning the output and the command's result.
func renderFetch(t testing.TB, msg []byte, items []imap.FetchItem) (string, error) {
	plan, err := newFetchPlan(items, false)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	enc := imapwire.NewEncoder(bw)
	cache := cacheOf(t, 1, msg)
	f := &fetcher{plan: plan, enc: enc, open: func(mailstore.UID) (mailstore.Body, error) {
		return memBody{bytes.NewReader(msg)}, nil
	}}
	m := &fetchMsg{seq: 1, uid: 1, size: int64(len(msg)), cache: &cache, date: time.Unix(0, 0).UTC()}
	err = f.write(m)
	if isUnknownCTE(err) {
		err = statusNO("UNKNOWN-CTE", err.Error()+".")
	}
	if ferr := enc.Flush(); ferr != nil {
		t.Fatal(ferr)
	}
	return out.String(), err
}

func TestFetchGolden(t *testing.T) {
	if *updateFetch {
		for _, f := range fetchCorpus(t) {
			writeGolden(t, fetchGoldenPath(f), captureGolden(t, crlfFile(t, f)))
		}
	}
	cases := 0
	for _, file := range fetchCorpus(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			msg := crlfFile(t, file)
			for _, gc := range readGoldenCases(t, fetchGoldenPath(file)) {
				cases++
				items := parseFetchItems(t, gc.Items)
				got, err := renderFetch(t, msg, items)
				if why := knownFetchDifference(msg, filepath.Base(file), gc.Items, items); why != "" && (got != gc.Response || err != nil) {
					t.Logf("known difference for FETCH (%s): %s", gc.Items, why)
					continue
				}
				switch {
				case strings.HasPrefix(gc.Status, "OK"):
					if err != nil {
						t.Errorf("FETCH (%s): %v, Dovecot: %s", gc.Items, err, gc.Status)
						continue
					}
					if got != gc.Response {
						t.Errorf("FETCH (%s) differs from Dovecot\n got: %q\nwant: %q", gc.Items, got, gc.Response)
					}
				case strings.HasPrefix(gc.Status, "NO [UNKNOWN-CTE]"),
					strings.HasPrefix(gc.Status, "NO [PARSE]"), // Roost: UNKNOWN-CTE (fetch_body.go)
					gc.Status == "BYE":                         // Dovecot drops the connection on truncated base64
					if err == nil || !strings.Contains(err.Error(), "[UNKNOWN-CTE]") {
						t.Errorf("FETCH (%s) = %q, %v; Dovecot: %s, want NO [UNKNOWN-CTE]", gc.Items, got, err, gc.Status)
					}
				default:
					t.Errorf("FETCH (%s): unexpected Dovecot status %q", gc.Items, gc.Status)
				}
			}
		})
	}
	t.Logf("%d FETCH commands compared", cases)
}

// knownFetchDifference says why Roost deliberately (or knowingly) answers
// a golden command differently from Dovecot, or "". The list is also in
// testdata/fetch/README.md.
func knownFetchDifference(msg []byte, file, itemText string, items []imap.FetchItem) string {
	switch file + " " + itemText {
	case "duplicate-headers.eml BINARY.PEEK[1]", "duplicate-headers.eml BINARY.SIZE[1] BINARY.PEEK[1]<1.5>":
		return "two Content-Transfer-Encoding fields: Dovecot decodes with the last one, Roost (and both BODYSTRUCTUREs) with the first"
	case "empty-part-header.eml BODY.PEEK[3] BODY.PEEK[3.MIME] BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] BODY.PEEK[3.HEADER.FIELDS (SUBJECT CONTENT-TYPE)]":
		return "a part header ended by the close delimiter: Dovecot's MIME header leaves out the line break before the delimiter; the part tree's offsets include it"
	case "binary-encodings.eml BINARY.SIZE[1] BINARY.PEEK[1]<1.5>":
		return "Dovecot answers NO [UNKNOWN-CTE] for BINARY.SIZE plus a partial BINARY of valid base64 (a Dovecot bug); Roost answers"
	case "binary-encodings.eml BINARY.PEEK[5]":
		return "base64 missing its padding: Dovecot drops the connection; Roost decodes the complete octets"
	}
	m, err := message.Parse(bytes.NewReader(msg))
	if err != nil {
		return ""
	}
	for _, it := range items {
		if it.Kind != imap.FetchBinary && it.Kind != imap.FetchBinarySize {
			continue
		}
		p, ok := m.Root.Find(it.Section.Part)
		if len(it.Section.Part) == 0 || ok && (p.IsMultipart() || p.Message != nil) {
			return "BINARY of a whole message, multipart or message/rfc822: Dovecot rewrites the encoded parts inside as binary; Roost sends the bytes as stored"
		}
	}
	if file == "rfc822-base64.eml" {
		return "HEADER.FIELDS of an embedded message whose header is cut by a boundary: Dovecot gives \"\", Roost \"\\r\\n\""
	}
	return ""
}
