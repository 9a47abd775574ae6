package imap

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
)

// errBlocked is returned by lineReader when the parser asks for more bytes
// than the client sent: a real client would be waiting for our answer.
var errBlocked = errors.New("read past what the client sent")

// lineReader serves s and then reports errBlocked, like a client that
// sent s and waits.
type lineReader struct{ s string }

func (r *lineReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, errBlocked
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

type harness struct {
	dec       *imapwire.Decoder
	continues int
	opts      ParseOptions
}

func newHarness(in string, dopts imapwire.DecoderOptions) *harness {
	h := &harness{}
	dopts.Continue = func() error { h.continues++; return nil }
	h.dec = imapwire.NewDecoder(bufio.NewReaderSize(&lineReader{s: in}, 64), dopts)
	return h
}

func (h *harness) read() (*Command, error) { return ReadCommand(h.dec, h.opts) }

func set(rs ...NumRange) NumSet { return NumSet{Ranges: rs} }
func rng(a, b uint32) NumRange  { return NumRange{Start: a, Stop: b} }
func one(a uint32) NumRange     { return NumRange{Start: a, Stop: a} }

func cmd(tag, name string, args any) *Command {
	return &Command{Tag: tag, Name: name, UID: strings.HasPrefix(name, "UID "), Args: args}
}

func key(op string, children ...*SearchKey) *SearchKey {
	return &SearchKey{Op: op, Children: children}
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

var grammarTable = []struct {
	in   string
	want *Command
}{
	// Any state.
	{"a1 CAPABILITY\r\n", cmd("a1", "CAPABILITY", &NoArgs{})},
	{"a1 capability\r\n", cmd("a1", "CAPABILITY", &NoArgs{})},
	{"a1 NOOP\n", cmd("a1", "NOOP", &NoArgs{})},
	{"x.y] LOGOUT\r\n", cmd("x.y]", "LOGOUT", &NoArgs{})},
	{"\r\n\r\na1 NOOP\r\n", cmd("a1", "NOOP", &NoArgs{})},
	// Not authenticated.
	{"a STARTTLS\r\n", cmd("a", "STARTTLS", &NoArgs{})},
	{"a AUTHENTICATE plain\r\n", cmd("a", "AUTHENTICATE", &AuthenticateCmd{Mechanism: "PLAIN"})},
	{"a AUTHENTICATE PLAIN AGJvYgBwdw==\r\n", cmd("a", "AUTHENTICATE", &AuthenticateCmd{Mechanism: "PLAIN", InitialResponse: []byte("\x00bob\x00pw")})},
	{"a AUTHENTICATE EXTERNAL =\r\n", cmd("a", "AUTHENTICATE", &AuthenticateCmd{Mechanism: "EXTERNAL", InitialResponse: []byte{}})},
	{"a AUTHENTICATE SCRAM-SHA-256\r\n", cmd("a", "AUTHENTICATE", &AuthenticateCmd{Mechanism: "SCRAM-SHA-256"})},
	{"a LOGIN bob secret\r\n", cmd("a", "LOGIN", &LoginCmd{User: "bob", Password: "secret"})},
	{"a LOGIN \"bob\" \"se\\\"c\\\\ret\"\r\n", cmd("a", "LOGIN", &LoginCmd{User: "bob", Password: `se"c\ret`})},
	{"a LOGIN {3}\r\nbob {2+}\r\npw\r\n", cmd("a", "LOGIN", &LoginCmd{User: "bob", Password: "pw"})},
	{"a LOGIN \"\" \"\"\r\n", cmd("a", "LOGIN", &LoginCmd{})},
	{"a LOGIN b]ob pa]ss\r\n", cmd("a", "LOGIN", &LoginCmd{User: "b]ob", Password: "pa]ss"})},
	// Authenticated.
	{"a COMPRESS deflate\r\n", cmd("a", "COMPRESS", &CompressCmd{Mechanism: "DEFLATE"})},
	{"a ENABLE IMAP4rev2\r\n", cmd("a", "ENABLE", &EnableCmd{Caps: []string{"IMAP4REV2"}})},
	{"a ENABLE CONDSTORE QRESYNC utf8=accept\r\n", cmd("a", "ENABLE", &EnableCmd{Caps: []string{"CONDSTORE", "QRESYNC", "UTF8=ACCEPT"}})},
	{"a ID NIL\r\n", cmd("a", "ID", &IDCmd{})},
	{"a ID (\"name\" \"sodr\" \"version\" NIL)\r\n", cmd("a", "ID", &IDCmd{Params: map[string]string{"name": "sodr", "version": ""}})},
	{"a ID ()\r\n", cmd("a", "ID", &IDCmd{Params: map[string]string{}})},
	{"a SELECT INBOX\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "INBOX"})},
	{"a select inbox\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "INBOX"})},
	{"a SELECT \"InBox\"\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "INBOX"})},
	{"a EXAMINE Archive/2024\r\n", cmd("a", "EXAMINE", &SelectCmd{Mailbox: "Archive/2024", ReadOnly: true})},
	{"a SELECT INBOX (CONDSTORE)\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "INBOX", CondStore: true})},
	{"a SELECT INBOX (QRESYNC (67890007 20050715194045000))\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "INBOX",
		QResync: &QResyncParams{UIDValidity: 67890007, ModSeq: 20050715194045000}})},
	{"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "INBOX",
		QResync: &QResyncParams{UIDValidity: 67890007, ModSeq: 20050715194045000,
			KnownUIDs: &NumSet{Ranges: []NumRange{one(41), rng(43, 211), rng(214, 541)}}}})},
	{"A02 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29997)))\r\n",
		cmd("A02", "SELECT", &SelectCmd{Mailbox: "INBOX", QResync: &QResyncParams{UIDValidity: 67890007, ModSeq: 90060115194045000,
			KnownUIDs: &NumSet{Ranges: []NumRange{rng(1, 29997)}},
			SeqMatch: &struct{ Seqs, UIDs NumSet }{
				Seqs: set(one(5000), one(7500), one(9000), rng(9990, 9999)),
				UIDs: set(one(15000), one(22500), one(27000), one(29970), one(29973), rng(29976, 29997))}}})},
	{"a SELECT INBOX (QRESYNC (1 2 (1:3 4:6)) CONDSTORE)\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "INBOX", CondStore: true,
		QResync: &QResyncParams{UIDValidity: 1, ModSeq: 2, SeqMatch: &struct{ Seqs, UIDs NumSet }{Seqs: set(rng(1, 3)), UIDs: set(rng(4, 6))}}})},
	{"a SELECT [Gmail]/Trash\r\n", cmd("a", "SELECT", &SelectCmd{Mailbox: "[Gmail]/Trash"})},
	{"a LIST \"[Gmail]/\" %]\r\n", cmd("a", "LIST", &ListCmd{Reference: "[Gmail]/", Patterns: []string{"%]"}})},
	{"a FETCH 1 ALL (CHANGEDSINCE 5)\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Macro: "ALL", ChangedSince: 5, Items: []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope}}})},
	{"a CREATE Foo\r\n", cmd("a", "CREATE", &CreateCmd{Mailbox: "Foo"})},
	{"a CREATE \"Foo Bar\" (USE (\\drafts \\Archive))\r\n", cmd("a", "CREATE", &CreateCmd{Mailbox: "Foo Bar", SpecialUse: []string{`\Drafts`, `\Archive`}})},
	{"a CREATE X (USE ())\r\n", cmd("a", "CREATE", &CreateCmd{Mailbox: "X"})},
	{"a DELETE \"a&-b\"\r\n", cmd("a", "DELETE", &DeleteCmd{Mailbox: "a&b"})},
	{"a RENAME old &AOQ-\r\n", cmd("a", "RENAME", &RenameCmd{From: "old", To: "ä"})},
	{"a SUBSCRIBE ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n", cmd("a", "SUBSCRIBE", &SubscribeCmd{Mailbox: "~peter/mail/台北/日本語"})},
	{"a UNSUBSCRIBE x\r\n", cmd("a", "UNSUBSCRIBE", &SubscribeCmd{Mailbox: "x", Unsubscribe: true})},
	{"a LIST \"\" *\r\n", cmd("a", "LIST", &ListCmd{Patterns: []string{"*"}})},
	{"a LIST \"\" \"\"\r\n", cmd("a", "LIST", &ListCmd{Patterns: []string{""}})},
	{"a LIST ~/Mail/ %/f*o]\r\n", cmd("a", "LIST", &ListCmd{Reference: "~/Mail/", Patterns: []string{"%/f*o]"}})},
	{"a LIST \"\" &AOQ-%\r\n", cmd("a", "LIST", &ListCmd{Patterns: []string{"ä%"}})},
	{"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Drafts\" %)\r\n", cmd("a", "LIST", &ListCmd{Selection: []string{"SUBSCRIBED", "RECURSIVEMATCH"},
		Patterns: []string{"INBOX", "Drafts", "%"}, Extended: true})},
	{"a LIST () \"\" %\r\n", cmd("a", "LIST", &ListCmd{Selection: []string{}, Patterns: []string{"%"}, Extended: true})},
	{"a LIST (special-use) \"\" * RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n", cmd("a", "LIST", &ListCmd{
		Selection: []string{"SPECIAL-USE"}, Patterns: []string{"*"}, ReturnSubscribed: true, ReturnChildren: true, ReturnSpecialUse: true,
		ReturnStatus: []string{"MESSAGES", "UNSEEN"}, Extended: true})},
	{"a LIST \"\" % RETURN ()\r\n", cmd("a", "LIST", &ListCmd{Patterns: []string{"%"}, Extended: true})},
	{"a LSUB \"\" *\r\n", cmd("a", "LSUB", &ListCmd{LSUB: true, Patterns: []string{"*"}})},
	{"a NAMESPACE\r\n", cmd("a", "NAMESPACE", &NoArgs{})},
	{"a STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", cmd("a", "STATUS", &StatusCmd{Mailbox: "blurdybloop", Items: []string{"UIDNEXT", "MESSAGES"}})},
	{"a STATUS INBOX (messages uidnext uidvalidity unseen deleted size recent highestmodseq appendlimit)\r\n", cmd("a", "STATUS", &StatusCmd{Mailbox: "INBOX",
		Items: []string{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT"}})},
	// Selected.
	{"a CHECK\r\n", cmd("a", "CHECK", &NoArgs{})},
	{"a CLOSE\r\n", cmd("a", "CLOSE", &NoArgs{})},
	{"a UNSELECT\r\n", cmd("a", "UNSELECT", &NoArgs{})},
	{"a IDLE\r\n", cmd("a", "IDLE", &NoArgs{})},
	{"a EXPUNGE\r\n", cmd("a", "EXPUNGE", &NoArgs{})},
	{"a UID EXPUNGE 3000:3002,4:*\r\n", cmd("a", "UID EXPUNGE", &ExpungeCmd{Set: set(rng(3000, 3002), rng(4, Star))})},
	{"a uid expunge $\r\n", cmd("a", "UID EXPUNGE", &ExpungeCmd{Set: NumSet{SearchRes: true}})},
	{"a COPY 2:4 MEETING\r\n", cmd("a", "COPY", &CopyCmd{Set: set(rng(2, 4)), Mailbox: "MEETING"})},
	{"a UID COPY *:5 \"Sent Items\"\r\n", cmd("a", "UID COPY", &CopyCmd{Set: set(rng(Star, 5)), Mailbox: "Sent Items"})},
	{"a MOVE 1 Trash\r\n", cmd("a", "MOVE", &CopyCmd{Set: set(one(1)), Mailbox: "Trash", Move: true})},
	{"a UID MOVE $ Trash\r\n", cmd("a", "UID MOVE", &CopyCmd{Set: NumSet{SearchRes: true}, Mailbox: "Trash", Move: true})},
	{"a UID MOVE 4294967295 inbox\r\n", cmd("a", "UID MOVE", &CopyCmd{Set: set(one(4294967295)), Mailbox: "INBOX", Move: true})},
	// NOTIFY (RFC 5465).
	{"a NOTIFY NONE\r\n", cmd("a", "NOTIFY", &NotifyCmd{None: true})},
	{"a notify set (selected (MessageNew (uid flags body.peek[header.fields (subject)]) messageexpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))\r\n",
		cmd("a", "NOTIFY", &NotifyCmd{Groups: []NotifyGroup{
			{Filter: "SELECTED", Events: []NotifyEvent{
				{Name: "MessageNew", Fetch: []FetchItem{{Kind: FetchUID}, {Kind: FetchFlags}, {Kind: FetchBodySection, Peek: true, Section: Section{Specifier: "HEADER.FIELDS", Fields: []string{"subject"}}}}},
				{Name: "MessageExpunge"}, {Name: "FlagChange"}}},
			{Filter: "PERSONAL", Events: []NotifyEvent{{Name: "MessageNew"}, {Name: "MessageExpunge"}, {Name: "MailboxName"}, {Name: "SubscriptionChange"}}},
		}})},
	{"a NOTIFY SET STATUS (SELECTED-DELAYED NONE) (subtree Lists (MessageNew)) (MAILBOXES (misc inbox) (MessageNew XFoo)) (inboxes (FlagChange)) (subscribed NONE)\r\n",
		cmd("a", "NOTIFY", &NotifyCmd{Status: true, Groups: []NotifyGroup{
			{Filter: "SELECTED-DELAYED"},
			{Filter: "SUBTREE", Mailboxes: []string{"Lists"}, Events: []NotifyEvent{{Name: "MessageNew"}}},
			{Filter: "MAILBOXES", Mailboxes: []string{"misc", "INBOX"}, Events: []NotifyEvent{{Name: "MessageNew"}, {Name: "XFoo"}}},
			{Filter: "INBOXES", Events: []NotifyEvent{{Name: "FlagChange"}}},
			{Filter: "SUBSCRIBED"},
		}})},
	// STORE.
	{"a STORE 2:4 +FLAGS (\\Deleted)\r\n", cmd("a", "STORE", &StoreCmd{Set: set(rng(2, 4)), Op: mailstore.FlagsAdd, Flags: []string{`\Deleted`}})},
	{"a STORE 1 -FLAGS.SILENT (\\SEEN $Junk)\r\n", cmd("a", "STORE", &StoreCmd{Set: set(one(1)), Op: mailstore.FlagsRemove, Silent: true, Flags: []string{`\Seen`, "$Junk"}})},
	{"a STORE 1 FLAGS ()\r\n", cmd("a", "STORE", &StoreCmd{Set: set(one(1)), Op: mailstore.FlagsReplace})},
	{"a UID STORE 1:* flags \\Seen \\Answered foo\r\n", cmd("a", "UID STORE", &StoreCmd{Set: set(rng(1, Star)), Flags: []string{`\Seen`, `\Answered`, "foo"}})},
	{"a STORE 7,5 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n", cmd("a", "STORE", &StoreCmd{Set: set(one(7), one(5)), Op: mailstore.FlagsAdd,
		Silent: true, Flags: []string{`\Deleted`}, UnchangedSince: 320162338, HasUnchangedSince: true})},
	{"a STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Flagged)\r\n", cmd("a", "STORE", &StoreCmd{Set: set(one(1)), Op: mailstore.FlagsAdd,
		Flags: []string{`\Flagged`}, HasUnchangedSince: true})},
	// FETCH.
	{"a FETCH 1 ALL\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Macro: "ALL", Items: []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope}}})},
	{"a FETCH 1 fast\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Macro: "FAST", Items: []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}}})},
	{"a FETCH 1 FULL\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Macro: "FULL", Items: []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope}, {Kind: FetchBody}}})},
	{"a FETCH 2:4 FLAGS\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(rng(2, 4)), Items: []FetchItem{{Kind: FetchFlags}}})},
	{"a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE UID MODSEQ RFC822 RFC822.HEADER RFC822.TEXT SAVEDATE EMAILID THREADID PREVIEW)\r\n",
		cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Items: []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}, {Kind: FetchEnvelope},
			{Kind: FetchBody}, {Kind: FetchBodyStructure}, {Kind: FetchUID}, {Kind: FetchModSeq}, {Kind: FetchRFC822}, {Kind: FetchRFC822Header},
			{Kind: FetchRFC822Text}, {Kind: FetchSaveDate}, {Kind: FetchEmailID}, {Kind: FetchThreadID}, {Kind: FetchPreview}}})},
	{"a FETCH 1 (PREVIEW (LAZY) UID)\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Items: []FetchItem{{Kind: FetchPreview, PreviewLazy: true}, {Kind: FetchUID}}})},
	{"a FETCH 1 BODY[]\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Items: []FetchItem{{Kind: FetchBodySection}}})},
	{"a FETCH 1 body.peek[]<0.1024>\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Items: []FetchItem{{Kind: FetchBodySection, Peek: true, Partial: &Partial{0, 1024}}}})},
	{"a FETCH 1 (BODY[HEADER] BODY[TEXT] BODY[1.2.3] BODY[2.MIME] BODY[3.HEADER] BODY[3.TEXT]<10.20>)\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Items: []FetchItem{
		{Kind: FetchBodySection, Section: Section{Specifier: "HEADER"}},
		{Kind: FetchBodySection, Section: Section{Specifier: "TEXT"}},
		{Kind: FetchBodySection, Section: Section{Part: []int{1, 2, 3}}},
		{Kind: FetchBodySection, Section: Section{Part: []int{2}, Specifier: "MIME"}},
		{Kind: FetchBodySection, Section: Section{Part: []int{3}, Specifier: "HEADER"}},
		{Kind: FetchBodySection, Section: Section{Part: []int{3}, Specifier: "TEXT"}, Partial: &Partial{10, 20}},
	}})},
	{"a FETCH 1 (BODY[HEADER.FIELDS (DATE FROM)] BODY.PEEK[1.header.fields.not (\"X-Spam\" {4}\r\nX-Me)]<5.6>)\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Items: []FetchItem{
		{Kind: FetchBodySection, Section: Section{Specifier: "HEADER.FIELDS", Fields: []string{"DATE", "FROM"}}},
		{Kind: FetchBodySection, Peek: true, Section: Section{Part: []int{1}, Specifier: "HEADER.FIELDS.NOT", Fields: []string{"X-Spam", "X-Me"}}, Partial: &Partial{5, 6}},
	}})},
	{"a FETCH 1 (BINARY[] BINARY.PEEK[1.2]<0.10> BINARY.SIZE[3] BINARY.SIZE[])\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(one(1)), Items: []FetchItem{
		{Kind: FetchBinary},
		{Kind: FetchBinary, Peek: true, Section: Section{Part: []int{1, 2}}, Partial: &Partial{0, 10}},
		{Kind: FetchBinarySize, Section: Section{Part: []int{3}}},
		{Kind: FetchBinarySize},
	}})},
	{"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n", cmd("a", "UID FETCH", &FetchCmd{Set: set(rng(1, Star)), Items: []FetchItem{{Kind: FetchFlags}},
		ChangedSince: 12345, Vanished: true})},
	{"a FETCH 1:* FLAGS (CHANGEDSINCE 9223372036854775807)\r\n", cmd("a", "FETCH", &FetchCmd{Set: set(rng(1, Star)), Items: []FetchItem{{Kind: FetchFlags}},
		ChangedSince: 9223372036854775807})},
	{"a FETCH $ UID\r\n", cmd("a", "FETCH", &FetchCmd{Set: NumSet{SearchRes: true}, Items: []FetchItem{{Kind: FetchUID}}})},
	// SEARCH.
	{"a SEARCH ALL\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("ALL")})},
	{"a UID SEARCH 1:100 UNSEEN\r\n", cmd("a", "UID SEARCH", &SearchCmd{Key: key("AND", &SearchKey{Op: "SEQSET", Set: set(rng(1, 100))}, key("UNSEEN"))})},
	{"a SEARCH RETURN (MIN MAX COUNT ALL SAVE) CHARSET utf-8 FLAGGED\r\n", cmd("a", "SEARCH", &SearchCmd{Return: []string{"MIN", "MAX", "COUNT", "ALL", "SAVE"}, Charset: "UTF-8", Key: key("FLAGGED")})},
	{"a SEARCH RETURN () ALL\r\n", cmd("a", "SEARCH", &SearchCmd{Return: []string{}, Key: key("ALL")})},
	{"a SEARCH CHARSET \"US-ASCII\" TEXT \"x\"\r\n", cmd("a", "SEARCH", &SearchCmd{Charset: "US-ASCII", Key: &SearchKey{Op: "TEXT", Text: "x"}})},
	{"a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		key("ANSWERED"), key("DELETED"), key("DRAFT"), key("FLAGGED"), key("NEW"), key("OLD"), key("RECENT"), key("SEEN"),
		key("UNANSWERED"), key("UNDELETED"), key("UNDRAFT"), key("UNFLAGGED"), key("UNSEEN"))})},
	{"a SEARCH BCC a BODY \"b c\" CC {1}\r\nd FROM e SUBJECT f TEXT g TO h\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		&SearchKey{Op: "BCC", Text: "a"}, &SearchKey{Op: "BODY", Text: "b c"}, &SearchKey{Op: "CC", Text: "d"}, &SearchKey{Op: "FROM", Text: "e"},
		&SearchKey{Op: "SUBJECT", Text: "f"}, &SearchKey{Op: "TEXT", Text: "g"}, &SearchKey{Op: "TO", Text: "h"})})},
	{"a SEARCH KEYWORD $Forwarded UNKEYWORD $Junk\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		&SearchKey{Op: "KEYWORD", Text: "$Forwarded"}, &SearchKey{Op: "UNKEYWORD", Text: "$Junk"})})},
	{"a SEARCH BEFORE 1-Feb-1994 ON \"01-feb-1994\" SINCE 29-Feb-2000 SENTBEFORE 31-Dec-1999 SENTON 1-Jan-2000 SENTSINCE 9-Sep-2009\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		&SearchKey{Op: "BEFORE", Date: date(1994, 2, 1)}, &SearchKey{Op: "ON", Date: date(1994, 2, 1)}, &SearchKey{Op: "SINCE", Date: date(2000, 2, 29)},
		&SearchKey{Op: "SENTBEFORE", Date: date(1999, 12, 31)}, &SearchKey{Op: "SENTON", Date: date(2000, 1, 1)}, &SearchKey{Op: "SENTSINCE", Date: date(2009, 9, 9)})})},
	{"a SEARCH HEADER Message-ID \"<x@y>\" HEADER X-Empty \"\"\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		&SearchKey{Op: "HEADER", Field: "Message-ID", Text: "<x@y>"}, &SearchKey{Op: "HEADER", Field: "X-Empty"})})},
	{"a SEARCH LARGER 10000 SMALLER 5000000000\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		&SearchKey{Op: "LARGER", Number: 10000}, &SearchKey{Op: "SMALLER", Number: 5000000000})})},
	{"a SEARCH OLDER 3600 YOUNGER 60\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		&SearchKey{Op: "OLDER", Number: 3600}, &SearchKey{Op: "YOUNGER", Number: 60})})},
	{"a SEARCH NOT SEEN\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("NOT", key("SEEN"))})},
	{"a SEARCH OR FROM x (TO y SEEN) NOT 1:3,5\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		key("OR", &SearchKey{Op: "FROM", Text: "x"}, key("AND", &SearchKey{Op: "TO", Text: "y"}, key("SEEN"))),
		key("NOT", &SearchKey{Op: "SEQSET", Set: set(rng(1, 3), one(5))}))})},
	{"a SEARCH UID 1:* $\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND", &SearchKey{Op: "UIDSET", Set: set(rng(1, Star))}, &SearchKey{Op: "SEQSET", Set: NumSet{SearchRes: true}})})},
	{"a SEARCH MODSEQ 620162338\r\n", cmd("a", "SEARCH", &SearchCmd{Key: &SearchKey{Op: "MODSEQ", ModSeq: 620162338}})},
	{"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 MODSEQ 0\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND",
		&SearchKey{Op: "MODSEQ", ModSeq: 620162338}, &SearchKey{Op: "MODSEQ"})})},
	{"a SEARCH ((((ALL))))\r\n", cmd("a", "SEARCH", &SearchCmd{Key: key("AND", key("AND", key("AND", key("AND", key("ALL")))))})},
	// APPEND is in TestAppend (bodies are readers).
}

