package config

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

// TestSSLCurveList: ssl_curve_list takes OpenSSL's group names (Dovecot
// passes the value to OpenSSL), dumps in that form, and an unknown group
// is an error; unset means Go's default (nil: post-quantum hybrid first).
func TestSSLCurveList(t *testing.T) {
	c, err := Parse("roost.conf", []byte("protocols = imap\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SSLCurveList != nil {
		t.Fatalf("default: %v, want nil (Go's default)", c.SSLCurveList)
	}
	c, err = Parse("roost.conf", []byte("protocols = imap\nssl_curve_list = X25519MLKEM768:x25519:prime256v1:secp384r1:P-256\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}
	if !slices.Equal(c.SSLCurveList, want) {
		t.Fatalf("parsed %v, want %v", c.SSLCurveList, want)
	}
	var b strings.Builder
	c.Dump(&b, true)
	if !strings.Contains(b.String(), "ssl_curve_list = X25519MLKEM768:X25519:prime256v1:secp384r1\n") {
		t.Fatalf("dump -n:\n%s", b.String())
	}
	_, err = Parse("roost.conf", []byte("protocols = imap\nssl_curve_list = X25519:brainpoolP256r1\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `unknown or unsupported group "brainpoolP256r1"`) {
		t.Fatalf("unknown group: %v", err)
	}
	c, err = Parse("roost.conf", []byte("protocols = imap\nssl_prefer_server_ciphers = yes\n"), nil)
	if err != nil || len(c.Ignored) != 1 || c.Ignored[0].Key != "ssl_prefer_server_ciphers" {
		t.Fatalf("ssl_prefer_server_ciphers: %v, ignored %v", err, c.Ignored)
	}
}

// TestSSLCipherList: ssl_cipher_list takes OpenSSL suite names and dumps
// them back; a cipher expression is an error (tlsutil.ParseCipherList).
func TestSSLCipherList(t *testing.T) {
	c, err := Parse("roost.conf", []byte("protocols = imap\nssl_cipher_list = ECDHE-ECDSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
	if !slices.Equal(c.SSLCipherList, want) {
		t.Fatalf("parsed %v, want %v", c.SSLCipherList, want)
	}
	var b strings.Builder
	c.Dump(&b, true)
	if !strings.Contains(b.String(), "ssl_cipher_list = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305\n") {
		t.Fatalf("dump -n:\n%s", b.String())
	}
	if _, err := Parse("roost.conf", []byte("protocols = imap\nssl_cipher_list = HIGH:!aNULL\n"), nil); err == nil {
		t.Fatal("cipher expression accepted")
	}
}
