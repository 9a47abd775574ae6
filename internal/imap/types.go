package imap

import (
	"time"

	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
)

// NumRange is one element of a sequence set (RFC 9051 9, seq-range).
// Star is the value 0: "*", the largest number in use. Start may be greater
// than Stop ("5:2" means "2:5"). It is the decoder's type, so Ranges can be
// handed to imapwire.Encoder.NumSet as is.
type NumRange = imapwire.NumRange

// NumSet is a sequence set of message sequence numbers or UIDs (which one is
// known from the command). SearchRes is set for "$" (RFC 5182): the result
// of the last SEARCH with RETURN (SAVE); Ranges is then empty.
type NumSet struct {
	Ranges    []NumRange
	SearchRes bool
}

// Star is the value of "*" in a NumRange.
const Star = 0

// Command is one parsed command. Args holds a pointer to one of the *Cmd
// types below, chosen by Name.
type Command struct {
	Tag  string
	Name string // canonical upper case: "FETCH", "UID FETCH", "AUTHENTICATE"
	UID  bool   // the UID variant of COPY/MOVE/FETCH/STORE/SEARCH/EXPUNGE
	Args any
}

// NoArgs is the Args of commands without arguments: CAPABILITY, NOOP,
// LOGOUT, STARTTLS, CHECK, CLOSE, UNSELECT, EXPUNGE, IDLE, NAMESPACE.
type NoArgs struct{}

// LoginCmd is LOGIN (RFC 9051 6.2.3).
type LoginCmd struct{ User, Password string }

// AuthenticateCmd is AUTHENTICATE (RFC 9051 6.2.2) with the optional
// initial response of SASL-IR (RFC 4959): nil when absent, empty and non-nil
// for "=".
type AuthenticateCmd struct {
	Mechanism       string // upper case
	InitialResponse []byte // base64-decoded
}

// EnableCmd is ENABLE (RFC 5161).
type EnableCmd struct{ Caps []string } // upper case

// CompressCmd is COMPRESS (RFC 4978).
type CompressCmd struct{ Mechanism string } // upper case: "DEFLATE"

// IDCmd is ID (RFC 2971). Params is nil for "ID NIL".
type IDCmd struct{ Params map[string]string }

// SelectCmd is SELECT or EXAMINE (RFC 9051 6.3.2, 6.3.3), with the
// CONDSTORE and QRESYNC parameters of RFC 7162.
type SelectCmd struct {
	Mailbox   string
	ReadOnly  bool // EXAMINE
	CondStore bool
	QResync   *QResyncParams
}

// QResyncParams is SELECT's QRESYNC parameter (RFC 7162 3.2.5).
type QResyncParams struct {
	UIDValidity mailstore.UIDValidity
	ModSeq      mailstore.ModSeq
	KnownUIDs   *NumSet
	SeqMatch    *struct{ Seqs, UIDs NumSet }
}

// CreateCmd is CREATE (RFC 9051 6.3.4) with the USE parameter of RFC 6154.
type CreateCmd struct {
	Mailbox    string
	SpecialUse []string
}

// DeleteCmd is DELETE (RFC 9051 6.3.5).
type DeleteCmd struct{ Mailbox string }

// RenameCmd is RENAME (RFC 9051 6.3.6).
type RenameCmd struct{ From, To string }

// SubscribeCmd is SUBSCRIBE or UNSUBSCRIBE (RFC 9051 6.3.7, 6.3.8).
type SubscribeCmd struct {
	Mailbox     string
	Unsubscribe bool
}

// ListCmd is LIST (RFC 9051 6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS
// RFC 5819, SPECIAL-USE RFC 6154) or LSUB (RFC 3501 6.3.9).
type ListCmd struct {
	LSUB      bool
	Reference string
	Patterns  []string // one for the basic form; several with LIST-EXTENDED

	// Selection options (RFC 5258 3.1), upper case: SUBSCRIBED, REMOTE,
	// RECURSIVEMATCH, SPECIAL-USE.
	Selection []string
	// Return options (RFC 5258 3.2): SUBSCRIBED, CHILDREN, SPECIAL-USE,
	// and STATUS with its items (RFC 5819).
	ReturnSubscribed, ReturnChildren, ReturnSpecialUse bool
	ReturnStatus                                       []string // nil: no STATUS; upper case items
	// Extended reports whether the extended syntax was used (a selection
	// or return option, or a pattern list); RFC 5258 response rules apply.
	Extended bool
}

