package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/probe"
)

// probeServer starts a server (roost, or Dovecot with o.dovecot) with IMAP
// and POP3 on the harness's config after edit, and extraUsers appended to
// the passwd-file. noImplicit removes the imaps and pop3s listeners (for
// ssl = no, where they would not start).
func probeServer(t *testing.T, o serverOpts, edit func(string) string, extraUsers string, noImplicit bool) *server {
	t.Helper()
	o.imap = true
	s := &server{t: t, dir: t.TempDir(), pop3Port: freePort(t), pop3sPort: freePort(t),
		imapPort: freePort(t), imapsPort: freePort(t), ref: refServer || o.dovecot}
	if s.ref {
		for _, d := range []string{filepath.Dir(s.dir), s.dir} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.cfg = filepath.Join(s.dir, "roost.conf")
	s.users = filepath.Join(s.dir, "users")
	users := "alice:{PLAIN}" + alicePass + "\n" + "bob:" + bobHash + "\n" + extraUsers
	if err := os.WriteFile(s.users, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := s.config(o)
	if noImplicit {
		for _, name := range []string{"imaps", "pop3s"} {
			re := regexp.MustCompile(`(?s)  inet_listener ` + name + ` \{.*?\n  \}\n`)
			if !re.MatchString(cfg) {
				t.Fatalf("no %s listener in the harness config:\n%s", name, cfg)
			}
			cfg = re.ReplaceAllString(cfg, "")
		}
		// tryStart waits for every port: wait for the plain ones twice.
		s.imapsPort, s.pop3sPort = s.imapPort, s.pop3Port
	}
	if edit != nil {
		cfg = edit(cfg)
	}
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.stopAtEnd("server", "server config:\n"+cfg+"\n")
	s.start()
	return s
}

// replaceLine replaces the config line "key = ..." (which must exist).
func replaceLine(t *testing.T, cfg, key, value string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*$`)
	if !re.MatchString(cfg) {
		t.Fatalf("no %s in the harness config", key)
	}
	return re.ReplaceAllString(cfg, key+" = "+value)
}

var (
	probeBinOnce sync.Once
	probeBinPath string
	probeBinErr  error
)

// probeBin is the roost binary for `roost probe`; in Dovecot mode
// (ROOST_E2E_SERVER=dovecot) TestMain does not build one, so build it here.
func probeBin(t *testing.T) string {
	t.Helper()
	if roostBin != "" {
		return roostBin
	}
	probeBinOnce.Do(func() {
		probeBinPath = filepath.Join(shared, "roost-probe")
		probeBinErr = buildRoost(probeBinPath)
	})
	if probeBinErr != nil {
		t.Fatal(probeBinErr)
	}
	return probeBinPath
}

// runProbe runs `roost probe --json ARGS` and decodes the report.
func runProbe(t *testing.T, stdin []byte, args ...string) (*probe.Report, int, string) {
	t.Helper()
	out, stderr, code := runCmd(t, stdin, probeBin(t), append([]string{"probe", "--json"}, args...)...)
	var r probe.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("probe %v: exit %d, output is not JSON: %v\n%s\nstderr:\n%s", args, code, err, out, stderr)
	}
	if r.Schema != probe.SchemaVersion {
		t.Errorf("schema %d, want %d", r.Schema, probe.SchemaVersion)
	}
	t.Logf("probe %v: exit %d, findings:", args, code)
	for _, f := range r.Findings {
		t.Logf("  %-8s %s %s: %s", f.Severity, f.Service, f.ID, f.Title)
	}
	return &r, code, string(stderr)
}

func (s *server) probeURLs() []string {
	urls := []string{fmt.Sprintf("imap://127.0.0.1:%d", s.imapPort), fmt.Sprintf("pop3://127.0.0.1:%d", s.pop3Port)}
	if s.imapsPort != s.imapPort {
		urls = append(urls, fmt.Sprintf("imaps://127.0.0.1:%d", s.imapsPort), fmt.Sprintf("pop3s://127.0.0.1:%d", s.pop3sPort))
	}
	return urls
}

// findingsOf returns the IDs of url's findings ("" for all services).
func findingsOf(r *probe.Report, url string) []string {
	var ids []string
	for _, f := range r.Findings {
		if url == "" || f.Service == url {
			ids = append(ids, f.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func service(t *testing.T, r *probe.Report, url string) *probe.Service {
	t.Helper()
	for _, s := range r.Services {
		if s.URL == url {
			return s
		}
	}
	t.Fatalf("no service %s in the report", url)
	return nil
}

func wantFindings(t *testing.T, r *probe.Report, url string, want, notWant []string) {
	t.Helper()
	got := findingsOf(r, url)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: missing finding %s (got %v)", url, w, got)
		}
	}
	for _, w := range notWant {
		if slices.Contains(got, w) {
			t.Errorf("%s: unexpected finding %s (got %v)", url, w, got)
		}
	}
}

// TestProbeDefaults: the secure defaults, probed from 127.0.0.2 (not the
// server's own address, so the connection is not secure by rule): no
// cleartext login, STARTTLS, TLS 1.2 and 1.3 only, a certificate that
// verifies against the test CA. From 127.0.0.1 the same port allows
// cleartext logins (secure by rule), which the probe reports with a note.
func TestProbeDefaults(t *testing.T) {
	t.Parallel()
	if refServer {
		t.Skip("roost configuration test")
	}
	s := probeServer(t, serverOpts{}, nil, "", false)
	s.deliver("bob", corpus()[0].raw)
	imap := fmt.Sprintf("imap://127.0.0.1:%d", s.imapPort)
	pop3 := fmt.Sprintf("pop3://127.0.0.1:%d", s.pop3Port)
	imaps := fmt.Sprintf("imaps://127.0.0.1:%d", s.imapsPort)
	pop3s := fmt.Sprintf("pop3s://127.0.0.1:%d", s.pop3sPort)

	r, code, stderr := runProbe(t, []byte(bobPass+"\n"), append([]string{"--source", "127.0.0.2", "--ca", caFile,
		"--user", "bob", "--password-stdin", "--fail-on", "medium"}, s.probeURLs()...)...)
	if code != 0 {
		t.Errorf("exit %d with --fail-on medium, want 0\n%s", code, stderr)
	}
	for _, u := range []string{imap, pop3} {
		wantFindings(t, r, u, []string{"starttls-offered", "greeting-product"},
			[]string{"cleartext-login", "no-tls", "caps-unchanged-after-tls", "starttls-after-tls"})
		sv := service(t, r, u)
		if sv.Cleartext == nil || sv.Cleartext.Processed || len(sv.Cleartext.Mechanisms) > 0 || sv.Cleartext.User {
			t.Errorf("%s: cleartext probe %+v, want nothing offered or processed", u, sv.Cleartext)
		}
		if !strings.HasPrefix(sv.Source, "127.0.0.2:") {
			t.Errorf("%s: probe connected from %s, want 127.0.0.2", u, sv.Source)
		}
	}
	if sv := service(t, r, imap); !sv.Cleartext.LoginDisabled || !strings.Contains(sv.Cleartext.Attempt, "PRIVACYREQUIRED") {
		t.Errorf("imap cleartext probe: %+v, want LOGINDISABLED and NO [PRIVACYREQUIRED]", sv.Cleartext)
	}
	for _, u := range []string{imap, pop3, imaps, pop3s} {
		wantFindings(t, r, u, nil, []string{"tls-old-10", "tls-old-11", "cert-self-signed", "cert-untrusted",
			"cert-hostname", "greeting-version", "greeting-hostname", "anonymous-login", "anonymous-offered", "enum-text", "enum-timing"})
		sv := service(t, r, u)
		if sv.State != probe.StateOpen {
			t.Errorf("%s: state %q", u, sv.State)
			continue
		}
		if got := acceptedVersions(sv); !slices.Equal(got, []string{"TLS 1.2", "TLS 1.3"}) {
			t.Errorf("%s: TLS versions accepted %v, want TLS 1.2 and 1.3", u, got)
		}
		if c := sv.TLS.Certificate; c == nil || !c.Verified || !c.HostnameMatch || c.SelfSigned || !slices.Contains(c.SANs, "127.0.0.1") {
			t.Errorf("%s: certificate %+v, want verified against the test CA, matching 127.0.0.1", u, c)
		}
	}
	// The one login (per protocol) and what it shows.
	sv := service(t, r, imap)
	if sv.Login == nil || !sv.Login.OK {
		t.Fatalf("imap login: %+v", sv.Login)
	}
	if !slices.Contains(sv.CapabilitiesLogin, "NAMESPACE") {
		t.Errorf("capabilities after login: %v", sv.CapabilitiesLogin)
	}
	var inbox *probe.Folder
	for i, f := range sv.Mailbox.Folders {
		if f.Name == "INBOX" {
			inbox = &sv.Mailbox.Folders[i]
		}
	}
	if inbox == nil || inbox.Messages == nil || *inbox.Messages != 1 {
		t.Errorf("folders %+v, want INBOX with 1 message", sv.Mailbox.Folders)
	}
	if !slices.ContainsFunc(sv.Mailbox.Folders, func(f probe.Folder) bool { return slices.Contains(f.Attributes, `\Sent`) }) {
		t.Errorf("no \\Sent special-use folder in %+v", sv.Mailbox.Folders)
	}
	if e := sv.Enumeration; e == nil || e.Tries != 3 || e.TextDiffers || e.TimingDiffers {
		t.Errorf("imap enumeration: %+v, want 3 tries each, no difference", e)
	}
	if l := service(t, r, imaps).Login; l == nil || l.Skipped == "" {
		t.Errorf("imaps: login %+v, want skipped (once per host)", l)
	}
	if sp := service(t, r, pop3); sp.Login == nil || !sp.Login.OK || sp.Mailbox == nil || *sp.Mailbox.Folders[0].Messages != 1 {
		t.Errorf("pop3 login: %+v mailbox %+v", sp.Login, sp.Mailbox)
	}
	// Read-only: the message is still there, unseen.
	if res := s.poplib(popReq{Mode: "ssl", Action: "probe", User: "bob", Password: bobPass}); len(res.Stat) != 2 || res.Stat[0] != 1 {
		t.Errorf("after the probe STAT = %v, want 1 message", res.Stat)
	}

	// --fail-on low: the greeting names Roost.
	if _, code, _ := runProbe(t, nil, "--source", "127.0.0.2", "--ca", caFile, "--fail-on", "low", imap); code != 1 {
		t.Errorf("--fail-on low: exit %d, want 1", code)
	}

	// From the server's own address the connection counts as secure.
	r, _, _ = runProbe(t, nil, "--ca", caFile, imap)
	wantFindings(t, r, imap, []string{"cleartext-login"}, nil)
	for _, f := range r.Findings {
		if f.ID == "cleartext-login" && !strings.Contains(f.Title, "--source") {
			t.Errorf("cleartext finding from the server's own address lacks the --source note: %s", f.Title)
		}
	}
}

func acceptedVersions(s *probe.Service) []string {
	var v []string
	if s.TLS == nil {
		return nil
	}
	for _, x := range s.TLS.Versions {
		if x.Accepted {
			v = append(v, x.Version)
		}
	}
	return v
}

// TestProbeCleartext: ssl = no with disable_plaintext_auth = no gives high
// findings (cleartext login, no TLS), and --fail-on high exits 1.
func TestProbeCleartext(t *testing.T) {
	t.Parallel()
	if refServer {
		t.Skip("roost configuration test")
	}
	s := probeServer(t, serverOpts{plaintextAuth: true}, func(c string) string {
		return replaceLine(t, replaceLine(t, c, "ssl", "no"), "listen", "127.0.0.1, ::1")
	}, "", true)
	r, code, _ := runProbe(t, nil, append([]string{"--source", "127.0.0.2", "--fail-on", "high"}, s.probeURLs()...)...)
	if code != 1 {
		t.Errorf("exit %d with --fail-on high, want 1", code)
	}
	for _, u := range s.probeURLs() {
		wantFindings(t, r, u, []string{"cleartext-login", "no-tls"}, []string{"starttls-offered"})
		sv := service(t, r, u)
		if sv.Cleartext == nil || !sv.Cleartext.Processed {
			t.Errorf("%s: cleartext %+v, want the random-user login processed", u, sv.Cleartext)
		}
		if sv.TLS != nil {
			t.Errorf("%s: TLS scanned without STARTTLS: %+v", u, sv.TLS)
		}
	}
	if sv := service(t, r, s.probeURLs()[0]); sv.Cleartext.LoginDisabled || !slices.Contains(sv.Cleartext.Mechanisms, "PLAIN") {
		t.Errorf("imap: %+v, want no LOGINDISABLED and AUTH=PLAIN", sv.Cleartext)
	}
	if sv := service(t, r, s.probeURLs()[1]); !sv.Cleartext.User {
		t.Errorf("pop3: %+v, want USER offered", sv.Cleartext)
	}
	// IPv6: the same listener on [::1].
	v6 := fmt.Sprintf("imap://[::1]:%d", s.imapPort)
	r, _, _ = runProbe(t, nil, v6)
	if sv := service(t, r, v6); sv.State != probe.StateOpen || !strings.HasPrefix(sv.Remote, "[::1]:") {
		t.Errorf("%s: state %q remote %q error %q", v6, sv.State, sv.Remote, sv.Error)
	}
	wantFindings(t, r, v6, []string{"cleartext-login", "no-tls"}, nil)

	// Usage errors exit 2.
	for _, args := range [][]string{nil, {"smtp://127.0.0.1"}, {"--fail-on", "severe", v6}, {"--user", "bob", v6}} {
		if _, stderr, code := runCmd(t, nil, probeBin(t), append([]string{"probe"}, args...)...); code != 2 {
			t.Errorf("probe %v: exit %d, want 2 (usage)\n%s", args, code, stderr)
		}
	}

	// A closed port is a result, not an error.
	closed := fmt.Sprintf("imap://127.0.0.1:%d", freePort(t))
	r, code, _ = runProbe(t, nil, closed)
	if code != 0 || service(t, r, closed).State != probe.StateClosed {
		t.Errorf("closed port: exit %d, state %q", code, service(t, r, closed).State)
	}
}

// TestProbeAnonymous: with ANONYMOUS enabled (and the anonymous user in the
// passwd-file) the probe logs in anonymously and says so.
func TestProbeAnonymous(t *testing.T) {
	t.Parallel()
	if refServer {
		t.Skip("roost configuration test")
	}
	s := probeServer(t, serverOpts{}, func(c string) string {
		return c + "auth_mechanisms = plain login anonymous\n"
	}, "anonymous:{PLAIN}"+strings.Repeat("x9", 16)+"\n", false)
	imaps := fmt.Sprintf("imaps://127.0.0.1:%d", s.imapsPort)
	pop3s := fmt.Sprintf("pop3s://127.0.0.1:%d", s.pop3sPort)
	r, code, _ := runProbe(t, nil, "--source", "127.0.0.2", "--ca", caFile, "--fail-on", "high", imaps, pop3s)
	if code != 1 {
		t.Errorf("exit %d with --fail-on high, want 1", code)
	}
	for _, u := range []string{imaps, pop3s} {
		wantFindings(t, r, u, []string{"anonymous-login"}, []string{"anonymous-offered"})
		if a := service(t, r, u).Anonymous; a == nil || !a.OK {
			t.Errorf("%s: anonymous %+v", u, a)
		}
	}
	// Without ANONYMOUS in auth_mechanisms nothing is tried.
	s2 := probeServer(t, serverOpts{}, nil, "anonymous:{PLAIN}"+strings.Repeat("x9", 16)+"\n", false)
	r, _, _ = runProbe(t, nil, "--source", "127.0.0.2", "--ca", caFile, fmt.Sprintf("imaps://127.0.0.1:%d", s2.imapsPort))
	if r.Services[0].Anonymous != nil || slices.Contains(findingsOf(r, ""), "anonymous-login") {
		t.Errorf("anonymous tried or reported though not offered: %+v", r.Services[0].Anonymous)
	}
}

// TestProbeAuthVerboseInvisible: auth_verbose = yes changes only the log,
// so the probe must report exactly what it reports for the defaults, and
// never claim to see it.
func TestProbeAuthVerboseInvisible(t *testing.T) {
	t.Parallel()
	if refServer {
		t.Skip("roost configuration test")
	}
	base := probeServer(t, serverOpts{}, nil, "", false)
	verbose := probeServer(t, serverOpts{}, func(c string) string { return c + "auth_verbose = yes\n" }, "", false)
	ids := func(s *server) []string {
		r, _, _ := runProbe(t, nil, append([]string{"--source", "127.0.0.2", "--ca", caFile}, s.probeURLs()...)...)
		var out []string
		for _, f := range r.Findings {
			if strings.Contains(strings.ToLower(f.Title+f.Fix), "verbose") {
				t.Errorf("finding claims to see auth logging: %s", f.Title)
			}
			out = append(out, f.Severity.String()+" "+f.ID)
		}
		slices.Sort(out)
		return out
	}
	if a, b := ids(base), ids(verbose); !slices.Equal(a, b) {
		t.Errorf("auth_verbose changed the findings:\ndefault: %v\nverbose: %v", a, b)
	}
}

// TestProbeTLSVersions: ssl_min_protocol = TLSv1.3 accepts only 1.3;
// TLSv1 accepts 1.0 to 1.3 and gets medium findings for 1.0 and 1.1.
func TestProbeTLSVersions(t *testing.T) {
	t.Parallel()
	if refServer {
		t.Skip("roost configuration test")
	}
	for _, tc := range []struct {
		min      string
		accepted []string
		want     []string
		notWant  []string
	}{
		{"TLSv1.3", []string{"TLS 1.3"}, nil, []string{"tls-old-10", "tls-old-11", "no-tls13"}},
		{"TLSv1", []string{"TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"}, []string{"tls-old-10", "tls-old-11"}, []string{"no-tls13"}},
	} {
		t.Run(tc.min, func(t *testing.T) {
			t.Parallel()
			s := probeServer(t, serverOpts{}, func(c string) string { return c + "ssl_min_protocol = " + tc.min + "\n" }, "", false)
			urls := []string{fmt.Sprintf("imaps://127.0.0.1:%d", s.imapsPort), fmt.Sprintf("pop3://127.0.0.1:%d", s.pop3Port)}
			r, _, _ := runProbe(t, nil, append([]string{"--source", "127.0.0.2", "--ca", caFile}, urls...)...)
			for _, u := range urls {
				sv := service(t, r, u)
				if got := acceptedVersions(sv); !slices.Equal(got, tc.accepted) {
					t.Errorf("%s: accepted %v, want %v", u, got, tc.accepted)
				}
				for _, v := range sv.TLS.Versions {
					if v.Accepted && v.Cipher == "" {
						t.Errorf("%s: %s accepted without a cipher", u, v.Version)
					}
				}
				wantFindings(t, r, u, tc.want, tc.notWant)
				for _, f := range r.Findings {
					if f.Service == u && strings.HasPrefix(f.ID, "tls-old") && (f.Severity != probe.Medium || !strings.Contains(f.Fix, "ssl_min_protocol = TLSv1.2")) {
						t.Errorf("%s: %+v, want medium with fix ssl_min_protocol = TLSv1.2", u, f)
					}
				}
			}
		})
	}
}

// TestProbeDovecot: the reference server from Debian. Its greeting names
// the product; its defaults refuse cleartext logins from another address.
// No --user here: Dovecot's auth penalty (up to 15 s per failed login from
// one IP) makes the enumeration check's six failed logins take minutes.
func TestProbeDovecot(t *testing.T) {
	t.Parallel()
	requireTool(t, dovecotBin, "dovecot-imapd and dovecot-pop3d")
	s := probeServer(t, serverOpts{dovecot: true}, nil, "", false)
	urls := s.probeURLs()
	r, code, _ := runProbe(t, nil, append([]string{"--source", "127.0.0.2", "--ca", caFile, "--fail-on", "medium"}, urls...)...)
	if code != 0 {
		t.Errorf("exit %d with --fail-on medium, want 0", code)
	}
	for _, u := range urls {
		sv := service(t, r, u)
		if !slices.Contains(sv.Banner.Products, "Dovecot") {
			t.Errorf("%s: greeting %q: products %v, want Dovecot", u, sv.Greeting, sv.Banner.Products)
		}
		wantFindings(t, r, u, []string{"greeting-product"}, []string{"cleartext-login", "no-tls", "tls-old-10", "tls-old-11",
			"cert-untrusted", "anonymous-login", "greeting-version", "caps-unchanged-after-tls", "starttls-after-tls"})
		for _, f := range r.Findings {
			if f.Service == u && f.ID == "greeting-product" && !strings.Contains(f.Title, "Dovecot") {
				t.Errorf("%s: %s, want it to name Dovecot", u, f.Title)
			}
		}
		if got := acceptedVersions(sv); !slices.Equal(got, []string{"TLS 1.2", "TLS 1.3"}) {
			t.Errorf("%s: TLS versions %v, want 1.2 and 1.3 (ssl_min_protocol = TLSv1.2)", u, got)
		}
	}
	imap, pop3 := service(t, r, urls[0]), service(t, r, urls[1])
	if c := imap.Cleartext; !c.LoginDisabled || c.Processed {
		t.Errorf("Dovecot IMAP from 127.0.0.2: %+v, want LOGINDISABLED and the login refused", c)
	}
	if c := pop3.Cleartext; c.User || c.Processed {
		t.Errorf("Dovecot POP3 from 127.0.0.2: %+v, want no USER and the login refused", c)
	}
	if !slices.Contains(imap.CapabilitiesTLS, "AUTH=PLAIN") || slices.Contains(imap.CapabilitiesTLS, "STARTTLS") {
		t.Errorf("Dovecot capabilities after STARTTLS: %v", imap.CapabilitiesTLS)
	}
}
