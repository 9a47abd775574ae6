package e2e

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIMAPCapabilities: STARTTLS is offered before TLS and gone after it;
// a connection from 127.0.0.2 (not secure by the rule) is told
// LOGINDISABLED and refused LOGIN until STARTTLS.
func TestIMAPCapabilities(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{imap: true})

	c := s.imaplib(t, "starttls", "")
	if !slices.Contains(c.Before, "STARTTLS") {
		t.Errorf("capabilities before STARTTLS lack STARTTLS: %v", c.Before)
	}
	if slices.Contains(c.Before, "LOGINDISABLED") {
		t.Errorf("loopback (secure by rule) told LOGINDISABLED: %v", c.Before)
	}
	if slices.Contains(c.Caps, "STARTTLS") {
		t.Errorf("capabilities after STARTTLS still list STARTTLS: %v", c.Caps)
	}
	if !slices.Contains(c.Caps, "IMAP4REV1") {
		t.Errorf("capabilities lack IMAP4rev1: %v", c.Caps)
	}
	if !slices.Contains(c.Caps, "AUTH=PLAIN") {
		t.Errorf("capabilities after TLS lack AUTH=PLAIN: %v", c.Caps)
	}
	c.ok("login", "alice", alicePass)
	caps := lines(c.ok("capability"))
	if len(caps) == 0 || !strings.Contains(strings.ToUpper(caps[len(caps)-1]), "IMAP4REV1") {
		t.Errorf("CAPABILITY after login: %q", caps)
	}
	c.logout()

	ssl := s.imaplib(t, "ssl", "")
	if slices.Contains(ssl.Caps, "STARTTLS") || slices.Contains(ssl.Caps, "LOGINDISABLED") {
		t.Errorf("imaps capabilities: %v", ssl.Caps)
	}
	ssl.plain("bob", bobPass)
	ssl.logout()

	// From 127.0.0.2: not secure without TLS.
	in := s.imaplib(t, "plain", "127.0.0.2")
	if !slices.Contains(in.Caps, "LOGINDISABLED") {
		t.Errorf("insecure connection not told LOGINDISABLED: %v", in.Caps)
	}
	if slices.Contains(in.Caps, "AUTH=PLAIN") {
		t.Errorf("insecure connection offered AUTH=PLAIN: %v", in.Caps)
	}
	if !slices.Contains(in.Caps, "STARTTLS") {
		t.Errorf("insecure connection not offered STARTTLS: %v", in.Caps)
	}
	msg := in.fails("login", "alice", alicePass)
	t.Logf("LOGIN without TLS from 127.0.0.2: %s", msg)

	tl := s.imaplib(t, "starttls", "127.0.0.2")
	if !slices.Contains(tl.Before, "LOGINDISABLED") {
		t.Errorf("before STARTTLS from 127.0.0.2: no LOGINDISABLED: %v", tl.Before)
	}
	if slices.Contains(tl.Caps, "LOGINDISABLED") {
		t.Errorf("after STARTTLS from 127.0.0.2: still LOGINDISABLED: %v", tl.Caps)
	}
	tl.ok("login", "alice", alicePass)
	tl.logout()

	wrong := s.imaplib(t, "ssl", "")
	wrong.fails("login", "alice", "wrong")
}

// listNames returns the mailbox names of LIST/LSUB data, as sent (quoted
// names unquoted, modified UTF-7 kept).
func listNames(t testing.TB, data []imapItem) []string {
	t.Helper()
	var names []string
	for _, it := range data {
		if it.Tuple { // name sent as a literal
			names = append(names, string(it.Literal))
			continue
		}
		if it.Line == nil {
			continue
		}
		m := listLine.FindStringSubmatch(string(it.Line))
		if m == nil {
			t.Fatalf("LIST data %q", it.Line)
		}
		n := m[2]
		if strings.HasPrefix(n, `"`) {
			n, _ = strconv.Unquote(n)
		}
		names = append(names, n)
	}
	return names
}

var listLine = regexp.MustCompile(`^\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$`)

