package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	certPEM, keyPEM, err := SelfSigned([]string{"localhost", "127.0.0.1", "::1", "mail.example.org"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("key pair does not load: %v", err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "mail.example.org"} {
		if err := cert.VerifyHostname(h); err != nil {
			t.Errorf("certificate not valid for %s: %v", h, err)
		}
	}
	if err := cert.VerifyHostname("other.example.org"); err == nil {
		t.Error("certificate valid for a host it does not name")
	}
	if _, _, err := SelfSigned(nil, time.Hour); err == nil {
		t.Error("no hosts accepted")
	}
}
