package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// Globals set once by TestMain and read-only afterwards.
var (
	roostBin  string // path of the built binary (roost mode)
	refServer bool   // ROOST_E2E_SERVER=dovecot
	shared    string // directory shared by all tests: CA and server certificate
	caFile    string // PEM of the CA that signed the server certificate
	certFile  string // server certificate (SAN localhost, 127.0.0.1)
	keyFile   string
)

const (
	dovecotBin = "/usr/sbin/dovecot"
	dovecotLDA = "/usr/lib/dovecot/dovecot-lda"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	shared, err = os.MkdirTemp("", "roost-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(shared)
	// The private PostgreSQL cluster of the multi-node and SQL tests, if
	// one was started (pgtest): stopped at the end. The first Stop, before
	// any cluster exists, only tells pgtest that cleanup is arranged.
	pgtest.Stop()
	defer pgtest.Stop()
	if err := writeCerts(shared); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: certificates:", err)
		return 1
	}
	switch v := os.Getenv("ROOST_E2E_SERVER"); v {
	case "", "roost":
		roostBin = filepath.Join(shared, "roost")
		if err := buildRoost(roostBin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building roost:", err)
			return 1
		}
	case "dovecot":
		refServer = true
	default:
		fmt.Fprintf(os.Stderr, "e2e: ROOST_E2E_SERVER=%q: want roost or dovecot\n", v)
		return 1
	}
	return m.Run()
}

// buildRoost builds ./cmd/roost of the enclosing module (without -race: the
// binary is the product under test, not the test).
func buildRoost(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.Command("go", "build", "-o", out, "./cmd/roost")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, b)
	}
	return nil
}

