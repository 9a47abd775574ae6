package tlsutil

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

// TestOpenSSLNames checks the IANA -> OpenSSL name conversion against
// OpenSSL's names of every suite Go implements.
func TestOpenSSLNames(t *testing.T) {
	want := map[uint16]string{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          "ECDHE-ECDSA-AES256-SHA",
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256:         "ECDHE-RSA-AES128-SHA256",
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256:               "AES128-GCM-SHA256",
		tls.TLS_RSA_WITH_AES_256_CBC_SHA:                  "AES256-SHA",
		tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA:                 "DES-CBC3-SHA",
		tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA:                "ECDHE-RSA-RC4-SHA",
	}
	for id, w := range want {
		if got := opensslName(tls.CipherSuiteName(id)); got != w {
			t.Errorf("%s: %q, want %q", tls.CipherSuiteName(id), got, w)
		}
	}
}

func TestParseCipherList(t *testing.T) {
	// Mozilla's "intermediate" list: the DHE suites Go lacks are skipped.
	got, err := ParseCipherList("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
		"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256")
	want := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Mozilla intermediate: %v %v", got, err)
	}
	if got, err := ParseCipherList(""); got != nil || err != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	for in, msg := range map[string]string{
		"HIGH:!aNULL":                           "cipher expressions are not supported",
		"ALL":                                   "cipher expressions are not supported",
		"ECDHE-RSA-AES128-GCM-SHA256:@STRENGTH": "cipher expressions are not supported",
		"AES128-GCM-SHA256":                     "insecure",
		"DES-CBC3-SHA":                          "insecure",
		"DHE-RSA-AES128-GCM-SHA256":             "no cipher suite",
	} {
		if _, err := ParseCipherList(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error with %q", in, err, msg)
		}
	}
}
