package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/config"
)

// TestTLSCurvesAndResumption: the IMAPS listener negotiates Go's
// post-quantum hybrid X25519MLKEM768 by default and only the groups of
// ssl_curve_list when set; a reconnecting client resumes its session with
// the ticket it was given (RFC 8446 2.2), so it skips the certificate
// signature.
func TestTLSCurvesAndResumption(t *testing.T) {
	for _, c := range []struct {
		setting string
		offer   []tls.CurveID // client's groups
		want    tls.CurveID   // 0: handshake refused
	}{
		{"", nil, tls.X25519MLKEM768},
		{"ssl_curve_list = X25519:prime256v1\n", nil, tls.X25519},
		{"ssl_curve_list = prime256v1\n", []tls.CurveID{tls.X25519MLKEM768, tls.CurveP256}, tls.CurveP256},
		{"ssl_curve_list = prime256v1\n", []tls.CurveID{tls.X25519}, 0},
	} {
		dir := t.TempDir()
		if err := writeSelfSigned(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "users"), []byte("alice:{PLAIN}pw\n"), 0o600)
		conf := fmt.Sprintf("protocols = imap\nlisten = 127.0.0.1\nmail_location = sqlite:%s/mail\n"+
			"ssl_cert = <%s/cert.pem\nssl_key = <%s/key.pem\n%s"+
			"passdb {\n driver = passwd-file\n args = %s/users\n}\n"+
			"service imap-login {\n inet_listener imap {\n port = 0\n }\n inet_listener imaps {\n port = %d\n }\n}\n",
			dir, dir, dir, c.setting, dir, freePort(t))
		cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Start(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		cc := &tls.Config{InsecureSkipVerify: true, CurvePreferences: c.offer, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		dial := func() (tls.ConnectionState, error) {
			conn, err := tls.Dial("tcp", a.Addr("imaps").String(), cc)
			if err != nil {
				return tls.ConnectionState{}, err
			}
			defer conn.Close()
			// The greeting; TLS 1.3 tickets arrive with the first read.
			buf := make([]byte, 512)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Read(buf); err != nil {
				return tls.ConnectionState{}, err
			}
			return conn.ConnectionState(), nil
		}
		st, err := dial()
		switch {
		case c.want == 0 && err == nil:
			t.Errorf("%q: client offering %v connected with %v", c.setting, c.offer, st.CurveID)
		case c.want != 0 && err != nil:
			t.Errorf("%q: %v", c.setting, err)
		case c.want != 0 && st.CurveID != c.want:
			t.Errorf("%q: negotiated %v, want %v", c.setting, st.CurveID, c.want)
		case c.want != 0:
			st, err := dial()
			if err != nil || !st.DidResume {
				t.Errorf("%q: second connection resumed %v (%v), want a resumed session", c.setting, st.DidResume, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.Shutdown(ctx)
		cancel()
	}
}

// TestTLSCipherList: with ssl_cipher_list a TLS 1.2 client gets only the
// listed suites (TLS 1.3 suites are not configurable in Go).
func TestTLSCipherList(t *testing.T) {
	dir := t.TempDir()
	if err := writeSelfSigned(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "users"), []byte("alice:{PLAIN}pw\n"), 0o600)
	conf := fmt.Sprintf("protocols = imap\nlisten = 127.0.0.1\nmail_location = sqlite:%s/mail\n"+
		"ssl_cert = <%s/cert.pem\nssl_key = <%s/key.pem\nssl_cipher_list = ECDHE-ECDSA-CHACHA20-POLY1305\n"+
		"passdb {\n driver = passwd-file\n args = %s/users\n}\n"+
		"service imap-login {\n inet_listener imap {\n port = 0\n }\n inet_listener imaps {\n port = %d\n }\n}\n",
		dir, dir, dir, dir, freePort(t))
	cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.Shutdown(ctx)
		cancel()
	}()
	dial := func(suite uint16) error {
		conn, err := tls.Dial("tcp", a.Addr("imaps").String(), &tls.Config{InsecureSkipVerify: true,
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite}})
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dial(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256); err != nil {
		t.Errorf("listed suite refused: %v", err)
	}
	if err := dial(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256); err == nil {
		t.Error("unlisted suite accepted")
	}
}