// TestIMAPImaplibMailboxes: CREATE, RENAME, DELETE, hierarchy, LSUB and
// SUBSCRIBE, and mailbox names outside ASCII (modified UTF-7) over imaps.
func TestIMAPImaplibMailboxes(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{imap: true})
	s.deliver("alice", corpus()[0].raw)
	c := s.imaplib(t, "ssl", "")
	c.ok("login", "alice", alicePass)

	names := func(pattern string) []string {
		t.Helper()
		return listNames(t, c.ok("list", `""`, pattern))
	}
	if n := names("*"); !slices.Contains(n, "INBOX") {
		t.Errorf(`LIST "" *: no INBOX in %q`, n)
	}

	c.ok("create", "ToRead")
	c.ok("select", "ToRead")
	c.ok("append", "ToRead", nil, nil, crlf(corpus()[1].raw))
	c.ok("close")
	c.ok("rename", "ToRead", "Important")
	n := names("*")
	if slices.Contains(n, "ToRead") || !slices.Contains(n, "Important") {
		t.Errorf("after RENAME ToRead Important: %q", n)
	}
	if d := c.ok("select", "Important"); string(d[0].Line) != "1" {
		t.Errorf("renamed mailbox: SELECT says %q messages, want 1", lines(d))
	}
	c.ok("close")
	c.fails("select", "ToRead")
	c.fails("create", "Important") // exists

	c.ok("create", "a/b/c")
	n = names("a*")
	for _, want := range []string{"a", "a/b", "a/b/c"} {
		if !slices.Contains(n, want) {
			t.Errorf(`after CREATE a/b/c: LIST "" a* = %q, missing %q`, n, want)
		}
	}
	if n := names("a/%"); !slices.Equal(n, []string{"a/b"}) {
		t.Errorf(`LIST "" a/%% = %q, want [a/b]`, n)
	}
	c.ok("select", "a/b/c")
	c.ok("close")
	c.ok("delete", "a/b/c")
	if n := names("a/b/*"); slices.Contains(n, "a/b/c") {
		t.Errorf("a/b/c still listed after DELETE: %q", n)
	}
	c.fails("select", "a/b/c")
	c.fails("delete", "NoSuchBox")
	c.fails("delete", "INBOX")

	// Subscriptions.
	c.ok("subscribe", "Important")
	sub := listNames(t, c.ok("lsub", `""`, "*"))
	if !slices.Contains(sub, "Important") {
		t.Errorf("LSUB after SUBSCRIBE Important: %q", sub)
	}
	c.ok("unsubscribe", "Important")
	if sub := listNames(t, c.ok("lsub", `""`, "*")); slices.Contains(sub, "Important") {
		t.Errorf("LSUB after UNSUBSCRIBE Important: %q", sub)
	}

	// Names outside ASCII go over the wire in modified UTF-7 (RFC 3501
	// 5.1.3): "Entwürfe" is Entw&APw-rfe, "&" is &-.
	for _, mb := range []string{"Entw&APw-rfe", "R&-D", "&AMQ-rger &- Co", "Entw&APw-rfe/&ZeVnLIqe-"} {
		c.ok("create", quoteIMAP(mb))
		n := names("*")
		if !slices.Contains(n, mb) {
			t.Errorf("CREATE %q: LIST shows %q", mb, n)
			continue
		}
		c.ok("select", quoteIMAP(mb))
		c.ok("append", quoteIMAP(mb), nil, nil, crlf(corpus()[0].raw))
		got := c.ok("fetch", "1", "(BODY.PEEK[])")
		if len(got) == 0 || !got[0].Tuple || !bytes.Equal(got[0].Literal, crlf(corpus()[0].raw)) {
			t.Errorf("message appended to %q: %s", mb, itemsString(got))
		}
		c.ok("close")
	}
	c.ok("rename", quoteIMAP("R&-D"), quoteIMAP("Gr&APw-n"))
	if n := names("*"); !slices.Contains(n, "Gr&APw-n") || slices.Contains(n, "R&-D") {
		t.Errorf("after RENAME R&-D Gr&APw-n: %q", n)
	}
	c.fails("create", quoteIMAP("bad&name")) // "&" must start a modified base64 run
	if !refServer {
		out, errb, code := s.cli(nil, "mailbox", "list", "-c", s.cfg, "-u", "alice")
		if code == 64 && strings.Contains(string(errb), "unknown command") {
			t.Logf("roost mailbox list not implemented yet: %s", errb)
		} else if code != 0 {
			t.Errorf("roost mailbox list: exit %d %s", code, errb)
		} else {
			for _, want := range []string{"Entwürfe", "Ärger & Co", "Grün", "Entwürfe/日本語"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("roost mailbox list does not show %q (decoded modified UTF-7):\n%s", want, out)
				}
			}
		}
	}
	c.logout()
}

