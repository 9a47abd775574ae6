package imapwire

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var utf7Table = []struct{ dec, enc string }{
	{"", ""},
	{"INBOX", "INBOX"},
	{"a&b", "a&-b"},
	{"&", "&-"},
	{"&&", "&-&-"},
	{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501 5.1.3
	{"Entwürfe", "Entw&APw-rfe"},
	{"ä", "&AOQ-"},
	{"äö", "&AOQA9g-"},
	{"äöü", "&AOQA9gD8-"},
	{"ä&ö", "&AOQ-&-&APY-"},
	{"😀", "&2D3eAA-"},
	{"a\tb", "a&AAk-b"},
	{"\x7f", "&AH8-"},
	{"Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
	{"~/-&-", "~/-&--"},
}

func TestUTF7Table(t *testing.T) {
	for _, tt := range utf7Table {
		if got := EncodeUTF7(tt.dec); got != tt.enc {
			t.Errorf("EncodeUTF7(%q) = %q, want %q", tt.dec, got, tt.enc)
		}
		got, err := DecodeUTF7(tt.enc)
		if err != nil || got != tt.dec {
			t.Errorf("DecodeUTF7(%q) = %q, %v; want %q", tt.enc, got, err, tt.dec)
		}
	}
}

func TestUTF7Invalid(t *testing.T) {
	for in, reason := range map[string]string{
		"&":          "unterminated",
		"a&":         "unterminated",
		"&AOQ":       "unterminated",
		"&AOQ!-":     "bad character",
		"&AOQ-&AOQ-": "adjacent",
		"&AGE-":      "printable US-ASCII encoded", // "a"
		"&ACY-":      "printable US-ASCII encoded", // "&" must be "&-"
		"&AAA-":      "NUL",
		"&AOR-":      "padding",  // non-zero trailing bits
		"&AOQA-":     "padding",  // a partial unit
		"&AOQAAA-":   "NUL",      // 00E4 0000
		"&2D0-":      "unpaired", // high surrogate alone
		"&3gE-":      "unpaired", // low surrogate alone
		"&2D3YPQ-":   "unpaired", // high, high
		"&-&--&":     "unterminated",
		"ä":          "8-bit",
		"a\x00":      "control",
		"a\r\n":      "control",
		"&,,,-":      "", // U+FBEF? -> must decode or fail, checked below
	} {
		got, err := DecodeUTF7(in)
		if reason == "" {
			if err == nil && EncodeUTF7(got) != in {
				t.Errorf("DecodeUTF7(%q) = %q, which does not re-encode", in, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("DecodeUTF7(%q) = %q, %v; want error %q", in, got, err, reason)
		}
	}
}

func TestEncodeUTF7InvalidUTF8(t *testing.T) {
	if got := EncodeUTF7("a\xffb"); got != "a&//0-b" && got != "a&,,0-b" {
		t.Errorf("got %q", got)
	}
}

func FuzzUTF7(f *testing.F) {
	for _, tt := range utf7Table {
		f.Add(tt.dec)
		f.Add(tt.enc)
	}
	f.Add("&AOQ-&AOQ-")
	f.Add("&2D0-")
	f.Fuzz(func(t *testing.T, s string) {
		// Decoding never panics, and what it accepts is canonical.
		if dec, err := DecodeUTF7(s); err == nil {
			if enc := EncodeUTF7(dec); enc != s {
				t.Fatalf("DecodeUTF7(%q) = %q, re-encodes as %q", s, dec, enc)
			}
		}
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return
		}
		enc := EncodeUTF7(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Fatalf("EncodeUTF7(%q) = %q: not printable ASCII", s, enc)
			}
		}
		dec, err := DecodeUTF7(enc)
		if err != nil || dec != s {
			t.Fatalf("DecodeUTF7(EncodeUTF7(%q)) = %q, %v (encoded %q)", s, dec, err, enc)
		}
	})
}
