// Package password implements Dovecot's password schemes: hashes made by
// `doveadm pw` verify here unchanged, and hashes made by Hash verify in
// Dovecot (`doveadm pw -t`).
//
// A stored password is "{SCHEME}encoded" or, without braces, a string in the
// caller's default scheme (CRYPT for passwd-file, as in Dovecot). The scheme
// name is case-insensitive and may carry an encoding suffix, ".HEX", ".B64"
// or ".BASE64", which re-encodes the scheme's raw output; schemes whose
// natural output is binary (SHA, SSHA, CRAM-MD5, ...) are base64 or hex by
// default and, as in Dovecot, Verify guesses between the two when no suffix
// is given.
//
// The decoding and verification rules follow Dovecot 2.3's
// src/auth/password-scheme.c (password_get_scheme, password_decode,
// password_verify). Every comparison of secret-derived bytes is constant
// time.
package password

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnknownScheme is returned (wrapped) for a scheme name this package
// does not implement.
var ErrUnknownScheme = errors.New("unknown password scheme")

// ErrInvalid is returned (wrapped) when a stored password cannot be decoded
// for its scheme. Verify never returns true together with an error.
var ErrInvalid = errors.New("invalid stored password")

// DefaultScheme is the scheme of a stored password without a {SCHEME}
// prefix, as in Dovecot's passwd-file driver.
const DefaultScheme = "CRYPT"

type encoding int

const (
	encNone encoding = iota
	encBase64
	encHex
)

// scheme describes one Dovecot password scheme.
type scheme struct {
	enc encoding // default encoding of the raw output
	// rawLen is the fixed length of the raw output, 0 if variable. Only
	// fixed-length schemes get base64/hex guessing, as in Dovecot.
	rawLen int
	// generate returns the raw (unencoded) stored form of password.
	generate func(password string) ([]byte, error)
	// verify checks password against the raw stored form. Nil means:
	// generate and compare (only valid for unsalted schemes).
	verify func(password string, raw []byte) (bool, error)
}

var schemes = map[string]*scheme{
	"PLAIN":     {enc: encNone, generate: plainGenerate},
	"CLEAR":     {enc: encNone, generate: plainGenerate},
	"CLEARTEXT": {enc: encNone, generate: plainGenerate},

	"CRYPT":        {enc: encNone, generate: bcryptGenerate, verify: cryptVerify},
	"BLF-CRYPT":    {enc: encNone, generate: bcryptGenerate, verify: cryptVerify},
	"MD5-CRYPT":    {enc: encNone, generate: md5CryptGenerate, verify: cryptVerify},
	"SHA256-CRYPT": {enc: encNone, generate: sha256CryptGenerate, verify: cryptVerify},
	"SHA512-CRYPT": {enc: encNone, generate: sha512CryptGenerate, verify: cryptVerify},
	"MD5":          {enc: encNone, generate: md5CryptGenerate, verify: md5Verify},

	"ARGON2I":  {enc: encNone, generate: argon2iGenerate, verify: argon2Verify},
	"ARGON2ID": {enc: encNone, generate: argon2idGenerate, verify: argon2Verify},

	"SHA":       {enc: encBase64, rawLen: 20, generate: sha1Generate},
	"SHA1":      {enc: encBase64, rawLen: 20, generate: sha1Generate},
	"SHA256":    {enc: encBase64, rawLen: 32, generate: sha256Generate},
	"SHA512":    {enc: encBase64, rawLen: 64, generate: sha512Generate},
	"SMD5":      {enc: encBase64, generate: smd5Generate, verify: smd5Verify},
	"SSHA":      {enc: encBase64, generate: sshaGenerate, verify: sshaVerify},
	"SSHA256":   {enc: encBase64, generate: ssha256Generate, verify: ssha256Verify},
	"SSHA512":   {enc: encBase64, generate: ssha512Generate, verify: ssha512Verify},
	"PLAIN-MD4": {enc: encHex, rawLen: 16, generate: md4Generate},
	"PLAIN-MD5": {enc: encHex, rawLen: 16, generate: md5Generate},
	"LDAP-MD5":  {enc: encBase64, rawLen: 16, generate: md5Generate},

	"CRAM-MD5": {enc: encHex, rawLen: 32, generate: cramMD5Generate},
	"HMAC-MD5": {enc: encHex, rawLen: 32, generate: cramMD5Generate},

	"PBKDF2":        {enc: encNone, generate: pbkdf2Generate, verify: pbkdf2Verify},
	"SCRAM-SHA-1":   {enc: encNone, generate: scramSHA1Generate, verify: scramSHA1Verify},
	"SCRAM-SHA-256": {enc: encNone, generate: scramSHA256Generate, verify: scramSHA256Verify},
}

