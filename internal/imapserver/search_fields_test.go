package imapserver

import (
	"slices"
	"testing"

	"github.com/roost-mail/roost/internal/message"
)

// TestParseFields: the header fields a SEARCH header key matches against
// (RFC 9051 section 6.4.4: the field's value, folding kept), from CRLF
// and bare-LF headers; lines that are not fields are skipped and the
// blank line ends the header. The input buffer is reused by the caller
// (Account.Headers), so the fields must not alias it.
func TestParseFields(t *testing.T) {
	raw := []byte("Subject: hello\r\n  world\r\nFrom : a@example.org\r\nnot a field\r\nTo:b@example.org\nX-Empty:\r\n\r\nBody: no\r\n")
	got := parseFields(raw)
	want := []message.Field{
		{Name: "Subject", Value: " hello\r\n  world\r\n"},
		{Name: "From", Value: " a@example.org\r\n"},
		{Name: "To", Value: "b@example.org\n"},
		{Name: "X-Empty", Value: "\r\n"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("parseFields = %q, want %q", got, want)
	}
	for i := range raw {
		raw[i] = 'x'
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields changed with the input buffer: %q", got)
	}
}

// BenchmarkParseFields: one message header as a header SEARCH parses it.
func BenchmarkParseFields(b *testing.B) {
	raw := []byte("Return-Path: <alice@example.org>\r\nReceived: from mx.example.org by mail.example.net;\r\n\tThu, 26 Nov 2026 12:00:00 +0000\r\n" +
		"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\nFrom: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n" +
		"Subject: quarterly report\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		parseFields(raw)
	}
}
