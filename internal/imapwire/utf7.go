package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 5.1.3; RFC 9051 5.1 keeps it for IMAP4rev1
// clients): printable US-ASCII except "&" represents itself, "&" is "&-",
// everything else is UTF-16 in modified BASE64 (RFC 2152 with "," for "/",
// no padding) between "&" and "-".

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

var b64Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(b64Alphabet); i++ {
		t[b64Alphabet[i]] = int8(i)
	}
	return t
}()

// UTF7Error is returned by DecodeUTF7 for a name that is not valid modified
// UTF-7.
type UTF7Error struct {
	Reason string
}

func (e *UTF7Error) Error() string { return "invalid modified UTF-7 mailbox name: " + e.Reason }

func isPrintableASCII(c rune) bool { return c >= 0x20 && c <= 0x7e }

// EncodeUTF7 encodes a UTF-8 mailbox name in modified UTF-7. Invalid UTF-8
// bytes are encoded as U+FFFD. The result is canonical: DecodeUTF7 accepts
// it and returns s (for valid UTF-8 s without NUL).
func EncodeUTF7(s string) string {
	// Fast path: printable ASCII without "&".
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	var units []uint16
	flush := func() {
		if len(units) == 0 {
			return
		}
		b.WriteByte('&')
		var acc uint32
		var nbits uint
		for _, u := range units {
			acc = acc<<16 | uint32(u)
			nbits += 16
			for nbits >= 6 {
				nbits -= 6
				b.WriteByte(b64Alphabet[(acc>>nbits)&0x3f])
			}
		}
		if nbits > 0 {
			b.WriteByte(b64Alphabet[(acc<<(6-nbits))&0x3f])
		}
		b.WriteByte('-')
		units = units[:0]
	}
	for _, r := range s { // invalid UTF-8 yields utf8.RuneError (U+FFFD)
		if isPrintableASCII(r) {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteByte(byte(r))
			}
			continue
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError || r2 != utf8.RuneError {
			units = append(units, uint16(r1), uint16(r2))
		} else {
			units = append(units, uint16(r))
		}
	}
	flush()
	return b.String()
}

// DecodeUTF7 decodes a modified UTF-7 mailbox name to UTF-8. It is strict:
// it rejects 8-bit and control characters, a bare "&", bad or non-canonical
// BASE64 (non-zero padding bits, a partial UTF-16 unit), an unterminated
// shift, printable US-ASCII that was encoded, NUL, unpaired surrogates,
// empty shifts other than "&-", and two shifts back to back ("&AOQ-&AOQ-",
// which must be one shift). So EncodeUTF7(DecodeUTF7(s)) == s whenever the
// decoding succeeds.
func DecodeUTF7(s string) (string, error) {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	prevShift := false // the previous byte ended a BASE64 shift
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", &UTF7Error{"8-bit or control character"}
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			prevShift = false
			continue
		}
		i++
		if i < len(s) && s[i] == '-' {
			b.WriteByte('&')
			i++
			prevShift = false
			continue
		}
		if prevShift {
			return "", &UTF7Error{"adjacent encoded sequences"}
		}
		start := i
		for i < len(s) && b64Index[s[i]] >= 0 {
			i++
		}
		if i >= len(s) || s[i] != '-' {
			if i >= len(s) {
				return "", &UTF7Error{"unterminated encoded sequence"}
			}
			return "", &UTF7Error{"bad character in encoded sequence"}
		}
		if err := decodeShift(&b, s[start:i]); err != nil {
			return "", err
		}
		i++ // '-'
		prevShift = true
	}
	return b.String(), nil
}

func decodeShift(b *strings.Builder, enc string) error {
	if enc == "" {
		return &UTF7Error{"empty encoded sequence"}
	}
	var acc uint32
	var nbits uint
	var hi uint16 // pending high surrogate
	for i := 0; i < len(enc); i++ {
		acc = acc<<6 | uint32(b64Index[enc[i]])
		nbits += 6
		if nbits < 16 {
			continue
		}
		nbits -= 16
		u := uint16(acc >> nbits)
		acc &= 1<<nbits - 1
		switch {
		case hi != 0:
			if u < 0xdc00 || u > 0xdfff {
				return &UTF7Error{"unpaired surrogate"}
			}
			b.WriteRune(utf16.DecodeRune(rune(hi), rune(u)))
			hi = 0
		case u >= 0xd800 && u <= 0xdbff:
			hi = u
		case u >= 0xdc00 && u <= 0xdfff:
			return &UTF7Error{"unpaired surrogate"}
		case u == 0:
			return &UTF7Error{"NUL character"}
		case isPrintableASCII(rune(u)):
			return &UTF7Error{"printable US-ASCII encoded"}
		default:
			b.WriteRune(rune(u))
		}
	}
	if hi != 0 {
		return &UTF7Error{"unpaired surrogate"}
	}
	if nbits >= 6 || acc != 0 {
		return &UTF7Error{"bad BASE64 padding"}
	}
	return nil
}

var errNotUTF8 = errors.New("invalid UTF-8")
