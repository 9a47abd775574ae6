package config

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// UIDLExtra holds the per-message values a pop3_uidl_format may use besides
// the UID and UIDVALIDITY. Only formats for which CheckUIDLFormat reports
// the need must be given them.
type UIDLExtra struct {
	HeaderMD5 string // %m: MD5 of the message header, in lower-case hex
	GUID      string // %g: the message's GUID
}

// UIDLNeeds reports which UIDLExtra fields a format uses.
type UIDLNeeds struct {
	HeaderMD5 bool
	GUID      bool
}

// uidlVars maps Dovecot's POP3 UIDL variables (short and long names) to
// what they expand to. %f (Maildir file name) has no Roost equivalent.
var uidlVars = map[string]byte{
	"u": 'u', "uid": 'u',
	"v": 'v', "uidvalidity": 'v',
	"m": 'm', "md5": 'm',
	"g": 'g', "guid": 'g',
}

// uidlModifiers are the var_expand modifiers Roost implements: L lower
// case, U upper case, E backslash-escape, X decimal to lower-case hex, R
// reverse, M MD5 in hex, T trim trailing white space. Dovecot's H, N and D
// are rejected by CheckUIDLFormat.
const uidlModifiers = "LUEXRMT"

// uidlSpec is one parsed %-expansion of a format.
type uidlSpec struct {
	literal   string // text before the expansion
	mods      string
	variable  byte // 'u', 'v', 'm', 'g', '%' or 0 (nothing expands)
	offset    int
	width     int
	zeroPad   bool
	unknown   string // unknown variable name, for CheckUIDLFormat
	trailing  bool   // '%' (and modifiers) at the end with no variable
	badModKey byte   // unsupported modifier, for CheckUIDLFormat
}

// parseUIDLFormat splits format into expansions following Dovecot's
// var_expand grammar: %[-][0][width][.[0][-]width]{modifiers}(var|{long}).
// The last spec may have variable 0 and only a literal.
func parseUIDLFormat(format string) []uidlSpec {
	var specs []uidlSpec
	var lit strings.Builder
	s := format
	for len(s) > 0 {
		if s[0] != '%' {
			lit.WriteByte(s[0])
			s = s[1:]
			continue
		}
		s = s[1:]
		sp := uidlSpec{literal: lit.String()}
		lit.Reset()
		sign := 1
		if strings.HasPrefix(s, "-") {
			sign, s = -1, s[1:]
		}
		if strings.HasPrefix(s, "0") {
			sp.zeroPad, s = true, s[1:]
		}
		n, s2 := leadingNumber(s)
		sp.width, s = n, s2
		if strings.HasPrefix(s, ".") {
			sp.offset = sign * sp.width
			sign, sp.width, s = 1, 0, s[1:]
			sp.zeroPad = false
			if strings.HasPrefix(s, "0") {
				sp.zeroPad, s = true, s[1:]
			}
			if strings.HasPrefix(s, "-") {
				sign, s = -1, s[1:]
			}
			n, s = leadingNumber(s)
			sp.width = n
		}
		sp.width *= sign
		for len(s) > 0 && strings.IndexByte("LUEXRHNMDT", s[0]) >= 0 {
			if strings.IndexByte(uidlModifiers, s[0]) < 0 && sp.badModKey == 0 {
				sp.badModKey = s[0]
			}
			sp.mods += s[:1]
			s = s[1:]
		}
		if s == "" {
			// Dovecot stops at a '%' with no variable.
			sp.trailing = true
			specs = append(specs, sp)
			return specs
		}
		var name string
		if s[0] == '{' {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				name, s = s[1:], ""
			} else {
				name, s = s[1:end], s[end+1:]
			}
		} else {
			name, s = s[:1], s[1:]
		}
		if v, ok := uidlVars[name]; ok {
			sp.variable = v
		} else if name == "%" {
			sp.variable = '%'
		} else {
			sp.unknown = name
		}
		specs = append(specs, sp)
	}
	if lit.Len() > 0 {
		specs = append(specs, uidlSpec{literal: lit.String()})
	}
	return specs
}

// leadingNumber parses leading decimal digits, saturating at 1<<20 so
// hostile formats cannot overflow or demand huge padding.
func leadingNumber(s string) (int, string) {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<20 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	return min(n, 1<<20), s[i:]
}

// maxUIDLWidth bounds padding; POP3 UIDLs are at most 70 characters
// (RFC 1939 section 7), so a wider field cannot be meant.
const maxUIDLWidth = 70

