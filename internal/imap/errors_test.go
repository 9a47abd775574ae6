package imap

import (
	"errors"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/imapwire"
)

// errorTable: raw command -> substring of the SyntaxError message. Every
// row is followed by "z NOOP\r\n", which must parse: the stream stays in
// sync after every error.
var errorTable = []struct {
	in, msg, tag string
}{
	{"a BOGUS\r\n", "Unknown command", "a"},
	{"a UID NOOP\r\n", "Unknown command", "a"},
	{"a UID\r\n", "expected SP", "a"},
	{"+ NOOP\r\n", "invalid tag", "*"},
	{"a\r\n", "expected SP", "a"},
	{"a \r\n", "expected command name", "a"},
	{"a NOOP extra\r\n", "expected end of line", "a"},
	{"a NOOP \r\n", "expected end of line", "a"},
	{"a NOOP\rX\r\n", "expected LF after CR", "a"},
	{"a  NOOP\r\n", "expected command name", "a"},
	{"a LOGIN bob\r\n", "expected SP", "a"},
	{"a LOGIN bob \r\n", "expected astring", "a"},
	{"a LOGIN b\x01ob pw\r\n", "control character 0x01", "a"},
	{"a LOGIN \"b\x01ob\" pw\r\n", "control character in quoted string", "a"},
	{"a LOGIN b\xc3\xa4ob pw\r\n", "8-bit character", "a"},
	{"a LOGIN \"bob pw\r\n", "unterminated quoted string", "a"},
	{"a LOGIN \"b\\ob\" pw\r\n", "invalid escape", "a"},
	{"a LOGIN \"\xff\" pw\r\n", "invalid UTF-8", "a"},
	{"a LOGIN {3+}\r\nb\x00b pw\r\n", "NUL in literal", "a"},
	{"a AUTHENTICATE PLAIN !!!\r\n", "expected base64 initial response", "a"},
	{"a AUTHENTICATE PLAIN AGJvYgBwdw=\r\n", "invalid base64", "a"},
	{"a ENABLE\r\n", "expected SP", "a"},
	{"a COMPRESS\r\n", "expected SP", "a"},
	{"a COMPRESS DEFLATE X\r\n", "expected end of line", "a"},
	{"a ID (\"a\")\r\n", "expected SP", "a"},
	{"a ID NOPE\r\n", "expected NIL", "a"},
	{"a SELECT\r\n", "expected SP", "a"},
	{"a SELECT &Jjo\r\n", "unterminated", "a"},
	{"a SELECT &AGE-\r\n", "printable US-ASCII encoded", "a"},
	{"a SELECT a&b\r\n", "unterminated", "a"},
	{"a SELECT \"a&AOQ!-\"\r\n", "bad character in encoded sequence", "a"},
	{"a SELECT &2D0-\r\n", "unpaired surrogate", "a"},
	{"a SELECT &3gEA5A-\r\n", "unpaired surrogate", "a"},
	{"a SELECT &2D3YPQ-\r\n", "unpaired surrogate", "a"},
	{"a SELECT \"&AAA-\"\r\n", "NUL", "a"},
	{"a SELECT &AOQ-&AOQ-\r\n", "adjacent", "a"},
	{"a SELECT &AOR-\r\n", "padding", "a"},
	{"a SELECT \"f\xff\"\r\n", "UTF-8", "a"}, // raw UTF-8 names are accepted before ENABLE; invalid UTF-8 is not
	{"a SELECT INBOX ()\r\n", "empty select parameter list", "a"},
	{"a SELECT INBOX (FOO)\r\n", "unknown SELECT parameter FOO", "a"},
	{"a SELECT INBOX (QRESYNC (0 1))\r\n", "non-zero", "a"},
	{"a SELECT INBOX (QRESYNC (1 0))\r\n", "mod-sequence must be non-zero", "a"},
	{"a SELECT INBOX (QRESYNC (1 9223372036854775808))\r\n", "number out of range", "a"},
	{"a SELECT INBOX (QRESYNC (1 2 $))\r\n", "not allowed", "a"},
	{"a CREATE X (USE (Drafts))\r\n", "special-use", "a"},
	{"a CREATE X (FOO)\r\n", "unknown CREATE parameter", "a"},
	{"a RENAME a\r\n", "expected SP", "a"},
	{"a LIST \"\"\r\n", "expected SP", "a"},
	{"a LIST (BOGUS) \"\" *\r\n", "unknown LIST selection option", "a"},
	{"a LIST (RECURSIVEMATCH) \"\" *\r\n", "RECURSIVEMATCH", "a"},
	{"a LIST \"\" () \r\n", "empty pattern list", "a"},
	{"a LIST \"\" * RETURN (FOO)\r\n", "unknown LIST return option", "a"},
	{"a LIST \"\" * RETURN (STATUS (BOGUS))\r\n", "unknown STATUS item", "a"},
	{"a LIST \"\" * FOO ()\r\n", "expected RETURN", "a"},
	{"a STATUS INBOX ()\r\n", "empty status item list", "a"},
	{"a STATUS INBOX (MESSAGES\r\n", "expected SP or \")\" in list", "a"},
	{"a STATUS INBOX (MESSAGES FOO)\r\n", "unknown STATUS item FOO", "a"},
	{"a NOTIFY\r\n", "expected SP", "a"},
	{"a NOTIFY FOO\r\n", "expected SET or NONE", "a"},
	{"a NOTIFY NONE (selected (MessageNew))\r\n", "expected end of line", "a"},
	{"a NOTIFY SET\r\n", "expected SP", "a"},
	{"a NOTIFY SET STATUS\r\n", "expected SP", "a"},
	{"a NOTIFY SET FOO (selected NONE)\r\n", "expected STATUS or event group", "a"},
	{"a NOTIFY SET (bogus (MessageNew))\r\n", "unknown NOTIFY filter BOGUS", "a"},
	{"a NOTIFY SET (personal ())\r\n", "empty event list", "a"},
	{"a NOTIFY SET (personal FOO)\r\n", "expected event list or NONE", "a"},
	{"a NOTIFY SET (subtree (MessageNew))\r\n", "expected SP", "a"},
	{"a NOTIFY SET (mailboxes () (MessageNew))\r\n", "empty mailbox list", "a"},
	{"a NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed NONE)\r\n", "duplicate selected filter", "a"},
	{"a NOTIFY SET (selected (MessageNew))\r\n", "MessageNew and MessageExpunge must be together", "a"},
	{"a NOTIFY SET (selected (FlagChange))\r\n", "FlagChange requires MessageNew", "a"},
	{"a NOTIFY SET (personal (MessageNew (UID) MessageExpunge))\r\n", "only for the selected mailbox", "a"},
	{"a NOTIFY SET (selected (MessageNew (BOGUS) MessageExpunge))\r\n", "unknown fetch item BOGUS", "a"},
	{"a NOTIFY SET (selected (MessageNew MessageExpunge)) \r\n", "expected \"(\"", "a"},
	{"a STATUS INBOX MESSAGES\r\n", "expected \"(\"", "a"},
	{"a EXPUNGE 1\r\n", "expected end of line", "a"},
	{"a UID EXPUNGE\r\n", "expected SP", "a"},
	{"a UID EXPUNGE 0\r\n", "sequence numbers start at 1", "a"},
	{"a UID EXPUNGE 4294967296\r\n", "number out of range", "a"},
	{"a UID EXPUNGE 1:\r\n", "expected number or \"*\"", "a"},
	{"a UID EXPUNGE 1,\r\n", "expected number or \"*\"", "a"},
	{"a UID EXPUNGE 1,$\r\n", "expected number or \"*\"", "a"},
	{"a COPY 1\r\n", "expected SP", "a"},
	{"a COPY x INBOX\r\n", "expected sequence set", "a"},
	{"a STORE 1 FLAGS\r\n", "expected SP", "a"},
	{"a STORE 1 +FLAGZ (\\Seen)\r\n", "expected FLAGS, got FLAGZ", "a"},
	{"a STORE 1 FLAGS (\\)\r\n", "expected flag name", "a"},
	{"a STORE 1 FLAGS (\\*)\r\n", "expected flag name", "a"},
	{"a STORE 1 FLAGS (\\Seen\r\n", "in list", "a"},
	{"a STORE 1 (UNCHANGEDSINCE) FLAGS (\\Seen)\r\n", "expected SP", "a"},
	{"a STORE 1 (FOO 1) FLAGS (\\Seen)\r\n", "unknown STORE modifier", "a"},
	{"a FETCH 1\r\n", "expected SP", "a"},
	{"a FETCH 1 ()\r\n", "empty fetch item list", "a"},
	{"a FETCH 1 (ALL)\r\n", "unknown fetch item ALL", "a"},
	{"a FETCH 1 FOO\r\n", "unknown fetch item FOO", "a"},
	{"a FETCH 1 BODY.PEEK\r\n", "expected \"[\"", "a"},
	{"a FETCH 1 BODY[0]\r\n", "invalid section part 0", "a"},
	{"a FETCH 1 BODY[1.]\r\n", "trailing", "a"},
	{"a FETCH 1 BODY[MIME]\r\n", "MIME section needs a part number", "a"},
	{"a FETCH 1 BODY[FOO]\r\n", "invalid section FOO", "a"},
	{"a FETCH 1 BODY[HEADER.FIELDS]\r\n", "expected SP", "a"},
	{"a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "empty header field list", "a"},
	{"a FETCH 1 BODY[1.HEADER\r\n", "expected \"]\"", "a"},
	{"a FETCH 1 BODY[]<1>\r\n", "expected \".\"", "a"},
	{"a FETCH 1 BODY[]<1.0>\r\n", "partial count must be non-zero", "a"},
	{"a FETCH 1 BINARY[TEXT]\r\n", "expected \"]\"", "a"},
	{"a FETCH 1 BINARY[1.TEXT]\r\n", "trailing", "a"},
	{"a FETCH 1 BINARY.SIZE[1]<0.1>\r\n", "expected end of line", "a"},
	{"a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n", "non-zero", "a"},
	{"a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n", "VANISHED requires UID FETCH", "a"},
	{"a UID FETCH 1 FLAGS (VANISHED)\r\n", "VANISHED requires", "a"},
	{"a FETCH 1 FLAGS (FOO)\r\n", "unknown FETCH modifier", "a"},
	{"a FETCH 1 PREVIEW (EAGER)\r\n", "unknown PREVIEW modifier", "a"},
	{"a SEARCH\r\n", "expected SP", "a"},
	{"a SEARCH FOO\r\n", "unknown search key FOO", "a"},
	{"a SEARCH ()\r\n", "empty search key list", "a"},
	{"a SEARCH OR SEEN\r\n", "expected SP", "a"},
	{"a SEARCH BEFORE 32-Jan-2000\r\n", "invalid date: bad day", "a"},
	{"a SEARCH BEFORE 30-Feb-2000\r\n", "no such day", "a"},
	{"a SEARCH BEFORE 1-Foo-2000\r\n", "bad month", "a"},
	{"a SEARCH BEFORE 1-Jan-99\r\n", "bad year", "a"},
	{"a SEARCH BEFORE \"1-Jan-1999\r\n", "closing DQUOTE", "a"},
	{"a SEARCH LARGER x\r\n", "expected number", "a"},
	{"a SEARCH LARGER 9223372036854775808\r\n", "number out of range", "a"},
	{"a SEARCH OLDER 0\r\n", "non-zero", "a"},
	{"a SEARCH MODSEQ \"/x\" all 1\r\n", "invalid MODSEQ entry name", "a"},
	{"a SEARCH MODSEQ \"/flags/\\\\seen\" foo 1\r\n", "invalid MODSEQ entry type", "a"},
	{"a SEARCH RETURN (FOO) ALL\r\n", "unknown SEARCH return option", "a"},
	{"a SEARCH KEYWORD \\Seen\r\n", "expected atom", "a"},
	{"a SEARCH " + strings.Repeat("NOT ", 64) + "ALL\r\n", "nested too deeply", "a"},
	{"a SEARCH " + strings.Repeat("(", 70) + "ALL" + strings.Repeat(")", 70) + "\r\n", "nested too deeply", "a"},
	{"a APPEND INBOX\r\n", "expected SP", "a"},
	{"a APPEND INBOX (\\Seen)\r\n", "expected SP", "a"},
	{"a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\"\r\n", "expected SP", "a"},
	{"a APPEND INBOX \"17-Jul-1996 02:44:25\" {1+}\r\nx\r\n", "expected SP before zone", "a"},
	{"a APPEND INBOX \"17-Jul-1996 25:44:25 -0700\" {1+}\r\nx\r\n", "bad time", "a"},
	{"a APPEND INBOX \"17-Jul-1996 02:44:25 -0760\" {1+}\r\nx\r\n", "bad zone", "a"},
	{"a APPEND INBOX hello\r\n", "expected literal", "a"},
	{"a APPEND INBOX UTF8 ({1+}\r\nx)\r\n", "expected literal8", "a"},
	{"a APPEND INBOX {1+}\r\nx \r\n", "expected literal", "a"},
	{"a LOGIN {x}\r\n", "expected number", "a"},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorTable {
		h := newHarness(tt.in+"z NOOP\r\n", imapwire.DecoderOptions{})
		got, err := h.read()
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, %v; want syntax error %q", tt.in, got, err, tt.msg)
			continue
		}
		if !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("%q: got %q, want %q", tt.in, se.Msg, tt.msg)
		}
		if se.Tag != tt.tag {
			t.Errorf("%q: tag %q, want %q", tt.in, se.Tag, tt.tag)
		}
		for _, c := range se.Msg {
			if c < 0x20 || c >= 0x7f {
				t.Errorf("%q: message %q has unsafe characters", tt.in, se.Msg)
				break
			}
		}
		next, err := h.read()
		if err != nil || next.Name != "NOOP" || next.Tag != "z" {
			t.Errorf("%q: next command: %v, %v; stream out of sync", tt.in, next, err)
		}
		// The error is found without waiting for bytes the client has not
		// sent.
		h = newHarness(tt.in, imapwire.DecoderOptions{})
		if _, err := h.read(); !errors.As(err, &se) {
			t.Errorf("%q alone: got %v, want the syntax error without reading further", tt.in, err)
		}
	}
}

func TestUnknownCommandName(t *testing.T) {
	h := newHarness("t1 XYZZY foo bar\r\n", imapwire.DecoderOptions{})
	_, err := h.read()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Msg != "Unknown command" || se.Name != "XYZZY" || se.Tag != "t1" {
		t.Fatalf("got %#v", err)
	}
}
