package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/proxyproto"
)

// TestHAProxy: the real binary behind a load balancer that speaks the
// PROXY protocol (haproxy = yes on the imap and pop3 listeners, the
// balancer at 127.0.0.1). The test plays the balancer: it sends the
// header HAProxy's send-proxy / send-proxy-v2(-ssl) would, then the
// client's session. roost who shows the forwarded client addresses, the
// secure-connection rule follows the header, and a host outside
// haproxy_trusted_networks is disconnected.
func TestHAProxy(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{extra: `base_dir = ` + t.TempDir() + `
haproxy_trusted_networks = 127.0.0.1/32
haproxy_timeout = 2 secs
service imap-login {
  inet_listener imap {
    haproxy = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    haproxy = yes
  }
}
`})
	imapAddr := fmt.Sprintf("127.0.0.1:%d", n.imapPort)
	local := netip.MustParseAddrPort("203.0.113.1:143")

	// 1. HAProxy send-proxy (v1), client 192.0.2.7 over plain TCP:
	// plaintext LOGIN is refused until STARTTLS.
	v1 := proxyClient(t, "127.0.0.1", imapAddr, proxyproto.Header{
		Source: netip.MustParseAddrPort("192.0.2.7:51234"), Destination: local}.AppendV1(nil))
	caps := v1.ok("CAPABILITY")
	if !strings.Contains(caps[0], "LOGINDISABLED") {
		t.Fatalf("forwarded remote client offered plaintext LOGIN: %q", caps)
	}
	if _, done := v1.cmd("LOGIN alice " + alicePass); !strings.HasPrefix(done, "NO") {
		t.Fatalf("LOGIN before STARTTLS: %q", done)
	}
	v1.ok("STARTTLS")
	tc := tls.Client(v1.conn, testTLSConfig(t))
	v1.conn, v1.r = tc, bufio.NewReader(tc)
	v1.login()
	v1.ok("SELECT INBOX")

	// 2. send-proxy-v2-ssl, client 2001:db8::7: the balancer terminated
	// TLS, the SSL TLV says so, and the session counts as secure.
	v2 := proxyClient(t, "127.0.0.1", imapAddr, proxyproto.Header{
		Source: netip.MustParseAddrPort("[2001:db8::7]:40001"), Destination: netip.MustParseAddrPort("[2001:db8::1]:993"),
		TLS: &proxyproto.TLSInfo{Client: true, Version: "TLSv1.3"}}.AppendV2(nil))
	if caps := v2.ok("CAPABILITY"); strings.Contains(caps[0], "LOGINDISABLED") {
		t.Fatalf("TLS terminated by the balancer not counted as secure: %q", caps)
	}
	v2.login()

	// 3. POP3 behind a v2 LOCAL header (the balancer's own connection):
	// the real peer address counts, 127.0.0.1 to 127.0.0.1, but on a
	// HAProxy listener that is not secure (as in Dovecot): USER is
	// refused until STLS.
	pc := proxyDial(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", n.pop3Port))
	pc.Write(proxyproto.Header{Command: proxyproto.Local}.AppendV2(nil))
	var pconn net.Conn = pc
	pr := bufio.NewReader(pconn)
	for _, step := range []struct{ send, want string }{
		{"", "+OK"}, {"USER bob", "-ERR"}, {"STLS", "+OK"}, {"USER bob", "+OK"}, {"PASS " + bobPass, "+OK"},
	} {
		if step.send != "" {
			fmt.Fprintf(pconn, "%s\r\n", step.send)
		}
		line, err := pr.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, step.want) {
			t.Fatalf("POP3 %q: %q, %v", step.send, line, err)
		}
		if step.send == "STLS" {
			pconn = tls.Client(pc, testTLSConfig(t))
			pr = bufio.NewReader(pconn)
		}
	}

	// roost who: the clients as the balancer forwarded them.
	stdout, stderr, code := n.cli(nil, "who", "--json", "-c", n.cfg)
	if code != 0 {
		t.Fatalf("roost who: exit %d: %s", code, stderr)
	}
	var who []admin.Session
	if err := json.Unmarshal(stdout, &who); err != nil {
		t.Fatalf("roost who --json: %v\n%s", err, stdout)
	}
	var got []string
	for _, s := range who {
		got = append(got, fmt.Sprintf("%s %s %s:%d", s.User, s.Protocol, s.Remote, s.Port))
	}
	slices.Sort(got)
	want := []string{"alice imap 192.0.2.7:51234", "alice imap 2001:db8::7:40001"}
	if len(got) != 3 || !slices.Equal(got[:2], want) || !strings.HasPrefix(got[2], "bob pop3 127.0.0.1:") {
		t.Fatalf("roost who:\n%s\nwant %q and bob from 127.0.0.1", strings.Join(got, "\n"), want)
	}
	// The plain table shows them too.
	table, _, _ := n.cli(nil, "who", "-c", n.cfg)
	if !strings.Contains(string(table), "192.0.2.7") || !strings.Contains(string(table), "2001:db8::7") {
		t.Fatalf("roost who:\n%s", table)
	}

	// 4. A host outside haproxy_trusted_networks is disconnected, header
	// or not, without a greeting.
	bad := proxyDial(t, "127.0.0.2", imapAddr)
	bad.Write(proxyproto.Header{Source: netip.MustParseAddrPort("192.0.2.99:1"), Destination: local}.AppendV1(nil))
	bad.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(bad); len(b) != 0 || (err != nil && !strings.Contains(err.Error(), "reset")) {
		t.Fatalf("untrusted peer got %q, %v", b, err)
	}
	// 5. A trusted balancer that forgot send-proxy: closed after
	// haproxy_timeout, never greeted.
	start := time.Now()
	silent := proxyDial(t, "127.0.0.1", imapAddr)
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(silent); len(b) != 0 || err != nil {
		t.Fatalf("silent balancer got %q, %v", b, err)
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("closed after %v, before haproxy_timeout", d)
	}

	// The log names the client and the balancer, and the refusals.
	proxyWaitLog(t, n.server, "haproxy_trusted_networks")
	for _, s := range []string{"remote=192.0.2.7", "proxy=127.0.0.1", "remote=127.0.0.2", "no valid PROXY header"} {
		proxyWaitLog(t, n.server, s)
	}
}