func quoteIMAP(s string) string { return strconv.Quote(s) }

// fetchOne runs FETCH on one message and returns its data items.
func fetchOne(t testing.TB, c *pyIMAP, seq, items string) []imapItem {
	t.Helper()
	d := c.ok("fetch", seq, items)
	if len(d) == 0 {
		t.Fatalf("FETCH %s %s: no data", seq, items)
	}
	return d
}

// literalOf returns the literal that follows the fetch item named item in
// data (item like "BODY[]" or "BODY[HEADER]").
func literalOf(t testing.TB, data []imapItem, item string) []byte {
	t.Helper()
	for _, it := range data {
		if it.Tuple && strings.Contains(strings.ToUpper(string(it.Prefix)), strings.ToUpper(item)+" {") {
			return it.Literal
		}
	}
	t.Fatalf("no %s literal in %s", item, itemsString(data))
	return nil
}

// headerOf is the header of a CRLF message, with its blank line.
func headerOf(m []byte) []byte {
	if i := bytes.Index(m, []byte("\r\n\r\n")); i >= 0 {
		return m[:i+4]
	}
	return m
}

var internalDateRe = regexp.MustCompile(`INTERNALDATE "([^"]+)"`)
var sizeRe = regexp.MustCompile(`RFC822\.SIZE (\d+)`)
var flagsRe = regexp.MustCompile(`FLAGS \(([^)]*)\)`)

func flagsIn(t testing.TB, data []imapItem) []string {
	t.Helper()
	for _, l := range lines(data) {
		if m := flagsRe.FindStringSubmatch(l); m != nil {
			f := slices.DeleteFunc(strings.Fields(m[1]), func(s string) bool { return s == `\Recent` })
			slices.Sort(f)
			return f
		}
	}
	t.Fatalf("no FLAGS in %s", itemsString(data))
	return nil
}

// searchNums parses imaplib's SEARCH data ("1 2 3").
func searchNums(data []imapItem) []int {
	var n []int
	for _, l := range lines(data) {
		for _, f := range strings.Fields(l) {
			if v, err := strconv.Atoi(f); err == nil {
				n = append(n, v)
			}
		}
	}
	slices.Sort(n)
	return n
}

