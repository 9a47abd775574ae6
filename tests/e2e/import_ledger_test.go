package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// writeDovecotMaildir writes a Maildir INBOX as Dovecot leaves it: one
// file per message and a dovecot-uidlist numbering them 1..n.
func writeDovecotMaildir(t *testing.T, root string, names []string) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var ul strings.Builder
	fmt.Fprintf(&ul, "3 V1600000000 N%d G00112233445566778899aabbccddeeff\n", len(names)+1)
	for i, n := range names {
		base := fmt.Sprintf("16000000%02d.M1P1.oldhost", i)
		fmt.Fprintf(&ul, "%d :%s\n", i+1, base)
		msg := fmt.Sprintf("Message-ID: <%s@old.example>\nFrom: a@example.net\nSubject: %s\n\nthis is %s\n", n, n, n)
		if err := os.WriteFile(filepath.Join(root, "cur", base+":2,S"), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "dovecot-uidlist"), []byte(ul.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportLedgerLive: a site moves alice from Dovecot while Roost
// already receives her mail. roost import copies her Maildir with the
// server running; she gets a delivery (which takes the UID Dovecot will
// give its next message) and moves an imported message to Archive over
// IMAP; Dovecot meanwhile received two more messages. The second roost
// import adds exactly those two: none skipped, none duplicated.
func TestImportLedgerLive(t *testing.T) {
	skipReference(t)
	s := startServer(t, serverOpts{imap: true})
	src := filepath.Join(s.dir, "Maildir")
	writeDovecotMaildir(t, src, []string{"old-1", "old-2", "old-3"})
	importRE := regexp.MustCompile(`^alice: imported (\d+) messages \(\d+ bytes\) in \d+ mailboxes; (\d+) already there\n$`)
	runImport := func(wantStored, wantThere string) {
		t.Helper()
		out, e, code := s.cli(nil, "import", "-c", s.cfg, "-u", "alice", "maildir", src)
		m := importRE.FindStringSubmatch(string(out))
		if code != 0 || m == nil || m[1] != wantStored || m[2] != wantThere {
			t.Fatalf("roost import: exit %d, want %s imported and %s already there\nstdout: %s\nstderr: %s", code, wantStored, wantThere, out, e)
		}
	}
	runImport("3", "0")

	s.deliver("alice", []byte("From: b@example.net\nSubject: delivered\n\nlive\n"))
	c := s.dialIMAP(t, false)
	c.login()
	c.ok("SELECT INBOX")
	if u := c.ok("UID SEARCH ALL"); !slices.Contains(u, "* SEARCH 1 2 3 4") {
		t.Fatalf("INBOX UIDs after import and delivery: %q", u)
	}
	c.ok("UID MOVE 2 Archive")

	writeDovecotMaildir(t, src, []string{"old-1", "old-2", "old-3", "new-4", "new-5"})
	runImport("2", "3")

	subjects := func(mailbox string) []string {
		t.Helper()
		c.ok("SELECT " + mailbox)
		var out []string
		for _, l := range c.ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])") {
			if i := strings.Index(l, "Subject: "); i >= 0 {
				subj, _, _ := strings.Cut(l[i+len("Subject: "):], "\r\n")
				out = append(out, subj)
			}
		}
		slices.Sort(out)
		return out
	}
	if got, want := subjects("INBOX"), []string{"delivered", "new-4", "new-5", "old-1", "old-3"}; !slices.Equal(got, want) {
		t.Errorf("INBOX after the second import: %q, want %q", got, want)
	}
	if got, want := subjects("Archive"), []string{"old-2"}; !slices.Equal(got, want) {
		t.Errorf("Archive after the second import: %q, want %q", got, want)
	}
	c.ok("LOGOUT")
	runImport("0", "5")
}
