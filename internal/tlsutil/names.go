package tlsutil

import (
	"crypto/tls"
	"fmt"
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
