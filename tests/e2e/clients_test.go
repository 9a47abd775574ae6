package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// curlRetr retrieves message n of alice with curl (pop3:// with mandatory
// STLS, or pop3s://). curl undoes the dot-stuffing and writes the message
// as sent, CRLF line ends included.
func (s *server) curlRetr(mode string, n int) []byte {
	t := s.t
	t.Helper()
	curl := requireTool(t, "curl", "curl")
	var url string
	args := []string{"-sS", "--cacert", caFile, "-u", "alice:" + alicePass}
	switch mode {
	case "stls":
		url = fmt.Sprintf("pop3://127.0.0.1:%d/%d", s.pop3Port, n)
		args = append(args, "--ssl-reqd")
	case "ssl":
		url = fmt.Sprintf("pop3s://127.0.0.1:%d/%d", s.pop3sPort, n)
	default:
		t.Fatalf("curl mode %q", mode)
	}
	out := filepath.Join(s.dir, fmt.Sprintf("curl-%s-%d", mode, n))
	defer os.Remove(out)
	_, stderr, code := runCmd(t, nil, curl, append(args, "-o", out, url)...)
	if code != 0 {
		t.Fatalf("curl %s: exit %d\n%s", url, code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fetchmailRun runs fetchmail once for alice, delivering each message to
// a file of its own through an MDA, and returns the files' contents (in
// retrieval order). mode is "stls" (sslproto without ssl: STLS required) or
// "ssl" (implicit TLS); keep leaves the messages on the server.
//
// fetchmail quirks handled here (established against Dovecot too):
//   - it prepends a Received: header; "set invisible" suppresses it;
//   - with an MDA it strips CR by default ("stripcr"): "no stripcr" keeps the
//     CRLF line ends as the server sent them;
//   - it checks the certificate against the poll name only, by DNS name:
//     with "via 127.0.0.1" it wants CN/SAN "127.0.0.1", so the name is
//     given with sslcommonname "localhost";
//   - "no rewrite" keeps it from rewriting addresses in headers;
//   - it refuses to run with a world-readable rcfile, and keeps its state
//     (.fetchids) in FETCHMAILHOME, pointed at a temp directory; run as
//     root its lock file is global (/var/run/fetchmail.pid), so parallel
//     runs need --pidfile.
func (s *server) fetchmailRun(mode string, keep bool) [][]byte {
	t := s.t
	t.Helper()
	fm := requireTool(t, "fetchmail", "fetchmail")
	home, err := os.MkdirTemp(s.dir, "fetchmail-")
	if err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(home, "out")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		t.Fatal(err)
	}
	mda := writeMDA(t, home, outDir)
	port, tls := s.pop3Port, "sslproto 'TLS1.2+'"
	if mode == "ssl" {
		port, tls = s.pop3sPort, "ssl sslproto 'TLS1.2+'"
	}
	keepKw := "nokeep"
	if keep {
		keepKw = "keep"
	}
	rc := fmt.Sprintf(`set no syslog
set invisible
set no bouncemail
poll localhost via 127.0.0.1 service %d protocol pop3 uidl
  user "alice" there with password "%s" is "root" here
  %s sslcertck sslcertfile "%s" sslcommonname "localhost"
  %s fetchall no rewrite no stripcr no forcecr no mimedecode
  mda "%s"
`, port, alicePass, tls, caFile, keepKw, mda)
	rcFile := filepath.Join(home, "fetchmailrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := []string{"-f", rcFile, "--nodetach", "--nosyslog", "-v", "--pidfile", filepath.Join(home, "pid")}
	_, stderr, code := runCmdEnv(t, []string{"FETCHMAILHOME=" + home}, nil, fm, cmd...)
	// 0: mail retrieved; 1: no mail. Anything else is an error.
	if code != 0 && code != 1 {
		t.Fatalf("fetchmail (%s): exit %d\n%s", mode, code, stderr)
	}
	return readDir(t, outDir)
}

// writeMDA writes a delivery script that stores stdin in a new file in
// outDir, named by sequence number (clients deliver one at a time).
func writeMDA(t testing.TB, home, outDir string) string {
	t.Helper()
	mda := filepath.Join(home, "mda.sh")
	script := "#!/bin/sh\nn=$(ls " + outDir + " | wc -l)\nexec cat > " + outDir + "/$(printf %06d $n)\n"
	if err := os.WriteFile(mda, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return mda
}

// readDir returns the contents of the regular files in dir, by name.
func readDir(t testing.TB, dir string) [][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// getmailRun runs getmail6 once for alice and returns the delivered
// messages. ssl selects SimplePOP3SSLRetriever (pop3s, certificate checked
// against the CA); otherwise SimplePOP3Retriever over plain POP3, which
// getmail6 cannot upgrade with STLS - the server accepts USER/PASS there
// only because a loopback connection counts as secure.
//
// The destination is MDA_external writing each message to a file, not
// Maildir: the Maildir destination refuses to run as root ("refuse to
// deliver mail as root"), and CI containers run as root. Both destinations
// write the same bytes (Message.flatten); see getmailWant.
func (s *server) getmailRun(ssl, del bool) [][]byte {
	t := s.t
	t.Helper()
	gm := requireTool(t, "getmail", "getmail6")
	home, err := os.MkdirTemp(s.dir, "getmail-")
	if err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(home, "out")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		t.Fatal(err)
	}
	mda := writeMDA(t, home, outDir)
	retr := fmt.Sprintf("type = SimplePOP3Retriever\nport = %d\n", s.pop3Port)
	if ssl {
		retr = fmt.Sprintf("type = SimplePOP3SSLRetriever\nport = %d\nca_certs = %s\n", s.pop3sPort, caFile)
	}
	rc := fmt.Sprintf(`[retriever]
%sserver = 127.0.0.1
username = alice
password = %s

[destination]
type = MDA_external
path = %s
allow_root_commands = true

[options]
read_all = true
delete = %t
delivered_to = false
received = false
message_log_syslog = false
verbose = 0
`, retr, alicePass, mda, del)
	rcFile := filepath.Join(home, "getmailrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCmd(t, nil, gm, "--getmaildir", home, "--rcfile", rcFile)
	if code != 0 {
		t.Fatalf("getmail (ssl=%t): exit %d\n%s", ssl, code, stderr)
	}
	return readDir(t, outDir)
}

// getmailWant is what getmail6 writes into the Maildir for a message the
// server sent as want (CRLF line ends):
//   - it re-serializes the message with Python's email package and the
//     platform line end, so every CRLF becomes LF;
//   - it always prepends "Return-Path: <sender>" (taken from the message's
//     Return-Path or Sender, or "unknown") and removes the original
//     Return-Path; Delivered-To and Received are off with delivered_to =
//     false and received = false;
//   - Python's email generator (compat32 policy) re-folds header fields
//     longer than 78 characters at whitespace, inserting "\n" before a
//     space or tab; unfoldHeaders undoes exactly that on what getmail
//     wrote (the corpus has no folded headers of its own).
func getmailWant(want []byte) []byte {
	w := lf(want)
	var rp string
	hdrEnd := len(w)
	if i := strings.Index(string(w), "\n\n"); i >= 0 {
		hdrEnd = i + 1
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(w[:hdrEnd]), "\n") {
		if strings.HasPrefix(strings.ToLower(line), "return-path:") {
			rp = strings.TrimSpace(line[len("return-path:"):])
			continue
		}
		kept = append(kept, line)
	}
	if rp == "" {
		rp = "<unknown>"
	}
	return []byte("Return-Path: " + rp + "\n" + strings.Join(kept, "") + string(w[hdrEnd:]))
}

// unfoldHeaders removes the line breaks of folded header fields (an LF
// followed by a space or tab) in the header section of an LF message.
func unfoldHeaders(msg []byte) []byte {
	s := string(msg)
	end := strings.Index(s, "\n\n")
	if end < 0 {
		end = len(s)
	}
	h := strings.ReplaceAll(strings.ReplaceAll(s[:end], "\n ", " "), "\n\t", "\t")
	return []byte(h + s[end:])
}
