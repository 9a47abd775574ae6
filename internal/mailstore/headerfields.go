package mailstore

import (
	"bytes"
	"context"
	"strings"
)

// HeaderFieldsReader is an optional interface of Account (type-assert it):
// a backend that implements it keeps, beside each message, the raw lines
// of the top-level header fields named in KeptHeaderFields (KeptLinesOf),
// so that the FETCH items clients send for their message lists
// (BODY.PEEK[HEADER.FIELDS (DATE FROM ...)], RFC 9051 6.4.5) are answered
// without opening the message: FilterHeaderFields(kept, names, false)
// equals FilterHeaderFields(header, names, false) whenever KeptCovers(names).
type HeaderFieldsReader interface {
	// HeaderFields calls fn once for each message of uids (ascending)
	// that exists in mbox, in ascending UID order, with the message's kept
	// lines (KeptLinesOf of its header), or with nil when the store keeps
	// none for it (a header over the size limits; a message stored by an
	// older version, unless the backend makes them then from the
	// header): the caller must then read that message's header itself.
	// kept is only valid during the call. Messages not in the mailbox are
	// skipped. KindNotFound if the mailbox does not exist; an error from
	// fn stops the read and is returned as it is. fn may run while the
	// store holds a read transaction: it must not block (no writes to a
	// client).
	HeaderFields(ctx context.Context, mbox MailboxID, uids []UID, fn func(uid UID, kept []byte) error) error
}

// KeptHeaderFields are the header fields whose raw lines a
// HeaderFieldsReader keeps: the union of what the common clients put in
// the HEADER.FIELDS of their message-list FETCH (Thunderbird's default
// list, K-9/Thunderbird Android, Roundcube, Apple Mail's common fields,
// mbsync's X-TUID). A field costs bytes only in messages that have it.
// Changing the list requires a new stored format (sqlstore.keptFormat),
// or rows kept under the old list would answer for fields they lack.
var KeptHeaderFields = []string{
	"Date", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject",
	"Message-ID", "In-Reply-To", "References",
	"Content-Type", "Content-Transfer-Encoding",
	"Priority", "X-Priority", "Importance",
	"List-Id", "List-Post", "List-Unsubscribe", "Newsgroups",
	"Disposition-Notification-To", "Mail-Followup-To", "Mail-Reply-To",
	"Return-Path", "Resent-Bcc", "X-Draft-Info",
	"X-TUID", "X-K9mail-Identity", "Chat-Version",
}

// KeptLinesMax is the most octets of kept lines kept per message: a
// message whose kept lines are longer (a huge To or References) keeps none
// and is answered from its file.
const KeptLinesMax = 8 << 10

// KeptCovers reports whether every name of a HEADER.FIELDS list is a kept
// field, compared as FilterHeaderFields compares names (strings.EqualFold,
// an equivalence: a header name matching a requested name matches the
// kept name it folds to, so the kept lines hold every line the request
// selects).
func KeptCovers(names []string) bool {
	for _, n := range names {
		if !containsFold(KeptHeaderFields, n) {
			return false
		}
	}
	return true
}

// KeptLinesOf returns the kept lines of a message's top-level header hdr
// (the whole header, blank line included if it has one):
// FilterHeaderFields(hdr, KeptHeaderFields, false), or nil when that is
// longer than KeptLinesMax. Filtering the result again with a list that
// KeptCovers gives the same bytes as filtering hdr: it holds every
// selected line in order, each ending with a line break, and its end is
// the blank line.
func KeptLinesOf(hdr []byte) []byte {
	k := FilterHeaderFields(hdr, KeptHeaderFields, false)
	if len(k) > KeptLinesMax {
		return nil
	}
	return k
}

// FilterHeaderFields returns the fields of hdr (raw header bytes, possibly
// with the blank line) whose names are in names (case-insensitive), or not
// in names when not is set, in their original order and folding, as
// Dovecot does for BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT
// (...)] (RFC 9051 6.4.5):
//   - a field is a line with a colon after a non-empty name (blanks before
//     the colon trimmed) and the lines after it that start with a space or
//     a tab; other lines select nothing;
//   - HEADER.FIELDS always ends with an empty line ("\r\n" when nothing
//     matches), and a matching last field without a line end gets CRLF;
//   - HEADER.FIELDS.NOT passes lines through unchanged, lines that are not
//     fields too, and ends with the empty line only when the message's
//     header has one.
func FilterHeaderFields(hdr []byte, names []string, not bool) []byte {
	// One allocation for the usual header; a huge one grows as it must.
	out := make([]byte, 0, min(len(hdr), 4<<10)+2)
	keep := false
	eoh := false
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line = hdr[:i+1]
		}
		hdr = hdr[len(line):]
		if isBlankLine(line) {
			eoh = true
			break
		}
		if line[0] != ' ' && line[0] != '\t' { // else a continuation line
			var name []byte
			if i := bytes.IndexByte(line, ':'); i > 0 {
				name = bytes.TrimRight(line[:i], " \t")
			}
			keep = (len(name) > 0 && containsFoldBytes(names, name)) != not
		}
		if !keep {
			continue
		}
		out = append(out, line...)
		if !not && line[len(line)-1] != '\n' {
			out = append(out, '\r', '\n')
		}
	}
	if not && !eoh {
		return out
	}
	return append(out, '\r', '\n')
}

func isBlankLine(b []byte) bool {
	return (len(b) == 1 && b[0] == '\n') || (len(b) == 2 && b[0] == '\r' && b[1] == '\n')
}

// containsFoldBytes is containsFold of a name given as bytes, without
// converting it: ASCII on both sides compares ASCII case-insensitively,
// which is what strings.EqualFold does then (the other characters that
// fold to ASCII letters, such as the Kelvin sign, are not ASCII); other
// names go through strings.EqualFold.
func containsFoldBytes(list []string, b []byte) bool {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		return containsFold(list, string(b))
	}
	for _, x := range list {
		if len(x) == len(b) && asciiEqualFold(x, b) {
			return true
		}
		if len(x) != len(b) && !isASCII(x) && strings.EqualFold(x, string(b)) {
			return true
		}
	}
	return false
}

// asciiEqualFold compares x and b, both the same length, ignoring ASCII
// case; it is false when x has a non-ASCII octet where b has none.
func asciiEqualFold(x string, b []byte) bool {
	for i := 0; i < len(b); i++ {
		c, d := x[i], b[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return !isASCII(x) && strings.EqualFold(x, string(b))
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