// CheckUIDLFormat checks a pop3_uidl_format and reports which per-message
// values it needs. It accepts Dovecot's variables %u (uid), %v
// (uidvalidity), %m (header MD5) and %g (GUID), their long forms %{uid}
// etc., "%%", and the modifiers of uidlModifiers; %f (Maildir file name)
// and unknown variables are errors, as is a format that uses neither %u,
// %m nor %g (its UIDLs would not be unique).
func CheckUIDLFormat(format string) (UIDLNeeds, error) {
	var needs UIDLNeeds
	unique := false
	for _, sp := range parseUIDLFormat(format) {
		switch {
		case sp.trailing:
			return needs, fmt.Errorf("'%%' at the end of %q (write %%%% for a literal %%)", format)
		case sp.badModKey != 0:
			return needs, fmt.Errorf("modifier %%%c is not supported", sp.badModKey)
		case sp.unknown == "f" || sp.unknown == "filename":
			return needs, fmt.Errorf("%%%s (Maildir file name) is not supported; use %%u and %%v", sp.unknown)
		case sp.unknown != "":
			return needs, fmt.Errorf("unknown variable %%%s in %q", sp.unknown, format)
		case sp.width > maxUIDLWidth || sp.width < -maxUIDLWidth || sp.offset > maxUIDLWidth || sp.offset < -maxUIDLWidth:
			return needs, fmt.Errorf("field width or offset larger than %d in %q", maxUIDLWidth, format)
		}
		switch sp.variable {
		case 'u':
			unique = true
		case 'm':
			needs.HeaderMD5, unique = true, true
		case 'g':
			needs.GUID, unique = true, true
		}
	}
	if !unique {
		return needs, fmt.Errorf("%q does not contain %%u, %%m or %%g, so UIDLs would not be unique", format)
	}
	return needs, nil
}

// FormatUIDL expands a pop3_uidl_format for one message, with Dovecot's
// var_expand semantics, so that UIDLs match what Dovecot gave for the same
// UID and UIDVALIDITY: the default "%08Xu%08Xv" gives e.g.
// "00000001507c7b3c" (X converts to lower-case hex, 0 pads to the width).
// A width without 0 truncates; ".N" skips N leading characters (from the
// end when negative). The format should have passed CheckUIDLFormat; an
// unknown variable expands to nothing, as in Dovecot.
func FormatUIDL(format string, uid, uidvalidity uint32, x UIDLExtra) string {
	var b strings.Builder
	for _, sp := range parseUIDLFormat(format) {
		b.WriteString(sp.literal)
		var v string
		switch sp.variable {
		case 'u':
			v = strconv.FormatUint(uint64(uid), 10)
		case 'v':
			v = strconv.FormatUint(uint64(uidvalidity), 10)
		case 'm':
			v = x.HeaderMD5
		case 'g':
			v = x.GUID
		case '%':
			v = "%"
		default:
			continue
		}
		for i := 0; i < len(sp.mods); i++ {
			v = applyModifier(sp.mods[i], v)
		}
		b.WriteString(cutAndPad(v, sp))
	}
	return b.String()
}

func applyModifier(m byte, v string) string {
	switch m {
	case 'L':
		return strings.ToLower(v)
	case 'U':
		return strings.ToUpper(v)
	case 'E':
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `'`, `\'`)
		return r.Replace(v)
	case 'X':
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			n = 0 // Dovecot: a value that is not a number becomes 0
		}
		return strconv.FormatUint(n, 16)
	case 'R':
		b := []byte(v)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	case 'M':
		sum := md5.Sum([]byte(v))
		return hex.EncodeToString(sum[:])
	case 'T':
		return strings.TrimRight(v, " \t\r\n")
	}
	return v // H, N, D: rejected by CheckUIDLFormat
}

// cutAndPad applies offset and width as Dovecot's var_expand does.
func cutAndPad(v string, sp uidlSpec) string {
	if sp.offset < 0 {
		if len(v) > -sp.offset {
			v = v[len(v)+sp.offset:]
		}
	} else {
		v = v[min(sp.offset, len(v)):]
	}
	w := min(sp.width, maxUIDLWidth)
	switch {
	case w == 0:
		return v
	case !sp.zeroPad:
		if w < 0 {
			w = max(len(v)+w, 0)
		}
		return v[:min(w, len(v))]
	default:
		if len(v) < w {
			return strings.Repeat("0", w-len(v)) + v
		}
		return v
	}
}