// StatusCmd is STATUS (RFC 9051 6.3.11). Items are upper case: MESSAGES,
// UIDNEXT, UIDVALIDITY, UNSEEN, DELETED, SIZE, RECENT, HIGHESTMODSEQ,
// APPENDLIMIT.
type StatusCmd struct {
	Mailbox string
	Items   []string
}

// AppendCmd is APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502): one or
// more messages, all stored or none. The parser has already read every
// literal; message bodies are spooled (in memory when small, in a temporary
// file otherwise) and Body is open for reading. The handler must Close each
// Body.
type AppendCmd struct {
	Mailbox  string
	Messages []AppendMessage
}

// AppendMessage is one message of APPEND.
type AppendMessage struct {
	Flags  []string  // as given; canonical system flags
	Date   time.Time // zero when absent
	Body   Literal
	Binary bool // literal8 "~{n}" (RFC 3516)
	UTF8   bool // UTF8 (...) data item (RFC 6855)
}

// Literal is a spooled literal.
type Literal interface {
	Read(p []byte) (int, error)
	Size() int64
	Close() error
}

// FetchCmd is FETCH / UID FETCH (RFC 9051 6.4.5) with CHANGEDSINCE and
// VANISHED (RFC 7162).
type FetchCmd struct {
	Set   NumSet
	Items []FetchItem
	// Macro is ALL, FAST or FULL when the client used one (Items holds its
	// expansion).
	Macro        string
	ChangedSince mailstore.ModSeq // 0: absent
	Vanished     bool
}

// FetchItemKind is the kind of a FETCH data item.
type FetchItemKind int

const (
	FetchFlags FetchItemKind = iota
	FetchInternalDate
	FetchRFC822Size
	FetchEnvelope
	FetchBody          // BODY (non-extensible BODYSTRUCTURE)
	FetchBodyStructure // BODYSTRUCTURE
	FetchUID
	FetchModSeq
	FetchBodySection // BODY[...] and BODY.PEEK[...]
	FetchBinary      // BINARY[...] and BINARY.PEEK[...]
	FetchBinarySize  // BINARY.SIZE[...]
	FetchRFC822      // RFC822 (= BODY[], sets \Seen)
	FetchRFC822Header
	FetchRFC822Text
	FetchSaveDate // SAVEDATE (RFC 8514)
	FetchEmailID  // EMAILID (RFC 8474)
	FetchThreadID // THREADID (RFC 8474)
	FetchPreview  // PREVIEW (RFC 8970)
)

// FetchItem is one FETCH data item.
type FetchItem struct {
	Kind FetchItemKind
	// For FetchBodySection, FetchBinary, FetchBinarySize:
	Section Section
	Peek    bool // BODY.PEEK / BINARY.PEEK: do not set \Seen
	// Partial is <offset.count>; nil when absent.
	Partial *Partial
	// PreviewLazy is PREVIEW (LAZY) (RFC 8970 3.1).
	PreviewLazy bool
}

// Section is a body section specifier (RFC 9051 6.4.5): a part number
// path and an optional text specifier.
type Section struct {
	Part []int // "1.2.3"; empty for the whole message
	// Specifier is "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
	// "TEXT" or "MIME".
	Specifier string
	Fields    []string // header field names for HEADER.FIELDS (.NOT), as given
}

// Partial is the <offset.count> of a section fetch.
type Partial struct{ Offset, Count int64 }