// Schemes returns the implemented scheme names, sorted.
func Schemes() []string {
	out := make([]string, 0, len(schemes))
	for name := range schemes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// lookup splits "NAME[.ENC]" and finds the scheme. explicit reports whether
// an encoding suffix was given.
func lookup(name string) (s *scheme, enc encoding, explicit bool, err error) {
	base, suffix, hasSuffix := strings.Cut(name, ".")
	s = schemes[strings.ToUpper(base)]
	if s == nil {
		return nil, 0, false, fmt.Errorf("%w: %q", ErrUnknownScheme, base)
	}
	if !hasSuffix {
		return s, s.enc, false, nil
	}
	switch strings.ToUpper(suffix) {
	case "B64", "BASE64":
		return s, encBase64, true, nil
	case "HEX":
		return s, encHex, true, nil
	}
	return nil, 0, false, fmt.Errorf("%w: %q (bad encoding suffix)", ErrUnknownScheme, name)
}

// Hash returns password hashed in scheme, as "{SCHEME}encoded" in the form
// `doveadm pw -s SCHEME` prints (scheme name upper-cased). Cost parameters
// are Dovecot 2.3's defaults (BLF-CRYPT cost 5, SHA*-CRYPT 5000 rounds,
// PBKDF2 5000 rounds, SCRAM 4096 iterations, ARGON2I t=4 m=32MiB,
// ARGON2ID t=3 m=64MiB).
func Hash(schemeName, password string) (string, error) {
	s, enc, _, err := lookup(schemeName)
	if err != nil {
		return "", err
	}
	raw, err := s.generate(password)
	if err != nil {
		return "", fmt.Errorf("password: %s: %w", schemeName, err)
	}
	var encoded string
	switch enc {
	case encNone:
		encoded = string(raw)
	case encBase64:
		encoded = base64.StdEncoding.EncodeToString(raw)
	case encHex:
		encoded = hex.EncodeToString(raw)
	}
	return "{" + strings.ToUpper(schemeName) + "}" + encoded, nil
}

// Verify reports whether password matches stored. A stored password without
// a {SCHEME} prefix is taken as CRYPT (Dovecot's passwd-file default).
func Verify(stored, password string) (bool, error) {
	return VerifyDefault(stored, password, DefaultScheme)
}

// SplitScheme separates "{SCHEME}rest" into ("SCHEME", "rest"). Without a
// prefix it returns ("", stored), except that a bare "$1$salt$hash" is
// MD5-CRYPT with anything after the hash dropped, as Dovecot does.
func SplitScheme(stored string) (schemeName, rest string) {
	if strings.HasPrefix(stored, "$1$") {
		if i := strings.IndexByte(stored[3:], '$'); i >= 0 {
			end := 3 + i + 1
			if j := strings.IndexByte(stored[end:], '$'); j >= 0 {
				stored = stored[:end+j]
			}
			return "MD5-CRYPT", stored
		}
	}
	if !strings.HasPrefix(stored, "{") {
		return "", stored
	}
	i := strings.IndexByte(stored, '}')
	if i < 0 {
		return "", stored
	}
	return stored[1:i], stored[i+1:]
}

// VerifyDefault is Verify with the scheme used for a stored password that
// has no {SCHEME} prefix (the passdb's "scheme=" option).
func VerifyDefault(stored, password, defaultScheme string) (bool, error) {
	name, rest := SplitScheme(stored)
	if name == "" {
		name = defaultScheme
	}
	s, raw, err := decode(name, rest)
	if err != nil {
		return false, err
	}
	if s.verify != nil {
		ok, err := s.verify(password, raw)
		if err != nil {
			return false, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
		}
		return ok, nil
	}
	gen, err := s.generate(password)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(gen, raw) == 1, nil
}

// decode turns the encoded part of a stored password into the scheme's raw
// bytes (Dovecot's password_decode).
func decode(name, encoded string) (*scheme, []byte, error) {
	s, enc, explicit, err := lookup(name)
	if err != nil {
		return nil, nil, err
	}
	guessed := false
	if enc != encNone && s.rawLen != 0 && !explicit {
		// Dovecot guesses: exactly twice the raw length is hex, else base64.
		guessed = true
		if len(encoded) == 2*s.rawLen {
			enc = encHex
		} else {
			enc = encBase64
		}
	}
	var raw []byte
	switch enc {
	case encNone:
		raw = []byte(encoded)
	case encHex:
		raw, err = hex.DecodeString(encoded)
		if err == nil {
			break
		}
		if !guessed {
			return nil, nil, fmt.Errorf("%w: %s: not valid hex", ErrInvalid, name)
		}
		// Some lengths are valid both ways; try base64 after all.
		fallthrough
	case encBase64:
		raw, err = decodeBase64(encoded)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: not valid base64", ErrInvalid, name)
		}
	}
	if s.rawLen != 0 && len(raw) != s.rawLen {
		return nil, nil, fmt.Errorf("%w: %s: decoded length %d, want %d", ErrInvalid, name, len(raw), s.rawLen)
	}
	return s, raw, nil
}

// decodeBase64 accepts padded and unpadded standard base64.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

func plainGenerate(password string) ([]byte, error) { return []byte(password), nil }

// Supported reports whether scheme (with an optional encoding suffix) is
// implemented.
func Supported(schemeName string) bool {
	_, _, _, err := lookup(schemeName)
	return err == nil
}