// writeCerts writes a CA and a server certificate signed by it for
// localhost and 127.0.0.1. A separate CA (rather than one self-signed leaf)
// keeps every client's verifier happy, including strict X.509 modes.
func writeCerts(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "roost e2e test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	caFile = filepath.Join(dir, "ca.pem")
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other freePort call of this test binary has returned. Ports come
// from a counter below the kernel's ephemeral range (32768 and up on Linux),
// so they cannot collide with each other (two ":0" listeners closed at once
// may be handed the same number) nor with the ephemeral ports of outgoing
// connections and of other packages' tests.
func freePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 2000 {
		portNext++
		if portNext >= 32000 {
			portNext = portBase
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", portNext))
		if err != nil {
			continue // taken by something else on this machine
		}
		ln.Close()
		return portNext
	}
	t.Fatal("freePort: no free port in the test range")
	return 0
}

// The e2e port range starts at a per-process offset, so two e2e binaries
// running at once (a developer's and CI's) rarely probe the same ports.
const portBase = 20000

var (
	portMu   sync.Mutex
	portNext = portBase + (os.Getpid()%40)*250
)

// Users every server knows. alice has a PLAIN password in the passwd-file;
// bob's is a SHA512-CRYPT hash, as `doveadm pw` would write it.
const (
	alicePass = "secret"
	bobPass   = "b0b-pässword"
)

// bobHash is `doveadm pw -s SHA512-CRYPT -p 'b0b-pässword'`.
const bobHash = "{SHA512-CRYPT}$6$F.GpTes.ypWW/9zu$.LoPxxEIR5pMu1GQDyjzMGnVJhz86EqS.6bxWWSq.ycFhzTSPY2po7FjhR8zEHXdAhUzZXD9XihfSEsZ9bYr11"

type serverOpts struct {
	// plaintextAuth sets disable_plaintext_auth = no (default: yes).
	plaintextAuth bool
	// imap adds IMAP (imap and imaps listeners) to POP3; see imapPort.
	imap bool
	// dovecot starts the reference server whatever ROOST_E2E_SERVER says
	// (for differential tests).
	dovecot bool
	// internalUser sets default_internal_user, the user roost switches to
	// when started as root. Default: root, so that files the tests write
	// as root (users file, roost deliver) stay usable by the server.
	internalUser string
}

// server is one roost (or Dovecot) process with its own directory.
type server struct {
	t         *testing.T
	dir       string
	cfg       string
	users     string
	pop3Port  int
	pop3sPort int
	imapPort  int // 0 unless serverOpts.imap
	imapsPort int
	ref       bool // Dovecot, not roost

	mu      sync.Mutex
	stderr  bytes.Buffer // all runs, separated by markers
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has exited
	waitErr error
	runs    int
}

// lockedWriter lets the process's stderr copier and dump share s.stderr.
type lockedWriter struct{ s *server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.stderr.Write(p)
}

// writeUsers writes the passwd-file of the test users (alice with a
// {PLAIN} password, bob with a hash) to s.users.
func (s *server) writeUsers() {
	s.t.Helper()
	users := "alice:{PLAIN}" + alicePass + "\n" + "bob:" + bobHash + "\n"
	if err := os.WriteFile(s.users, []byte(users), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// stopAtEnd stops the server with SIGTERM when the test ends, unless the
// test stopped it already, and logs its stderr (after logPrefix, such as
// its config) when the test failed or ROOST_E2E_LOG is set; name says
// what it was ("server", "node").
func (s *server) stopAtEnd(name, logPrefix string) {
	t := s.t
	t.Cleanup(func() {
		s.mu.Lock()
		running := s.cmd != nil
		s.mu.Unlock()
		if running {
			s.stop()
		}
		if t.Failed() || os.Getenv("ROOST_E2E_LOG") != "" {
			s.mu.Lock()
			t.Logf("%s%s stderr (%s):\n%s", logPrefix, name, s.dir, s.stderr.String())
			s.mu.Unlock()
		}
	})
}

// startServer writes a config into a new temp directory and starts a server
// on it. Cleanup stops it with SIGTERM and asserts a clean exit; on failure
// the server's stderr is logged.
func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), pop3Port: freePort(t), pop3sPort: freePort(t), ref: refServer || o.dovecot}
	if o.imap {
		s.imapPort, s.imapsPort = freePort(t), freePort(t)
	}
	if s.ref {
		// Dovecot's mail processes run as the dovecot user (it refuses
		// uid 0 for delivery) and need to reach the directory.
		for _, d := range []string{filepath.Dir(s.dir), s.dir} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	if o.internalUser != "" {
		// The user roost switches to must reach the mail directory inside.
		for _, d := range []string{filepath.Dir(s.dir), s.dir} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.cfg = filepath.Join(s.dir, "roost.conf")
	s.users = filepath.Join(s.dir, "users")
	s.writeUsers()
	if err := os.WriteFile(s.cfg, []byte(s.config(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.stopAtEnd("server", "")
	// A port picked by freePort may be taken before the server binds it
	// (by another test's client, say): then try new ports.
	for attempt := 1; ; attempt++ {
		err := s.tryStart()
		if err == nil {
			return s
		}
		s.mu.Lock()
		inUse := strings.Contains(s.stderr.String(), "address already in use")
		s.mu.Unlock()
		if !errors.Is(err, errEarlyExit) || !inUse || attempt == 3 {
			t.Fatal(err)
		}
		s.pop3Port, s.pop3sPort = freePort(t), freePort(t)
		if o.imap {
			s.imapPort, s.imapsPort = freePort(t), freePort(t)
		}
		if err := os.WriteFile(s.cfg, []byte(s.config(o)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *server) config(o serverOpts) string {
	plain := "yes"
	if o.plaintextAuth {
		plain = "no"
	}
	var b strings.Builder
	if o.imap {
		fmt.Fprintf(&b, "protocols = pop3 imap\nlisten = 127.0.0.1\n")
	} else {
		fmt.Fprintf(&b, "protocols = pop3\nlisten = 127.0.0.1\n")
	}
	if s.ref {
		// Only what Dovecot needs to run unprivileged-ish from a temp
		// directory; the POP3-visible settings are the same as roost's.
		fmt.Fprintf(&b, "base_dir = %s/run\nstate_dir = %s/state\nlog_path = /dev/stderr\n", s.dir, s.dir)
		fmt.Fprintf(&b, "mail_location = maildir:%s/mail/%%u\nfirst_valid_uid = 1\n", s.dir)
		fmt.Fprintf(&b, "pop3_uidl_format = %%08Xu%%08Xv\nssl_min_protocol = TLSv1.2\n")

		fmt.Fprintf(&b, "service auth {\n  user = root\n}\nservice auth-worker {\n  user = root\n}\n")
		fmt.Fprintf(&b, "userdb {\n  driver = static\n  args = uid=dovecot gid=dovecot home=%s/home/%%u\n}\n", s.dir)
		if o.imap {
			// Roost's hierarchy separator is "/".
			fmt.Fprintf(&b, "namespace inbox {\n  inbox = yes\n  separator = /\n}\n")
			fmt.Fprintf(&b, "mail_max_userip_connections = 1000\n")
		}
	} else {
		fmt.Fprintf(&b, "mail_location = sqlite:%s/mail\n", s.dir)
		fmt.Fprintf(&b, "default_internal_user = %s\n", cmp.Or(o.internalUser, "root"))
		// Like auth_failure_delay = 0 below: tests (the probe's user
		// enumeration) fail logins from one address on purpose and must
		// not wait for the per-address penalty (docs/SECURITY.md).
		fmt.Fprintf(&b, "auth_penalty = no\n")
	}
	fmt.Fprintf(&b, `ssl = yes
ssl_cert = <%s
ssl_key = <%s
disable_plaintext_auth = %s
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = %s
}
service pop3-login {
  inet_listener pop3 {
    port = %d
  }
  inet_listener pop3s {
    port = %d
    ssl = yes
  }
}
`, certFile, keyFile, plain, s.users, s.pop3Port, s.pop3sPort)
	if o.imap {
		fmt.Fprintf(&b, `service imap-login {
  inet_listener imap {
    port = %d
  }
  inet_listener imaps {
    port = %d
    ssl = yes
  }
}
`, s.imapPort, s.imapsPort)
	}
	return b.String()
}

// start runs the server process and waits until both ports accept.
func (s *server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatal(err)
	}
}

// errEarlyExit is returned by tryStart when the server exits before it
// listens.
var errEarlyExit = errors.New("server exited before listening")

func (s *server) tryStart() error {
	var cmd *exec.Cmd
	if s.ref {
		cmd = exec.Command(dovecotBin, "-F", "-c", s.cfg)
	} else {
		cmd = exec.Command(roostBin, "serve", "-c", s.cfg)
	}
	s.mu.Lock()
	s.runs++
	fmt.Fprintf(&s.stderr, "----- run %d: %s\n", s.runs, strings.Join(cmd.Args, " "))
	s.mu.Unlock()
	cmd.Stdout = lockedWriter{s}
	cmd.Stderr = lockedWriter{s}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited, s.waitErr = cmd, exited, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()

	deadline := time.Now().Add(20 * time.Second)
	ports := []int{s.pop3Port, s.pop3sPort}
	if s.imapPort != 0 {
		ports = append(ports, s.imapPort, s.imapsPort)
	}
	for _, port := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				s.mu.Lock()
				werr := s.waitErr
				s.cmd = nil
				s.mu.Unlock()
				return fmt.Errorf("%w on port %d: %v", errEarlyExit, port, werr)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("server not listening on port %d after 20s", port)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// stop sends SIGTERM and asserts that the server exits with status 0
// within 15 seconds.
func (s *server) stop() {
	s.t.Helper()
	s.stopWith(syscall.SIGTERM)
}

// stopWith is stop with another signal.
func (s *server) stopWith(sig syscall.Signal) {
	t := s.t
	t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		t.Fatal("stop: server not running")
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Errorf("server did not exit within 15s of %v", sig)
	}
	s.mu.Lock()
	err := s.waitErr
	s.cmd = nil
	s.mu.Unlock()
	if err != nil {
		t.Errorf("server did not exit cleanly on %v: %v", sig, err)
	}
}

// kill9 kills the server with SIGKILL, as a crash would.
func (s *server) kill9() {
	t := s.t
	t.Helper()
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		t.Fatal("kill9: server not running")
	}
	_ = cmd.Process.Kill()
	<-exited
	s.mu.Lock()
	s.cmd = nil
	s.mu.Unlock()
}

// restart stops the server cleanly and starts it again on the same data.
func (s *server) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// cli runs the binary with args (a config flag is the caller's business),
// stdin as input, and returns stdout, stderr and the exit code.
func (s *server) cli(stdin []byte, args ...string) (stdout, stderr []byte, code int) {
	s.t.Helper()
	if s.ref {
		s.t.Fatalf("cli %v: roost CLI not available against the reference server", args)
	}
	return runCmd(s.t, stdin, roostBin, args...)
}

// runCmd runs a command to completion (killing it after two minutes); a
// failure to start it is fatal, a non-zero exit is returned as code.
func runCmd(t testing.TB, stdin []byte, name string, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	return runCmdEnv(t, nil, stdin, name, args...)
}

// runCmdEnv is runCmd with extra environment variables ("K=V").
func runCmdEnv(t testing.TB, env []string, stdin []byte, name string, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v\nstderr:\n%s", name, strings.Join(args, " "), err, e.Bytes())
	}
	return o.Bytes(), e.Bytes(), code
}

// deliverCmd returns the command that delivers stdin to user's INBOX.
func (s *server) deliverCmd(ctx context.Context, user string) *exec.Cmd {
	return s.deliverToCmd(ctx, user, "")
}

// deliverToCmd returns the command that delivers stdin to user's mailbox
// ("" for INBOX). Both servers deliver to INBOX if the mailbox does not
// exist (dovecot-lda without lda_mailbox_autocreate).
func (s *server) deliverToCmd(ctx context.Context, user, mailbox string) *exec.Cmd {
	args := []string{"-c", s.cfg, "-d", user}
	if mailbox != "" {
		args = append(args, "-m", mailbox)
	}
	if s.ref {
		return exec.CommandContext(ctx, dovecotLDA, args...)
	}
	return exec.CommandContext(ctx, roostBin, append([]string{"deliver"}, args...)...)
}

// deliverCode delivers msg to user and returns the exit code and stderr.
func (s *server) deliverCode(user string, msg []byte) (int, string) {
	s.t.Helper()
	return s.deliverToCode(user, "", msg)
}

// deliverToCode is deliverCode into mailbox ("" for INBOX).
func (s *server) deliverToCode(user, mailbox string, msg []byte) (int, string) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := s.deliverToCmd(ctx, user, mailbox)
	var e bytes.Buffer
	cmd.Stdin = bytes.NewReader(msg)
	cmd.Stderr = &e
	cmd.Stdout = &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, e.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), e.String()
	default:
		t.Fatalf("deliver: %v\n%s", err, e.Bytes())
		return -1, ""
	}
}

// deliver delivers msg to user and requires exit status 0.
func (s *server) deliver(user string, msg []byte) {
	s.t.Helper()
	if code, out := s.deliverCode(user, msg); code != 0 {
		s.t.Fatalf("deliver to %s (%d bytes): exit %d\n%s", user, len(msg), code, out)
	}
}

// requireTool finds a client program. Missing, it fails the test under CI
// (CI installs every client) and skips it elsewhere, naming the package.
func requireTool(t testing.TB, name, debianPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found (CI must install Debian package %s): %v", name, debianPkg, err)
	}
	t.Skipf("%s not installed; install Debian package %s to run this test", name, debianPkg)
	return ""
}

// deliverTo delivers msg to user's mailbox ("" for INBOX) and requires
// exit status 0.
func (s *server) deliverTo(user, mailbox string, msg []byte) {
	s.t.Helper()
	if code, out := s.deliverToCode(user, mailbox, msg); code != 0 {
		s.t.Fatalf("deliver to %s/%s (%d bytes): exit %d\n%s", user, mailbox, len(msg), code, out)
	}
}