// StoreCmd is STORE / UID STORE (RFC 9051 6.4.6) with UNCHANGEDSINCE
// (RFC 7162 3.1.3).
type StoreCmd struct {
	Set            NumSet
	Op             mailstore.FlagOp
	Silent         bool
	Flags          []string
	UnchangedSince mailstore.ModSeq // meaningful when HasUnchangedSince
	// HasUnchangedSince reports the UNCHANGEDSINCE modifier; "UNCHANGEDSINCE
	// 0" is valid (RFC 7162 mod-sequence-valzer) and fails every message.
	HasUnchangedSince bool
}

// CopyCmd is COPY / UID COPY (RFC 9051 6.4.7) or MOVE / UID MOVE (RFC
// 6851).
type CopyCmd struct {
	Set     NumSet
	Mailbox string
	Move    bool
}

// ExpungeCmd is UID EXPUNGE (RFC 4315 2.1); plain EXPUNGE has NoArgs.
type ExpungeCmd struct{ Set NumSet }

// SearchCmd is SEARCH / UID SEARCH (RFC 9051 6.4.4) with ESEARCH RETURN
// options (RFC 4731, RFC 5182 SAVE).
type SearchCmd struct {
	Charset string // "" when absent; upper case
	// Return is nil without RETURN (classic SEARCH response unless the
	// client is IMAP4rev2, which always gets ESEARCH); non-nil and empty
	// for "RETURN ()" (means ALL). Upper case: MIN, MAX, ALL, COUNT, SAVE.
	Return []string
	Key    *SearchKey
}

// SearchKey is a node of the search-key tree (RFC 9051 6.4.4). Op selects
// which fields are used.
type SearchKey struct {
	Op string // upper-case search key name: "ALL", "ANSWERED", "BCC", "BEFORE", ..., plus "AND" (a parenthesized list or implicit conjunction), "OR", "NOT", "SEQSET", "UIDSET"

	Children []*SearchKey     // AND: all; OR: exactly two; NOT: one
	Set      NumSet           // SEQSET, UIDSET
	Text     string           // string argument: BCC, BODY, CC, FROM, SUBJECT, TEXT, TO, KEYWORD, UNKEYWORD
	Field    string           // HEADER field-name
	Date     time.Time        // BEFORE, ON, SINCE, SENTBEFORE, SENTON, SENTSINCE (date only, UTC midnight)
	Number   int64            // LARGER, SMALLER (octets); OLDER, YOUNGER (seconds)
	ModSeq   mailstore.ModSeq // MODSEQ (RFC 7162); entry name and type are ignored for matching
}

// SyntaxError is a command the grammar rejects; the server answers BAD with
// Msg (which never echoes raw client bytes beyond a short, sanitized
// excerpt). Tag is the command's tag when it could be read ("*" otherwise).
// When ReadCommand returns a *SyntaxError, the rest of the command
// (including any non-synchronizing literal bytes) has been consumed, so the
// stream stays in sync.
type SyntaxError struct {
	Tag string
	Msg string

	// Name is the command name (canonical upper case, "UID FETCH") when it
	// could be read; "" otherwise. With Msg "Unknown command" it is the
	// unknown name.
	Name string
	// Code is a response code to send with the answer, without brackets:
	// "TOOBIG" when a literal was refused (Literal is set), "" otherwise.
	Code string
	// Literal is set when a literal was refused by
	// DecoderOptions.CheckLiteral or by ParseOptions.MaxAppendSize
	// (errors.Is(err, ErrTooBig)): RFC 7889 wants NO [TOOBIG] for an
	// APPEND over APPENDLIMIT; RFC 7888 4 wants BAD for an oversize
	// LITERAL- literal. When Literal.NonSync is false the client is still
	// waiting for a continuation: the tagged answer ends the command.
	Literal *imapwire.LiteralError
	// Err is the underlying error: imapwire.ErrLineTooLong, the literal's
	// refusal, or a failure to spool an APPEND body (then the answer
	// should be NO, not BAD).
	Err error
}

func (e *SyntaxError) Error() string { return e.Msg }

// Unwrap returns Err.
func (e *SyntaxError) Unwrap() error { return e.Err }
