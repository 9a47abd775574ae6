package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// syncMsg is a small numbered message for the sync tests.
func syncMsg(prefix string, i int) corpusMsg {
	name := fmt.Sprintf("%s-%03d", prefix, i)
	body := strings.Repeat(fmt.Sprintf("%s line of message %d\r\n", prefix, i), 5+i%40)
	return corpusMsg{name, []byte(header(name, "sync "+name) + "Content-Type: text/plain\r\n\r\n" + body)}
}

// deliverMany delivers msgs to mailbox with a few deliver processes at once.
func (s *server) deliverMany(mailbox string, msgs []corpusMsg) {
	s.t.Helper()
	var wg sync.WaitGroup
	ch := make(chan corpusMsg)
	errs := make(chan string, len(msgs))
	for range 4 {
		wg.Go(func() {
			for m := range ch {
				if code, out := s.deliverToCode("alice", mailbox, m.raw); code != 0 {
					errs <- fmt.Sprintf("deliver %s: exit %d %s", m.name, code, out)
				}
			}
		})
	}
	for _, m := range msgs {
		ch <- m
	}
	close(ch)
	wg.Wait()
	close(errs)
	for e := range errs {
		s.t.Fatal(e)
	}
}

// remoteMsg is a message as the server lists it.
type remoteMsg struct {
	uid   string
	flags []string // \Seen, \Flagged, ... sorted, without \Recent
	body  []byte
}

var uidRe = regexp.MustCompile(`UID (\d+)`)

// remoteState returns the messages of mailbox by X-Corpus-Id, and the ids
// seen more than once.
func remoteState(t testing.TB, c *pyIMAP, mailbox string, withBody bool) (map[string]remoteMsg, []string) {
	t.Helper()
	d := c.ok("select", quoteIMAP(mailbox), true)
	out := map[string]remoteMsg{}
	var dups []string
	if string(d[0].Line) == "0" {
		return out, nil
	}
	item := "BODY.PEEK[HEADER.FIELDS (" + corpusID + ")]"
	if withBody {
		item = "BODY.PEEK[]"
	}
	data := c.ok("fetch", "1:*", "(UID FLAGS "+item+")")
	for i := 0; i < len(data); i++ {
		it := data[i]
		if !it.Tuple {
			continue
		}
		pre := string(it.Prefix)
		// FLAGS may come before or after the literal.
		if i+1 < len(data) && !data[i+1].Tuple {
			pre += string(data[i+1].Line)
		}
		m := remoteMsg{body: it.Literal}
		if u := uidRe.FindStringSubmatch(pre); u != nil {
			m.uid = u[1]
		}
		if f := flagsRe.FindStringSubmatch(pre); f != nil {
			m.flags = slices.DeleteFunc(strings.Fields(f[1]), func(s string) bool { return s == `\Recent` })
			slices.Sort(m.flags)
		}
		id := corpusName(it.Literal)
		if _, ok := out[id]; ok {
			dups = append(dups, id)
		}
		out[id] = m
	}
	c.ok("close")
	return out, dups
}

// localMsg is a message in a Maildir.
type localMsg struct {
	path  string
	flags string // the letters after ":2,"
	body  []byte
}

// maildirState returns the messages of a Maildir folder by X-Corpus-Id,
// and the ids seen more than once.
func maildirState(t testing.TB, dir string) (map[string]localMsg, []string) {
	t.Helper()
	out := map[string]localMsg{}
	var dups []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, sub, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var flags string
			if _, f, ok := strings.Cut(e.Name(), ":2,"); ok {
				flags = f
			}
			id := corpusName(b)
			if _, ok := out[id]; ok {
				dups = append(dups, id)
			}
			out[id] = localMsg{p, flags, b}
		}
	}
	return out, dups
}

// setMaildirFlags renames a Maildir message to carry flags (moving it to
// cur/), as a mail reader does.
func setMaildirFlags(t testing.TB, m localMsg, flags string) {
	t.Helper()
	dir := filepath.Dir(filepath.Dir(m.path))
	base, _, _ := strings.Cut(filepath.Base(m.path), ":2,")
	f := []byte(flags)
	slices.Sort(f)
	np := filepath.Join(dir, "cur", base+":2,"+string(f))
	if err := os.Rename(m.path, np); err != nil {
		t.Fatal(err)
	}
}

// imapFlagLetters maps IMAP system flags to Maildir flag letters.
func imapFlagLetters(flags []string) string {
	var l []byte
	for _, f := range flags {
		switch f {
		case `\Seen`:
			l = append(l, 'S')
		case `\Flagged`:
			l = append(l, 'F')
		case `\Answered`:
			l = append(l, 'R')
		case `\Draft`:
			l = append(l, 'D')
		case `\Deleted`:
			l = append(l, 'T')
		}
	}
	slices.Sort(l)
	return string(l)
}

// withoutTUID removes the X-TUID header field mbsync (1.4) adds to every
// message it copies, either way, to find it again, and makes line ends LF,
// as a Maildir holds them.
func withoutTUID(b []byte) []byte {
	b = lf(b)
	if i := bytes.Index(b, []byte("\nX-TUID: ")); i >= 0 {
		if j := bytes.IndexByte(b[i+1:], '\n'); j >= 0 {
			b = append(b[:i+1:i+1], b[i+1+j+1:]...)
		}
	}
	return b
}