func TestGrammar(t *testing.T) {
	for _, tt := range grammarTable {
		h := newHarness(tt.in, imapwire.DecoderOptions{})
		got, err := h.read()
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, dump(got), dump(tt.want))
		}
		wantCont := strings.Count(tt.in, "}\r\n") - strings.Count(tt.in, "+}\r\n")
		if h.continues != wantCont {
			t.Errorf("%q: Continue called %d times, want %d", tt.in, h.continues, wantCont)
		}
		// The command was read exactly: the next one parses.
		if _, err := h.read(); err != errBlocked {
			t.Errorf("%q: after the command: %v, want nothing more read", tt.in, err)
		}
	}
}

func dump(c *Command) string {
	var b strings.Builder
	b.WriteString(c.Tag + " " + c.Name + " ")
	dumpValue(&b, reflect.ValueOf(c.Args))
	return b.String()
}

func dumpValue(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("&")
		dumpValue(b, v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			b.WriteString(t.String())
			return
		}
		b.WriteString(v.Type().Name() + "{")
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).IsZero() {
				continue
			}
			b.WriteString(v.Type().Field(i).Name + ":")
			dumpValue(b, v.Field(i))
			b.WriteString(" ")
		}
		b.WriteString("}")
	case reflect.Slice:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			dumpValue(b, v.Index(i))
			b.WriteString(" ")
		}
		b.WriteString("]")
	default:
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(reflectString(v), "\n", " "), "\t", " ")))
	}
}

func reflectString(v reflect.Value) string {
	if v.CanInterface() {
		return strings.TrimSpace(strings.Trim(strings.ReplaceAll(stringOf(v.Interface()), "\x00", `\0`), " "))
	}
	return v.String()
}

func stringOf(x any) string {
	switch x := x.(type) {
	case string:
		return `"` + x + `"`
	default:
		return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmtAny(x), "\n", " "), "\r", " "))
	}
}

var _ = io.EOF
