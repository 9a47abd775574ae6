package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIMAPCurl: curl fetches messages byte-exact over STARTTLS and IMAPS,
// runs custom commands (LIST, EXAMINE) and uploads with APPEND.
func TestIMAPCurl(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl", "curl")
	s := startServer(t, serverOpts{imap: true})
	msgs := corpus()
	for _, m := range msgs {
		s.deliver("alice", m.raw)
	}
	user := "alice:" + alicePass
	base := []string{"-sS", "--cacert", caFile, "-u", user}
	starttls := fmt.Sprintf("imap://localhost:%d", s.imapPort)
	imaps := fmt.Sprintf("imaps://localhost:%d", s.imapsPort)
	// localhost resolves to 127.0.0.1 for the server's certificate check.
	base = append(base, "--resolve", fmt.Sprintf("localhost:%d:127.0.0.1", s.imapPort),
		"--resolve", fmt.Sprintf("localhost:%d:127.0.0.1", s.imapsPort))
	curlOK := func(args ...string) []byte {
		t.Helper()
		out, errb, code := runCmd(t, nil, curl, append(append([]string{}, base...), args...)...)
		if code != 0 {
			t.Fatalf("curl %s: exit %d\n%s", strings.Join(args, " "), code, errb)
		}
		return out
	}
	for i, m := range msgs {
		for _, u := range []string{starttls, imaps} {
			args := []string{fmt.Sprintf("%s/INBOX;UID=%d", u, i+1)}
			if u == starttls {
				args = append([]string{"--ssl-reqd"}, args...)
			}
			got := curlOK(args...)
			if !imapBodyOK(m, got) {
				t.Errorf("curl %s: %s", args, diffAt(got, crlf(m.raw)))
			}
		}
	}
	// Section fetch: curl's ;SECTION= is a BODY[] section.
	got := curlOK(imaps + "/INBOX;UID=3;SECTION=1")
	if string(got) != "Two attachments follow." {
		t.Errorf("curl SECTION=1 of multipart-mixed: %q", got)
	}

	list := string(curlOK(imaps+"/", "-X", `LIST "" *`))
	if !strings.Contains(list, `* LIST (`) || !strings.Contains(list, "INBOX") {
		t.Errorf(`curl -X 'LIST "" *': %q`, list)
	}
	ex := string(curlOK(imaps+"/", "-X", "EXAMINE INBOX"))
	if !strings.Contains(ex, fmt.Sprintf("* %d EXISTS", len(msgs))) || !strings.Contains(ex, "UIDVALIDITY") {
		t.Errorf("curl -X 'EXAMINE INBOX': %q", ex)
	}

	// APPEND with -T into a new mailbox.
	c := s.imaplib(t, "ssl", "")
	c.ok("login", "alice", alicePass)
	c.ok("create", "Outbox")
	file := filepath.Join(s.dir, "upload.eml")
	up := crlf(msgs[3].raw)
	if err := os.WriteFile(file, up, 0o644); err != nil {
		t.Fatal(err)
	}
	curlOK("-T", file, imaps+"/Outbox")
	c.ok("select", "Outbox", true)
	d := c.ok("fetch", "1", "(BODY.PEEK[])")
	if b := literalOf(t, d, "BODY[]"); !bytes.Equal(b, up) {
		t.Errorf("curl -T upload: %s", diffAt(b, up))
	}
	got = curlOK(imaps + "/Outbox;UID=1")
	if !bytes.Equal(got, up) {
		t.Errorf("curl fetch of the uploaded message: %s", diffAt(got, up))
	}
	c.logout()
}