// TestIMAPImaplibMessages: the corpus (and the 20 MB message) read back
// byte-exact over STARTTLS, then APPEND, STORE, SEARCH, COPY, MOVE,
// EXPUNGE, CLOSE, UNSELECT and EXAMINE.
func TestIMAPImaplibMessages(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{imap: true})
	msgs := append(corpus(), bigMessage())
	for _, m := range msgs {
		s.deliver("alice", m.raw)
	}
	c := s.imaplib(t, "starttls", "")
	c.ok("login", "alice", alicePass)
	d := c.ok("select", "INBOX")
	if got := string(d[0].Line); got != strconv.Itoa(len(msgs)) {
		t.Fatalf("SELECT INBOX: %s messages, want %d", got, len(msgs))
	}
	u := c.untagged()
	if _, ok := u["UIDVALIDITY"]; !ok {
		t.Errorf("SELECT: no UIDVALIDITY among %v", keys(u))
	}

	for i, m := range msgs {
		seq := strconv.Itoa(i + 1)
		want := crlf(m.raw)
		d := fetchOne(t, c, seq, "(RFC822.SIZE BODY.PEEK[])")
		body := literalOf(t, d, "BODY[]")
		if !imapBodyOK(m, body) {
			t.Errorf("%s: BODY[] differs: %s", m.name, diffAt(body, want))
		}
		sz := sizeRe.FindStringSubmatch(strings.Join(lines(d), " "))
		if sz == nil || sz[1] != strconv.Itoa(len(body)) {
			t.Errorf("%s: RFC822.SIZE %v, BODY[] has %d bytes", m.name, sz, len(body))
		}
		if m.name == "big-20mb" {
			continue
		}
		h := literalOf(t, fetchOne(t, c, seq, "(BODY.PEEK[HEADER])"), "BODY[HEADER]")
		if wantH := headerOf(want); !bytes.Equal(h, wantH) {
			t.Errorf("%s: BODY[HEADER] differs: %s", m.name, diffAt(h, wantH))
		}
	}

	// BODY[1] and deeper parts, against the corpus text.
	part := func(name, section string, want string) {
		t.Helper()
		for i, m := range msgs {
			if m.name != name {
				continue
			}
			got := literalOf(t, fetchOne(t, c, strconv.Itoa(i+1), "(BODY.PEEK["+section+"])"), "BODY["+section+"]")
			if string(got) != want {
				t.Errorf("%s BODY[%s]: %s", name, section, diffAt(got, []byte(want)))
			}
			return
		}
		t.Fatalf("no corpus message %s", name)
	}
	part("plain-ascii", "1", string(crlf(corpus()[0].raw)[len(headerOf(crlf(corpus()[0].raw))):]))
	part("multipart-mixed", "1", "Two attachments follow.")
	part("multipart-alternative", "2", "<html><body><p>Gr=C3=BC=C3=9Fe aus <b>K=C3=B6ln</b></p></body></html>")
	part("nested-rfc822", "2.HEADER", "From: Inner <inner@example.net>\r\n"+
		"To: Sender <sender@example.org>\r\n"+
		"Subject: The inner message\r\n"+
		"Date: Wed, 25 Nov 2026 10:00:00 +0100\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n")
	part("nested-rfc822", "2.1", "inner plain\r\n.")
	part("nested-rfc822", "2.2.MIME", "Content-Type: text/html\r\n\r\n")

	// Macros.
	for _, macro := range []struct {
		name  string
		items []string
	}{
		{"ALL", []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}},
		{"FAST", []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE"}},
		{"FULL", []string{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY ("}},
	} {
		d := c.ok("fetch", "1:3", macro.name)
		if got := len(lines(d)); got < 3 {
			t.Errorf("FETCH 1:3 %s: %d responses: %s", macro.name, got, itemsString(d))
		}
		all := strings.Join(lines(d), "\n")
		for _, it := range macro.items {
			if strings.Count(all, it) < 3 {
				t.Errorf("FETCH 1:3 %s: %q not in every response: %s", macro.name, it, all)
			}
		}
	}

	// Nothing is \Seen yet (PEEK); a BODY[] fetch sets \Seen.
	if n := searchNums(c.ok("search", nil, "UNSEEN")); len(n) != len(msgs) {
		t.Errorf("SEARCH UNSEEN after PEEKs: %v", n)
	}
	c.ok("fetch", "2", "(BODY[])")
	if f := flagsIn(t, c.ok("fetch", "2", "(FLAGS)")); !slices.Contains(f, `\Seen`) {
		t.Errorf("FETCH BODY[] did not set \\Seen: %v", f)
	}

	// STORE.
	d = c.ok("store", "1,3", "+FLAGS", `(\Flagged $Work)`)
	if len(lines(d)) != 2 {
		t.Errorf("STORE +FLAGS: %s", itemsString(d))
	}
	if f := flagsIn(t, c.ok("fetch", "3", "(FLAGS)")); !slices.Equal(f, []string{"$Work", `\Flagged`}) {
		t.Errorf("FLAGS after +FLAGS: %v", f)
	}
	c.ok("store", "3", "-FLAGS", `(\Flagged)`)
	if f := flagsIn(t, c.ok("fetch", "3", "(FLAGS)")); !slices.Equal(f, []string{"$Work"}) {
		t.Errorf("FLAGS after -FLAGS: %v", f)
	}
	c.ok("store", "1", "+FLAGS.SILENT", `(\Seen)`)

	// SEARCH, each against what the corpus says.
	idx := map[string]int{}
	for i, m := range msgs {
		idx[m.name] = i + 1
	}
	nums := func(names ...string) []int {
		var n []int
		for _, nm := range names {
			n = append(n, idx[nm])
		}
		slices.Sort(n)
		return n
	}
	allBut := func(names ...string) []int {
		var n []int
		for i, m := range msgs {
			if !slices.Contains(names, m.name) {
				n = append(n, i+1)
			}
		}
		return n
	}
	sized := func(pred func(int) bool) []int {
		var n []int
		for i, m := range msgs {
			if pred(len(crlf(m.raw))) {
				n = append(n, i+1)
			}
		}
		return n
	}
	for _, q := range []struct {
		crit []any
		want []int
	}{
		{[]any{"UNSEEN"}, allBut(msgs[0].name, msgs[1].name)},
		{[]any{"SEEN"}, nums(msgs[0].name, msgs[1].name)},
		{[]any{"FLAGGED"}, []int{1}},
		{[]any{"KEYWORD", "$Work"}, []int{1, 3}},
		{[]any{"FROM", "inner@example.net"}, nil},
		{[]any{"FROM", "sender@example.org"}, allBut("utf8-8bit")},
		{[]any{"SUBJECT", "Alternative"}, nums("multipart-alternative")},
		{[]any{"SUBJECT", `"inner message"`}, nums("nested-rfc822")},
		{[]any{"BODY", `"soft line break"`}, nums("multipart-alternative")},
		{[]any{"BODY", `"leading dot"`}, nums("dot-stuffing")},
		{[]any{"SINCE", "1-Jan-2020"}, allBut()},
		{[]any{"BEFORE", "1-Jan-2020"}, nil},
		{[]any{"SENTON", "26-Nov-2026"}, allBut()},
		{[]any{"LARGER", "1000000"}, nums("big-20mb")},
		{[]any{"SMALLER", "1000000", "LARGER", "100000"}, nums("multipart-mixed")},
		{[]any{"NOT", "LARGER", "1000"}, sized(func(n int) bool { return n <= 1000 })},
		{[]any{"OR", "SUBJECT", "Dots", "SUBJECT", "Alternative"}, nums("dot-stuffing", "multipart-alternative")},
		{[]any{"NOT", "SUBJECT", "a"}, nil},
		{[]any{"HEADER", corpusID, "long-lines"}, nums("long-lines")},
		{[]any{"UID", "1:2"}, []int{1, 2}},
	} {
		if q.crit[0] == "NOT" && q.crit[1] == "SUBJECT" {
			// Subjects without an "a" (case-insensitive).
			q.want = nil
			for i, m := range msgs {
				subj := ""
				for _, l := range strings.Split(string(headerOf(crlf(m.raw))), "\r\n") {
					if v, ok := strings.CutPrefix(l, "Subject: "); ok {
						subj = v
					}
				}
				if !strings.Contains(strings.ToLower(subj), "a") {
					q.want = append(q.want, i+1)
				}
			}
		}
		got := searchNums(c.ok("search", append([]any{nil}, q.crit...)...))
		if !slices.Equal(got, q.want) {
			t.Errorf("SEARCH %v = %v, want %v", q.crit, got, q.want)
		}
	}

	// APPEND with flags and a date.
	c.ok("create", "Saved")
	app := []byte("From: a@example.org\r\nSubject: appended\r\nDate: Mon, 6 Jan 2020 10:00:00 +0100\r\n\r\nbody\r\n")
	c.ok("append", "Saved", `(\Flagged \Seen $Label1)`, `"06-Jan-2020 10:00:00 +0100"`, app)
	c.ok("select", "Saved", true)
	d = c.ok("fetch", "1", "(FLAGS INTERNALDATE RFC822.SIZE BODY[])")
	if f := flagsIn(t, d); !slices.Equal(f, []string{"$Label1", `\Flagged`, `\Seen`}) {
		t.Errorf("appended FLAGS %v", f)
	}
	// The same instant; the zone may be normalized (Dovecot's Maildir
	// keeps a file time and answers +0000).
	if m := internalDateRe.FindStringSubmatch(strings.Join(lines(d), " ")); m == nil {
		t.Errorf("appended: no INTERNALDATE in %s", itemsString(d))
	} else if tm, err := time.Parse("_2-Jan-2006 15:04:05 -0700", m[1]); err != nil || !tm.Equal(time.Date(2020, 1, 6, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("appended INTERNALDATE %q, want 06-Jan-2020 10:00:00 +0100 (%v)", m[1], err)
	}
	if b := literalOf(t, d, "BODY[]"); !bytes.Equal(b, app) {
		t.Errorf("appended message: %s", diffAt(b, app))
	}

	// EXAMINE is read-only: BODY[] does not set \Seen.
	c.ok("select", "INBOX", true)
	if _, ok := c.untagged()["READ-ONLY"]; !ok {
		t.Errorf("EXAMINE: no [READ-ONLY]")
	}
	c.ok("fetch", "4", "(BODY[])")
	if f := flagsIn(t, c.ok("fetch", "4", "(FLAGS)")); slices.Contains(f, `\Seen`) {
		t.Errorf("FETCH BODY[] under EXAMINE set \\Seen")
	}
	// STORE there fails or does nothing (Dovecot: OK, nothing stored).
	c.call("store", "4", "+FLAGS", `(\Deleted)`)
	if f := flagsIn(t, c.ok("fetch", "4", "(FLAGS)")); slices.Contains(f, `\Deleted`) {
		t.Errorf("STORE under EXAMINE set \\Deleted")
	}

	// COPY and MOVE.
	c.ok("select", "INBOX")
	c.ok("copy", "1:2", "Saved")
	c.untagged()
	c.ok("_simple_command", "MOVE", "3", "Saved") // imaplib has no move()
	u = c.untagged()
	if e := u["EXPUNGE"]; len(e) != 1 || string(e[0].Line) != "3" {
		t.Errorf("MOVE 3: EXPUNGE responses %s", itemsString(e))
	}
	n := len(msgs) - 1
	c.ok("select", "Saved", true)
	for i, m := range []corpusMsg{msgs[0], msgs[1], msgs[2]} {
		b := literalOf(t, fetchOne(t, c, strconv.Itoa(i+2), "(BODY.PEEK[])"), "BODY[]")
		if !imapBodyOK(m, b) {
			t.Errorf("copied/moved %s: %s", m.name, diffAt(b, crlf(m.raw)))
		}
	}
	if f := flagsIn(t, c.ok("fetch", "2", "(FLAGS)")); !slices.Equal(f, []string{"$Work", `\Flagged`, `\Seen`}) {
		t.Errorf("COPY kept flags %v", f)
	}

	// EXPUNGE.
	c.ok("select", "INBOX")
	c.ok("store", "1,2", "+FLAGS.SILENT", `(\Deleted)`)
	d = c.ok("expunge")
	if got := lines(d); !slices.Equal(got, []string{"1", "1"}) && !slices.Equal(got, []string{"2", "1"}) {
		t.Errorf("EXPUNGE of 1,2: %q, want [1 1] or [2 1]", got)
	}
	n -= 2
	// CLOSE expunges silently, UNSELECT does not.
	c.ok("store", "1", "+FLAGS.SILENT", `(\Deleted)`)
	c.untagged()
	c.ok("close")
	if e := c.untagged()["EXPUNGE"]; len(e) != 0 {
		t.Errorf("CLOSE sent EXPUNGE %s", itemsString(e))
	}
	n--
	if d := c.ok("select", "INBOX"); string(d[0].Line) != strconv.Itoa(n) {
		t.Errorf("after CLOSE: %q messages, want %d", lines(d), n)
	}
	c.ok("store", "1", "+FLAGS.SILENT", `(\Deleted)`)
	c.ok("unselect")
	if d := c.ok("select", "INBOX"); string(d[0].Line) != strconv.Itoa(n) {
		t.Errorf("after UNSELECT: %q messages, want %d (nothing expunged)", lines(d), n)
	}
	if f := flagsIn(t, c.ok("fetch", "1", "(FLAGS)")); !slices.Contains(f, `\Deleted`) {
		t.Errorf("after UNSELECT: FLAGS %v", f)
	}
	c.fails("fetch", fmt.Sprint(n+5), "(FLAGS)")
	c.logout()
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
