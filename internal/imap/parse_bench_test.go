package imap

import (
	"bufio"
	"testing"

	"github.com/roost-mail/roost/internal/imapwire"
)

// BenchmarkParseCommands parses the commands real clients send most, one
// per op each (BenchmarkReadCommand covers the header FETCH).
func BenchmarkParseCommands(b *testing.B) {
	for _, c := range []struct{ name, line, want string }{
		{"store", "a1 UID STORE 4711,4713:4720 +FLAGS.SILENT (\\Seen \\Flagged $Forwarded)\r\n", "UID STORE"},
		{"search", "a1 UID SEARCH CHARSET UTF-8 OR SUBJECT \"quarterly report\" FROM alice SINCE 1-Jan-2024 NOT DELETED UNSEEN\r\n", "UID SEARCH"},
		{"fetch-webmail", "a1 FETCH 951:1000 (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (DATE FROM TO CC SUBJECT CONTENT-TYPE X-PRIORITY)])\r\n", "FETCH"},
		{"select-qresync", "a1 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n", "SELECT"},
		{"idle", "a1 IDLE\r\n", "IDLE"},
	} {
		b.Run(c.name, func(b *testing.B) {
			dec := imapwire.NewDecoder(bufio.NewReader(&repeatReader{s: c.line}), imapwire.DecoderOptions{Continue: func() error { return nil }})
			b.SetBytes(int64(len(c.line)))
			b.ReportAllocs()
			for b.Loop() {
				cmd, err := ReadCommand(dec, ParseOptions{})
				if err != nil || cmd.Name != c.want {
					b.Fatal(cmd, err)
				}
			}
		})
	}
}
