package tlsutil

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// curveNames maps the group names of OpenSSL (what Dovecot's
// ssl_curve_list takes, colon-separated) and Go's own names to the groups
// Go's TLS implements.
var curveNames = map[string]tls.CurveID{
	"x25519mlkem768":     tls.X25519MLKEM768,
	"secp256r1mlkem768":  tls.SecP256r1MLKEM768,
	"secp384r1mlkem1024": tls.SecP384r1MLKEM1024,
	"x25519":             tls.X25519,
	"prime256v1":         tls.CurveP256,
	"secp256r1":          tls.CurveP256,
	"p-256":              tls.CurveP256,
	"secp384r1":          tls.CurveP384,
	"p-384":              tls.CurveP384,
	"secp521r1":          tls.CurveP521,
	"p-521":              tls.CurveP521,
}

// ParseCurveList parses an ssl_curve_list value: group names separated by
// ':' (OpenSSL's syntax; ',' and spaces are accepted too), case-insensitive.
// An empty list means Go's default (nil): X25519MLKEM768, SecP256r1MLKEM768,
// SecP384r1MLKEM1024, X25519, P-256, P-384, P-521 as of Go 1.26. Go chooses
// among the listed groups by its own preference order (post-quantum hybrids
// first), not by the order given. An unknown name is an error (a group the
// administrator relies on must not silently vanish).
func ParseCurveList(list string) ([]tls.CurveID, error) {
	var out []tls.CurveID
	for _, n := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' }) {
		id, ok := curveNames[strings.ToLower(n)]
		if !ok {
			return nil, fmt.Errorf("unknown or unsupported group %q (known: X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, prime256v1, secp384r1, secp521r1)", n)
		}
		if !containsCurve(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func containsCurve(l []tls.CurveID, id tls.CurveID) bool {
	for _, c := range l {
		if c == id {
			return true
		}
	}
	return false
}

// FormatCurveList is the inverse of ParseCurveList (OpenSSL's names).
func FormatCurveList(ids []tls.CurveID) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		switch id {
		case tls.CurveP256:
			names[i] = "prime256v1"
		case tls.CurveP384:
			names[i] = "secp384r1"
		case tls.CurveP521:
			names[i] = "secp521r1"
		default:
			names[i] = id.String()
		}
	}
	return strings.Join(names, ":")
}

// ParseCipherList parses an ssl_cipher_list value given as OpenSSL cipher
// suite names separated by ':' (',' and spaces accepted), such as
// Mozilla's "intermediate" list, into the TLS 1.2 suites Go offers. TLS 1.3
// suites are not configurable in Go and always on. Names of suites Go does
// not implement (DHE-*, CCM, ...) are skipped: they could never be
// negotiated. Names of suites Go implements but considers insecure (RSA key
// exchange, CBC with SHA-256, RC4, 3DES) are an error, as are OpenSSL's
// cipher expressions (ALL, HIGH, !aNULL, @STRENGTH ...), whose meaning does
// not carry over to Go's fixed set, and a list that leaves no suite. An
// empty value means Go's default (nil): ECDHE with AES-GCM or
// ChaCha20-Poly1305, then ECDHE with AES-CBC-SHA.
func ParseCipherList(list string) ([]uint16, error) {
	toks := strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
	if len(toks) == 0 {
		return nil, nil
	}
	secure, insecure := map[string]uint16{}, map[string]bool{}
	for _, cs := range tls.CipherSuites() {
		secure[opensslName(cs.Name)] = cs.ID
	}
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[opensslName(cs.Name)] = true
	}
	var out []uint16
	for _, t := range toks {
		switch {
		case strings.ContainsAny(t, "!+@=") || t == strings.ToUpper(t) && !strings.Contains(t, "-"):
			return nil, fmt.Errorf("%q: OpenSSL cipher expressions are not supported; list suite names (such as ECDHE-ECDSA-AES128-GCM-SHA256) or leave ssl_cipher_list unset for Go's secure default", t)
		case insecure[t]:
			return nil, fmt.Errorf("%q is an insecure cipher suite (no forward secrecy or a weak cipher)", t)
		}
		if id, ok := secure[t]; ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cipher suite of %q is implemented (Go offers ECDHE with AES-GCM, ChaCha20-Poly1305 or AES-CBC-SHA)", list)
	}
	return out, nil
}

// opensslName converts a Go (IANA) TLS 1.2 cipher suite name to OpenSSL's
// name: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 -> ECDHE-RSA-AES128-GCM-SHA256,
// TLS_RSA_WITH_AES_128_CBC_SHA -> AES128-SHA.
func opensslName(iana string) string {
	n := strings.TrimPrefix(iana, "TLS_")
	kx, enc, ok := strings.Cut(n, "_WITH_")
	if !ok {
		return n
	}
	enc = strings.NewReplacer("AES_128_", "AES128_", "AES_256_", "AES256_", "3DES_EDE_CBC", "DES-CBC3", "RC4_128", "RC4",
		"CHACHA20_POLY1305_SHA256", "CHACHA20_POLY1305").Replace(enc)
	enc = strings.Replace(enc, "CBC_", "", 1)
	enc = strings.ReplaceAll(enc, "_", "-")
	if kx == "RSA" {
		return enc
	}
	return strings.ReplaceAll(kx, "_", "-") + "-" + enc
}

// FormatCipherList is the inverse of ParseCipherList (OpenSSL's names).
func FormatCipherList(ids []uint16) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = opensslName(tls.CipherSuiteName(id))
	}
	return strings.Join(names, ":")
}
