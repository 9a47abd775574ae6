package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// knownEnvelopeDiffs lists accepted differences between roost and Dovecot
// in the differential test, as "message-id field" -> reason. Every other
// difference fails the test.
var knownEnvelopeDiffs = map[string]string{}

// goimapFetch logs in with go-imap v2 (an independent client) over IMAPS
// and fetches ENVELOPE and extended BODYSTRUCTURE of every INBOX message,
// by X-Corpus-Id (from the Message-ID, "<name@corpus.example>").
func goimapFetch(t *testing.T, s *server) map[string]*imapclient.FetchMessageBuffer {
	t.Helper()
	c, err := imapclient.DialTLS(fmt.Sprintf("127.0.0.1:%d", s.imapsPort), &imapclient.Options{TLSConfig: testTLSConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", alicePass).Wait(); err != nil {
		t.Fatalf("go-imap login: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("go-imap select: %v", err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(seqRange(sel.NumMessages)...), &imap.FetchOptions{
		UID: true, Envelope: true, RFC822Size: true, Flags: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	}).Collect()
	if err != nil {
		t.Fatalf("go-imap fetch: %v", err)
	}
	out := map[string]*imapclient.FetchMessageBuffer{}
	for _, m := range msgs {
		if m.Envelope == nil || m.BodyStructure == nil {
			t.Fatalf("go-imap fetch %d: no envelope or body structure", m.SeqNum)
		}
		id := strings.TrimSuffix(m.Envelope.MessageID, "@corpus.example")
		out[id] = m
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("go-imap logout: %v", err)
	}
	return out
}

func seqRange(n uint32) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = uint32(i + 1)
	}
	return s
}

// TestIMAPGoImapDifferential delivers the corpus to roost and to Dovecot
// and compares what go-imap v2 parses from their ENVELOPE and
// BODYSTRUCTURE answers.
func TestIMAPGoImapDifferential(t *testing.T) {
	t.Parallel()
	if refServer {
		t.Skip("differential test: compares roost with Dovecot, needs roost")
	}
	if _, err := os.Stat("/usr/lib/dovecot/imap"); err != nil {
		requireTool(t, "/usr/lib/dovecot/imap", "dovecot-imapd")
	}
	r := startServer(t, serverOpts{imap: true})
	d := startServer(t, serverOpts{imap: true, dovecot: true})
	msgs := corpus()
	for _, m := range msgs {
		r.deliver("alice", m.raw)
		d.deliver("alice", m.raw)
	}
	got, ref := goimapFetch(t, r), goimapFetch(t, d)
	if len(got) != len(msgs) || len(ref) != len(msgs) {
		t.Fatalf("go-imap fetched %d messages from roost, %d from Dovecot, want %d", len(got), len(ref), len(msgs))
	}
	for _, m := range msgs {
		g, w := got[m.name], ref[m.name]
		if g == nil || w == nil {
			t.Errorf("%s: missing (roost %v, Dovecot %v)", m.name, g != nil, w != nil)
			continue
		}
		compare := func(field string, a, b any) {
			t.Helper()
			ja, _ := json.MarshalIndent(a, "", " ")
			jb, _ := json.MarshalIndent(b, "", " ")
			if string(ja) == string(jb) {
				return
			}
			if why, ok := knownEnvelopeDiffs[m.name+" "+field]; ok {
				t.Logf("%s %s differs (accepted: %s)", m.name, field, why)
				return
			}
			t.Errorf("%s %s differs:\nroost:   %s\nDovecot: %s", m.name, field, ja, jb)
		}
		compare("ENVELOPE", g.Envelope, w.Envelope)
		compare("BODYSTRUCTURE", g.BodyStructure, w.BodyStructure)
		compare("RFC822.SIZE", g.RFC822Size, w.RFC822Size)
	}
	if ja, _ := json.Marshal(got["nested-rfc822"].BodyStructure); !strings.Contains(string(ja), `"inner"`) {
		t.Errorf("nested-rfc822 body structure as compared lacks the inner boundary: %s", ja)
	}

	// The same, byte for byte on the wire: a client parser less lenient
	// than go-imap sees these bytes (Outlook for iOS and spaces between
	// multipart bodies, say).
	raw := func(s *server) map[string]string {
		c := s.dialIMAP(t, true)
		c.login()
		c.ok("EXAMINE INBOX")
		out := map[string]string{}
		for i := range msgs {
			u := c.ok(fmt.Sprintf("FETCH %d (ENVELOPE BODYSTRUCTURE)", i+1))
			out[msgs[i].name] = strings.Join(u, "\n")
		}
		c.ok("LOGOUT")
		return out
	}
	rg, rw := raw(r), raw(d)
	for _, m := range msgs {
		if rg[m.name] != rw[m.name] {
			if why, ok := knownEnvelopeDiffs[m.name+" raw"]; ok {
				t.Logf("%s raw ENVELOPE/BODYSTRUCTURE differs (accepted: %s)", m.name, why)
				continue
			}
			t.Errorf("%s: FETCH (ENVELOPE BODYSTRUCTURE) differs on the wire:\nroost:   %s\nDovecot: %s", m.name, rg[m.name], rw[m.name])
		}
	}
}