// TestHAProxyReal: Debian's HAProxy in front of the real binary, in the
// three ways a site runs it: plain TCP with send-proxy (v1), TLS
// terminated on HAProxy with send-proxy-v2-ssl, and TLS passed through to
// the imaps listener with send-proxy-v2 and health checks that send a
// PROXY header (check-send-proxy). Clients connect from 127.0.0.7-9,
// HAProxy connects to roost from 127.0.0.1: roost who must show the
// clients' addresses.
func TestHAProxyReal(t *testing.T) {
	t.Parallel()
	haproxyBin := requireTool(t, "haproxy", "haproxy")
	n := startNode(t, nodeOpts{extra: `base_dir = ` + t.TempDir() + `
haproxy_trusted_networks = 127.0.0.1
service imap-login {
  inet_listener imap {
    haproxy = yes
  }
  inet_listener imaps {
    haproxy = yes
  }
}
`})
	dir := t.TempDir()
	// HAProxy wants the certificate and its key in one file.
	var pemBuf bytes.Buffer
	for _, f := range []string{certFile, keyFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pemBuf.Write(b)
	}
	combined := filepath.Join(dir, "haproxy.pem")
	if err := os.WriteFile(combined, pemBuf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	v1Port, sslPort, passPort := freePort(t), freePort(t), freePort(t)
	cfg := fmt.Sprintf(`global
    log stderr format raw local0 info
defaults
    mode tcp
    log global
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend imap_v1
    bind 127.0.0.1:%[1]d
    default_backend imap_v1
backend imap_v1
    server roost 127.0.0.1:%[4]d send-proxy
frontend imaps_terminated
    bind 127.0.0.1:%[2]d ssl crt %[6]s
    default_backend imap_v2ssl
backend imap_v2ssl
    server roost 127.0.0.1:%[4]d send-proxy-v2-ssl
frontend imaps_passthrough
    bind 127.0.0.1:%[3]d
    default_backend imaps_v2
backend imaps_v2
    server roost 127.0.0.1:%[5]d send-proxy-v2 check check-send-proxy inter 300ms
`, v1Port, sslPort, passPort, n.imapPort, n.imapsPort, combined)
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var hlog bytes.Buffer
	var hmu sync.Mutex
	cmd := exec.Command(haproxyBin, "-db", "-f", cfgPath)
	cmd.Stdout = &lockedBuf{mu: &hmu, b: &hlog}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			hmu.Lock()
			t.Logf("haproxy output:\n%s", hlog.String())
			hmu.Unlock()
		}
	})
	for _, p := range []int{v1Port, sslPort, passPort} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy not listening on %d: %v", p, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// send-proxy, plain TCP: the client at 127.0.0.7 is remote to roost,
	// so LOGIN waits for STARTTLS, which works through HAProxy.
	c1 := imapVia(t, "127.0.0.7", v1Port, nil)
	if caps := c1.ok("CAPABILITY"); !strings.Contains(caps[0], "LOGINDISABLED") {
		t.Fatalf("client behind HAProxy treated as local: %q", caps)
	}
	c1.ok("STARTTLS")
	tc := tls.Client(c1.conn, testTLSConfig(t))
	c1.conn, c1.r = tc, bufio.NewReader(tc)
	c1.login()

	// send-proxy-v2-ssl: HAProxy terminated TLS and says so.
	c2 := imapVia(t, "127.0.0.8", sslPort, testTLSConfig(t))
	if caps := c2.ok("CAPABILITY"); strings.Contains(caps[0], "LOGINDISABLED") {
		t.Fatalf("TLS terminated by HAProxy not counted: %q", caps)
	}
	c2.login()

	// send-proxy-v2 with TLS passed through to roost's imaps listener.
	c3 := imapVia(t, "127.0.0.9", passPort, testTLSConfig(t))
	c3.login()
	c3.ok("SELECT INBOX")

	stdout, stderr, code := n.cli(nil, "who", "--json", "-c", n.cfg)
	if code != 0 {
		t.Fatalf("roost who: exit %d: %s", code, stderr)
	}
	var who []admin.Session
	if err := json.Unmarshal(stdout, &who); err != nil {
		t.Fatalf("roost who --json: %v\n%s", err, stdout)
	}
	var got []string
	for _, s := range who {
		got = append(got, s.User+" "+s.Remote)
	}
	slices.Sort(got)
	if want := []string{"alice 127.0.0.7", "alice 127.0.0.8", "alice 127.0.0.9"}; !slices.Equal(got, want) {
		t.Fatalf("roost who through HAProxy: %q, want %q", got, want)
	}
	// HAProxy's health checks to imaps carry a v2 LOCAL header.
	proxyWaitLog(t, n.server, "proxy_command=LOCAL")
}

