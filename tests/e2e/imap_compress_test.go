package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// compressMsg is a numbered message of about 20 KB.
func compressMsg(prefix string, i int) corpusMsg {
	name := fmt.Sprintf("%s-%03d", prefix, i)
	var b strings.Builder
	for j := range 300 {
		fmt.Fprintf(&b, "%s line %d of message %d %s\r\n", prefix, j, i, strings.Repeat("xyz", j%20))
	}
	return corpusMsg{name, []byte(header(name, "compress "+name) + "Content-Type: text/plain\r\n\r\n" + b.String())}
}

// TestIMAPMbsyncCompress: mbsync (isync) over COMPRESS=DEFLATE. mbsync
// ends each batch of commands with zlib's Z_PARTIAL_FLUSH, which keeps up
// to 7 bits of the stream back, and pipelines one UID FETCH per message:
// the server must answer every command from the bits that did arrive
// (this stalled until mbsync's timeout with an inflater that reads ahead;
// see TestCompressMbsync in internal/imapserver). Two rounds: the first
// pulls every message byte-exact, the second pushes local flag changes and
// pulls new messages.
func TestIMAPMbsyncCompress(t *testing.T) {
	t.Parallel()
	mbsync := requireTool(t, "mbsync", "isync")
	s := startServer(t, serverOpts{imap: true})

	var msgs []corpusMsg
	for i := range 60 {
		msgs = append(msgs, compressMsg("z", i))
	}
	s.deliverMany("", msgs)

	local := filepath.Join(s.dir, "maildir")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(s.dir, "mbsyncrc")
	// Timeout 20: a stall fails the test in seconds, not minutes.
	conf := fmt.Sprintf(`IMAPAccount roost
Host localhost
Port %d
User alice
Pass %s
SSLType IMAPS
CertificateFile %s
AuthMechs LOGIN
Timeout 20

IMAPStore remote
Account roost

MaildirStore local
Path %s/
Inbox %s/INBOX

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
`, s.imapsPort, alicePass, caFile, local, local)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(round int) {
		t.Helper()
		// -Dn: the IMAP commands (not the message data) on stdout.
		out, errb, code := runCmd(t, nil, mbsync, "-Dn", "-c", rc, "sync")
		if code != 0 {
			t.Fatalf("mbsync round %d: exit %d\nstdout (end):\n%s\nstderr:\n%s", round, code, tail(out, 4000), errb)
		}
		if !s.ref && !bytes.Contains(out, []byte(" OK Begin compression.")) {
			t.Fatalf("mbsync round %d did not use COMPRESS:\n%s", round, out[:min(len(out), 3000)])
		}
	}
	run(1)
	loc, dups := maildirState(t, filepath.Join(local, "INBOX"))
	if len(dups) > 0 || len(loc) != len(msgs) {
		t.Fatalf("after round 1: %d messages locally, duplicates %v; want %d", len(loc), dups, len(msgs))
	}
	for _, m := range msgs {
		if got := withoutTUID(loc[m.name].body); !bytes.Equal(got, lf(m.raw)) {
			t.Errorf("%s: %s", m.name, diffAt(got, lf(m.raw)))
		}
	}

	for i := range 10 {
		setMaildirFlags(t, loc[msgs[i].name], "S")
	}
	var fresh []corpusMsg
	for i := range 15 {
		fresh = append(fresh, compressMsg("fresh", i))
	}
	s.deliverMany("", fresh)
	run(2)

	c := s.imaplib(t, "ssl", "")
	c.ok("login", "alice", alicePass)
	rem, rdups := remoteState(t, c, "INBOX", false)
	loc, dups = maildirState(t, filepath.Join(local, "INBOX"))
	if len(rdups)+len(dups) > 0 || len(rem) != 75 || len(loc) != 75 {
		t.Fatalf("after round 2: server %d messages (duplicates %v), Maildir %d (duplicates %v); want 75", len(rem), rdups, len(loc), dups)
	}
	for i, m := range msgs {
		want := ""
		if i < 10 {
			want = "S"
		}
		if got := imapFlagLetters(rem[m.name].flags); got != want {
			t.Errorf("%s: server flags %v, want %q", m.name, rem[m.name].flags, want)
		}
	}
	for _, m := range fresh {
		if got := withoutTUID(loc[m.name].body); !bytes.Equal(got, lf(m.raw)) {
			t.Errorf("%s: %s", m.name, diffAt(got, lf(m.raw)))
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
