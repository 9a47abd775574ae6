package password

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/go-crypt/crypt/algorithm/md5crypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/md4" //nolint:staticcheck // PLAIN-MD4 is a legacy Dovecot scheme.
)

// Dovecot 2.3 defaults.
const (
	bcryptCost     = 5    // BLF-CRYPT / CRYPT: "$2y$05$"
	shaCryptRounds = 5000 // SHA*-CRYPT: rounds omitted from the string
	pbkdf2Rounds   = 5000
	scramIter      = 4096
	saltedLen      = 4 // SSHA, SSHA256, SSHA512, SMD5 salt bytes
	cryptSaltChars = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	bcryptMaxInput = 72
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

func randomSalt(n int) string {
	b := randomBytes(n)
	for i := range b {
		b[i] = cryptSaltChars[int(b[i])%len(cryptSaltChars)] // 256 % 64 == 0: unbiased
	}
	return string(b)
}

// --- crypt(3) family -------------------------------------------------------

func bcryptGenerate(password string) ([]byte, error) {
	p := []byte(password)
	if len(p) > bcryptMaxInput {
		p = p[:bcryptMaxInput] // crypt(3) ignores the rest; x/crypto refuses it
	}
	h, err := bcrypt.GenerateFromPassword(p, bcryptCost)
	if err != nil {
		return nil, err
	}
	// x/crypto writes $2a$; its algorithm is the same as $2y$/$2b$ (no
	// sign-extension bug), and Dovecot prints $2y$.
	if !bytes.HasPrefix(h, []byte("$2a$")) {
		return nil, fmt.Errorf("unexpected bcrypt prefix %q", h[:4])
	}
	h[2] = 'y'
	return h, nil
}

func md5CryptGenerate(password string) ([]byte, error) {
	h, err := md5crypt.New(md5crypt.WithVariant(md5crypt.VariantStandard), md5crypt.WithSaltLength(8))
	if err != nil {
		return nil, err
	}
	d, err := h.Hash(password)
	if err != nil {
		return nil, err
	}
	return []byte(d.Encode()), nil
}

func sha256CryptGenerate(password string) ([]byte, error) {
	return shaCrypt(password, shacrypt.WithSHA256())
}

func sha512CryptGenerate(password string) ([]byte, error) {
	return shaCrypt(password, shacrypt.WithSHA512())
}

func shaCrypt(password string, variant shacrypt.Opt) ([]byte, error) {
	h, err := shacrypt.New(variant, shacrypt.WithIterations(shaCryptRounds), shacrypt.WithSaltLength(16))
	if err != nil {
		return nil, err
	}
	d, err := h.Hash(password)
	if err != nil {
		return nil, err
	}
	return []byte(d.Encode()), nil
}

// cryptVerify is crypt(3): the stored string names its own algorithm, so
// {SHA512-CRYPT}$1$... verifies as MD5-crypt, exactly as in Dovecot.
// Supported: $1$, $5$, $6$, $2a$/$2b$/$2y$. Not supported: traditional DES,
// yescrypt ($y$), scrypt ($7$).
func cryptVerify(password string, raw []byte) (bool, error) {
	s := string(raw)
	switch {
	case len(s) == 0:
		return false, nil // crypt("") would "match"; Dovecot refuses too
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		p := []byte(password)
		if len(p) > bcryptMaxInput {
			p = p[:bcryptMaxInput]
		}
		err := bcrypt.CompareHashAndPassword(raw, p)
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	case strings.HasPrefix(s, "$1$"):
		d, err := md5crypt.Decode(s)
		if err != nil {
			return false, err
		}
		return d.MatchAdvanced(password)
	case strings.HasPrefix(s, "$5$"), strings.HasPrefix(s, "$6$"):
		d, err := shacrypt.Decode(s)
		if err != nil {
			return false, err
		}
		return d.MatchAdvanced(password)
	}
	prefix := s
	if len(prefix) > 3 {
		prefix = prefix[:3]
	}
	return false, fmt.Errorf("unsupported crypt format %q...", prefix)
}

// md5Verify is Dovecot's MD5 scheme: MD5-CRYPT if it starts with $1$,
// otherwise a PLAIN-MD5 digest (hex or base64).
func md5Verify(password string, raw []byte) (bool, error) {
	if bytes.HasPrefix(raw, []byte("$1$")) {
		return cryptVerify(password, raw)
	}
	// Decode as PLAIN-MD5 would: 32 characters are hex, else base64.
	var want []byte
	var err error
	if len(raw) == 2*md5.Size {
		want, err = hex.DecodeString(string(raw))
	}
	if want == nil {
		want, err = decodeBase64(string(raw))
	}
	if err != nil || len(want) != md5.Size {
		return false, errors.New("not a valid MD5-CRYPT or PLAIN-MD5 password")
	}
	return subtle.ConstantTimeCompare(digest(md5.New, []byte(password)), want) == 1, nil
}

// --- Argon2 (Dovecot uses libsodium's crypto_pwhash_str) ----------------------

func argon2iGenerate(password string) ([]byte, error) {
	return argon2Encode("argon2i", password, randomBytes(16), 4, 32768, 1), nil
}

func argon2idGenerate(password string) ([]byte, error) {
	return argon2Encode("argon2id", password, randomBytes(16), 3, 65536, 1), nil
}

func argon2Key(variant, password string, salt []byte, t, m uint32, p uint8, keyLen uint32) []byte {
	if variant == "argon2i" {
		return argon2.Key([]byte(password), salt, t, m, p, keyLen)
	}
	return argon2.IDKey([]byte(password), salt, t, m, p, keyLen)
}

func argon2Encode(variant, password string, salt []byte, t, m uint32, p uint8) []byte {
	key := argon2Key(variant, password, salt, t, m, p, 32)
	return fmt.Appendf(nil, "$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", variant, argon2.Version, m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Limits on parameters read from a stored hash, so that a bad users file
// cannot make one login allocate gigabytes or spin for minutes.
const (
	argon2MaxMemKiB = 4 << 20 // 4 GiB
	argon2MaxTime   = 1 << 10
	argon2MaxKeyLen = 1 << 10
)

// argon2Verify parses "$argon2{i,id}$v=19$m=M,t=T,p=P$salt$hash". As with
// libsodium, the string's own variant decides, whatever the {SCHEME} says.
func argon2Verify(password string, raw []byte) (bool, error) {
	f := strings.Split(string(raw), "$")
	if len(f) != 6 || f[0] != "" {
		return false, errors.New("malformed argon2 hash")
	}
	variant := f[1]
	if variant != "argon2i" && variant != "argon2id" {
		return false, fmt.Errorf("unsupported argon2 variant %q", variant)
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, fmt.Errorf("unsupported argon2 version %q", f[2])
	}
	var m, t, p uint64
	for kv := range strings.SplitSeq(f[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return false, fmt.Errorf("bad argon2 parameter %q", kv)
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			p = n
		default:
			return false, fmt.Errorf("unknown argon2 parameter %q", kv)
		}
	}
	if m == 0 || m > argon2MaxMemKiB || t == 0 || t > argon2MaxTime || p == 0 || p > 255 {
		return false, fmt.Errorf("argon2 parameters out of range (m=%d,t=%d,p=%d)", m, t, p)
	}
	salt, err := base64.RawStdEncoding.DecodeString(f[4])
	if err != nil {
		return false, errors.New("bad argon2 salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(f[5])
	if err != nil || len(want) == 0 || len(want) > argon2MaxKeyLen {
		return false, errors.New("bad argon2 hash")
	}
	got := argon2Key(variant, password, salt, uint32(t), uint32(m), uint8(p), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// --- plain digests -----------------------------------------------------------

func digest(h func() hash.Hash, parts ...[]byte) []byte {
	d := h()
	for _, p := range parts {
		d.Write(p)
	}
	return d.Sum(nil)
}

func sha1Generate(pw string) ([]byte, error)   { return digest(sha1.New, []byte(pw)), nil }
func sha256Generate(pw string) ([]byte, error) { return digest(sha256.New, []byte(pw)), nil }
func sha512Generate(pw string) ([]byte, error) { return digest(sha512.New, []byte(pw)), nil }
func md5Generate(pw string) ([]byte, error)    { return digest(md5.New, []byte(pw)), nil }
func md4Generate(pw string) ([]byte, error)    { return digest(md4.New, []byte(pw)), nil }

// --- salted digests: raw = H(password || salt) || salt --------------------

func saltedGenerate(h func() hash.Hash, pw string) []byte {
	salt := randomBytes(saltedLen)
	return append(digest(h, []byte(pw), salt), salt...)
}

func saltedVerify(h func() hash.Hash, pw string, raw []byte) (bool, error) {
	n := h().Size()
	if len(raw) <= n {
		return false, errors.New("salted hash too short")
	}
	got := digest(h, []byte(pw), raw[n:])
	return subtle.ConstantTimeCompare(got, raw[:n]) == 1, nil
}

func smd5Generate(pw string) ([]byte, error)    { return saltedGenerate(md5.New, pw), nil }
func sshaGenerate(pw string) ([]byte, error)    { return saltedGenerate(sha1.New, pw), nil }
func ssha256Generate(pw string) ([]byte, error) { return saltedGenerate(sha256.New, pw), nil }
func ssha512Generate(pw string) ([]byte, error) { return saltedGenerate(sha512.New, pw), nil }

func smd5Verify(pw string, raw []byte) (bool, error)    { return saltedVerify(md5.New, pw, raw) }
func sshaVerify(pw string, raw []byte) (bool, error)    { return saltedVerify(sha1.New, pw, raw) }
func ssha256Verify(pw string, raw []byte) (bool, error) { return saltedVerify(sha256.New, pw, raw) }
func ssha512Verify(pw string, raw []byte) (bool, error) { return saltedVerify(sha512.New, pw, raw) }

// --- CRAM-MD5 / HMAC-MD5 -----------------------------------------------------

// cramMD5Generate returns Dovecot's CRAM-MD5 "context": the MD5 chaining
// state (A, B, C, D as little-endian words) after the HMAC outer pad block,
// then after the inner pad block (hmac_md5_get_cram_context). With it a
// server can answer CRAM-MD5 without the plaintext.
func cramMD5Generate(pw string) ([]byte, error) {
	key := []byte(pw)
	if len(key) > md5.BlockSize {
		key = digest(md5.New, key)
	}
	var ipad, opad [md5.BlockSize]byte
	copy(ipad[:], key)
	copy(opad[:], key)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	out := make([]byte, 0, 32)
	for _, pad := range [][]byte{opad[:], ipad[:]} {
		state, err := md5State(pad)
		if err != nil {
			return nil, err
		}
		for _, w := range state {
			out = binary.LittleEndian.AppendUint32(out, w)
		}
	}
	return out, nil
}

// md5State returns MD5's chaining words after processing exactly one block.
// crypto/md5 exposes its state only through MarshalBinary: "md5\x01", then
// the four words big-endian, the pending block and the length.
func md5State(block []byte) ([4]uint32, error) {
	h := md5.New()
	h.Write(block)
	m, ok := h.(interface{ MarshalBinary() ([]byte, error) })
	if !ok {
		return [4]uint32{}, errors.New("md5 state not marshalable")
	}
	b, err := m.MarshalBinary()
	if err != nil || len(b) < 20 || string(b[:4]) != "md5\x01" {
		return [4]uint32{}, errors.New("unexpected md5 state encoding")
	}
	var s [4]uint32
	for i := range s {
		s[i] = binary.BigEndian.Uint32(b[4+4*i:])
	}
	return s, nil
}

// --- PBKDF2: "$1$salt$rounds$hex(PBKDF2-HMAC-SHA1(pw, salt, rounds, 20))" --

const pbkdf2MaxRounds = 1 << 24

func pbkdf2Generate(pw string) ([]byte, error) {
	salt := randomSalt(16)
	key, err := pbkdf2.Key(sha1.New, pw, []byte(salt), pbkdf2Rounds, sha1.Size)
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "$1$%s$%d$%s", salt, pbkdf2Rounds, hex.EncodeToString(key)), nil
}

func pbkdf2Verify(pw string, raw []byte) (bool, error) {
	f := strings.Split(string(raw), "$")
	if len(f) != 5 || f[0] != "" || f[1] != "1" {
		return false, errors.New("malformed PBKDF2 hash")
	}
	rounds, err := strconv.Atoi(f[3])
	if err != nil || rounds < 1 || rounds > pbkdf2MaxRounds {
		return false, errors.New("bad PBKDF2 rounds")
	}
	want, err := hex.DecodeString(f[4])
	if err != nil || len(want) != sha1.Size {
		return false, errors.New("bad PBKDF2 key")
	}
	got, err := pbkdf2.Key(sha1.New, pw, []byte(f[2]), rounds, sha1.Size)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// --- SCRAM: "iter,b64(salt),b64(StoredKey),b64(ServerKey)" (RFC 5802) -----

const scramMaxIter = 1 << 24

func scramKeys(h func() hash.Hash, pw string, salt []byte, iter int) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(h, pw, salt, iter, h().Size())
	if err != nil {
		return nil, nil, err
	}
	mac := func(msg string) []byte {
		m := hmac.New(h, salted)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	return digest(h, mac("Client Key")), mac("Server Key"), nil
}

func scramGenerate(h func() hash.Hash, pw string) ([]byte, error) {
	salt := randomBytes(16)
	stored, server, err := scramKeys(h, pw, salt, scramIter)
	if err != nil {
		return nil, err
	}
	b := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, "%d,%s,%s,%s", scramIter, b(salt), b(stored), b(server)), nil
}

func scramVerify(h func() hash.Hash, pw string, raw []byte) (bool, error) {
	f := strings.Split(string(raw), ",")
	if len(f) != 4 {
		return false, errors.New("malformed SCRAM hash")
	}
	iter, err := strconv.Atoi(f[0])
	if err != nil || iter < 1 || iter > scramMaxIter {
		return false, errors.New("bad SCRAM iteration count")
	}
	var dec [3][]byte
	for i := range dec {
		if dec[i], err = base64.StdEncoding.DecodeString(f[i+1]); err != nil {
			return false, errors.New("bad SCRAM base64")
		}
	}
	stored, server, err := scramKeys(h, pw, dec[0], iter)
	if err != nil {
		return false, err
	}
	ok := subtle.ConstantTimeCompare(stored, dec[1]) & subtle.ConstantTimeCompare(server, dec[2])
	return ok == 1, nil
}

func scramSHA1Generate(pw string) ([]byte, error)   { return scramGenerate(sha1.New, pw) }
func scramSHA256Generate(pw string) ([]byte, error) { return scramGenerate(sha256.New, pw) }
func scramSHA1Verify(pw string, raw []byte) (bool, error) {
	return scramVerify(sha1.New, pw, raw)
}
func scramSHA256Verify(pw string, raw []byte) (bool, error) {
	return scramVerify(sha256.New, pw, raw)
}