// imapVia connects from src to HAProxy's port, with TLS when tc is set,
// and returns the IMAP session after its greeting.
func imapVia(t *testing.T, src string, port int, tc *tls.Config) *rawIMAP {
	t.Helper()
	var conn net.Conn = proxyDial(t, src, fmt.Sprintf("127.0.0.1:%d", port))
	if tc != nil {
		conn = tls.Client(conn, tc)
	}
	c := &rawIMAP{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.readLine(10 * time.Second); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting through HAProxy %q", g)
	}
	return c
}

// lockedBuf is an io.Writer for a process's output read while it runs.
type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// proxyClient connects from src to addr as a load balancer would, sends
// header, and returns the IMAP session after its greeting.
func proxyClient(t *testing.T, src, addr string, header []byte) *rawIMAP {
	t.Helper()
	conn := proxyDial(t, src, addr)
	c := &rawIMAP{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.send(string(header))
	if g := c.readLine(10 * time.Second); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	return c
}

// proxyDial opens a TCP connection from the loopback address src.
func proxyDial(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// proxyWaitLog waits up to 10 s for s in the server's stderr.
func proxyWaitLog(t *testing.T, srv *server, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv.mu.Lock()
		log := srv.stderr.String()
		srv.mu.Unlock()
		if strings.Contains(log, s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server log lacks %q", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
