package mailstore

import (
	"slices"
	"testing"

	"github.com/roost-mail/roost/internal/message"
)

// TestSplitHeader: the header fields a SEARCH header key matches against
// (RFC 9051 section 6.4.4: the field's value, folding kept), from CRLF
// and bare-LF headers; lines that are not fields are skipped (a
// continuation after one still belongs to the field before it) and the
// blank line ends the header. The input buffer is reused by the caller
// (Account.Headers), so the fields must not alias it.
func TestSplitHeader(t *testing.T) {
	raw := []byte("Subject: hello\r\n  world\r\nFrom : a@example.org\r\nnot a field\r\n cont\r\n\tmore\r\n" +
		"To:b@example.org\nX-Empty:\r\n: no name\r\n\r\nBody: no\r\n")
	got := SplitHeader(raw)
	want := []message.Field{
		{Name: "Subject", Value: " hello\r\n  world\r\n"},
		{Name: "From", Value: " a@example.org\r\n cont\r\n\tmore\r\n"},
		{Name: "To", Value: "b@example.org\n"},
		{Name: "X-Empty", Value: "\r\n"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("SplitHeader = %q, want %q", got, want)
	}
	for i := range raw {
		raw[i] = 'x'
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields changed with the input buffer: %q", got)
	}
	if got := SplitHeader([]byte(" leading continuation\r\nA: 1")); !slices.Equal(got, []message.Field{{Name: "A", Value: " 1"}}) {
		t.Errorf("no blank line, leading continuation: %q", got)
	}
}

// TestSearchFieldsOf: the kept text of each occurrence of the five fields
// (names compared as SEARCH compares them), RFC 2047 words decoded,
// unfolded, lower-cased; other fields and the body are not kept; a
// missing field has no entry and an empty one an empty entry.
func TestSearchFieldsOf(t *testing.T) {
	hdr := []byte("SUBJECT: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus\r\n =?ISO-8859-1?B?S/Zsbg==?=\r\n" +
		"from: Ann <ann@Example.org>\r\nTo: b@x\r\nto: C@Y\r\nCc:\r\nX-Other: z\r\n\r\nBcc: body@x\r\n")
	sf := SearchFieldsOf(hdr)
	want := map[SearchField][]string{
		SearchSubject: {" grüße aus köln"},
		SearchFrom:    {" ann <ann@example.org>"},
		SearchTo:      {" b@x", " c@y"},
		SearchCc:      {""},
		SearchBcc:     nil,
	}
	for f, w := range want {
		var got []string
		for _, v := range sf.Values[f] {
			got = append(got, string(v))
		}
		if !slices.Equal(got, w) {
			t.Errorf("%v = %q, want %q", f, got, w)
		}
	}
	for _, c := range []struct {
		f      SearchField
		needle string
		want   bool
	}{
		{SearchSubject, "grüße aus köln", true},
		{SearchSubject, "", true},
		{SearchTo, "c@y", true},
		{SearchTo, "b@x c", false}, // no match across two fields
		{SearchCc, "", true},       // present, empty
		{SearchCc, "x", false},
		{SearchBcc, "", false}, // absent
	} {
		if got := sf.Contains(c.f, c.needle); got != c.want {
			t.Errorf("Contains(%v, %q) = %v, want %v", c.f, c.needle, got, c.want)
		}
	}
	if f, ok := SearchFieldOf("ſubject"); !ok || f != SearchSubject { // U+017F folds to s, as in strings.EqualFold
		t.Errorf("SearchFieldOf(ſubject) = %v %v", f, ok)
	}
	if _, ok := SearchFieldOf("Subjects"); ok {
		t.Error("SearchFieldOf(Subjects) found a field")
	}
}

// BenchmarkSplitHeader: one message header as a header SEARCH splits it.
func BenchmarkSplitHeader(b *testing.B) {
	raw := []byte("Return-Path: <alice@example.org>\r\nReceived: from mx.example.org by mail.example.net;\r\n\tThu, 26 Nov 2026 12:00:00 +0000\r\n" +
		"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\nFrom: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n" +
		"Subject: quarterly report\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		SplitHeader(raw)
	}
}
