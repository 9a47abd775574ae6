package config

import (
	"strings"
	"testing"
)

func TestFormatUIDL(t *testing.T) {
	x := UIDLExtra{HeaderMD5: "0123456789abcdef0123456789abcdef", GUID: "g-uid"}
	cases := []struct {
		format           string
		uid, uidvalidity uint32
		want             string
	}{
		// Dovecot's default: 8 lower-case hex digits each (var_expand's X
		// prints with "%llx").
		{"%08Xu%08Xv", 1, 0x507c7b3c, "00000001507c7b3c"},
		{"%08Xu%08Xv", 0xffffffff, 1, "ffffffff00000001"},
		{"%08Xu%08Xv", 255, 0x1234, "000000ff00001234"},
		{"%u", 1234, 9, "1234"},
		{"%v.%u", 7, 1234567890, "1234567890.7"},
		{"%{uid}-%{uidvalidity}", 5, 6, "5-6"},
		{"%Xu", 255, 0, "ff"},
		{"%XUu", 255, 0, "FF"},  // X, then upper case
		{"%UXu", 255, 0, "ff"},  // upper case first has no effect on digits
		{"%2u", 12345, 0, "12"}, // a width without 0 truncates
		{"%08u", 12345, 0, "00012345"},
		{"%03u", 12345, 0, "12345"}, // zero padding never truncates
		{"%1.2u", 12345, 0, "23"},   // skip 1, take 2
		{"%-2.u", 12345, 0, "45"},   // last 2
		{"%Ru", 123, 0, "321"},
		{"%Mu", 1, 0, "c4ca4238a0b923820dcc509a6f75849b"}, // md5("1")
		{"%m", 1, 0, x.HeaderMD5},
		{"%g-%u", 1, 0, "g-uid-1"},
		{"100%% %u", 3, 0, "100% 3"},
		{"%x%u", 3, 0, "3"}, // unknown variable expands to nothing, as in Dovecot
		{"%u%", 3, 0, "3"},
	}
	for _, tc := range cases {
		if got := FormatUIDL(tc.format, tc.uid, tc.uidvalidity, x); got != tc.want {
			t.Errorf("FormatUIDL(%q, %d, %d) = %q, want %q", tc.format, tc.uid, tc.uidvalidity, got, tc.want)
		}
	}
}

func TestCheckUIDLFormat(t *testing.T) {
	ok := map[string]UIDLNeeds{
		"%08Xu%08Xv":  {},
		"%u":          {},
		"%v-%m":       {HeaderMD5: true},
		"%{guid}":     {GUID: true},
		"%08Xv%{uid}": {},
	}
	for f, want := range ok {
		got, err := CheckUIDLFormat(f)
		if err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", f, got, err, want)
		}
	}
	bad := map[string]string{
		"%f":          "(Maildir file name) is not supported",
		"%{filename}": "(Maildir file name) is not supported",
		"%Hu":         "modifier %H is not supported",
		"%v":          "would not be unique",
		"static":      "would not be unique",
		"%u%q":        "unknown variable %q",
		"%u%":         "'%' at the end",
		"%0100u":      "larger than 70",
	}
	for f, want := range bad {
		_, err := CheckUIDLFormat(f)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", f, err, want)
		}
	}
}
