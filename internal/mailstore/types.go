// Package mailstore is the storage API used by every protocol (IMAP, POP3,
// LMTP) and by the admin CLI. Backends (SQLite, later PostgreSQL) implement
// Store and Account; storetest is the conformance suite they must all pass.
//
// Model (DESIGN.md section 1, decision 3):
//   - every mailbox has a UIDVALIDITY that never changes while it exists, a
//     UIDNEXT, and a HIGHESTMODSEQ;
//   - every change to a message (append, flag change, expunge) gets a new
//     MODSEQ, strictly greater than every earlier one in that mailbox;
//   - an expunge leaves a tombstone (uid, modseq) so that sessions and
//     offline clients can ask "what changed since modseq X";
//   - message bytes are immutable blobs, stored durably (fsync) before the
//     metadata commit; a method that adds mail returns only once both are
//     durable.
//
// Sessions learn of other sessions' changes by calling Changes at sync points;
// Store.Watch only wakes them up (a lost wake-up costs latency, never
// correctness).
package mailstore

import (
	"strings"
	"time"
)

// UID is an IMAP unique identifier (RFC 9051 2.3.1.1), strictly ascending in
// a mailbox and never reused while UIDVALIDITY stays the same.
type UID uint32

// UIDValidity is the IMAP UIDVALIDITY value of a mailbox.
type UIDValidity uint32

// ModSeq is a modification sequence (RFC 7162).
type ModSeq uint64

// SeqNum is an IMAP message sequence number. The store never uses it; it is
// defined here so all protocol packages share one type.
type SeqNum uint32

// MailboxID is the backend's stable identifier for a mailbox. It survives a
// rename; it is never shown to clients.
type MailboxID int64

// System flags (RFC 9051 2.3.2). Keywords are any other atoms. Flags are
// stored with this exact case; keywords keep the case of first use and are
// compared case-insensitively.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// SystemFlags lists the permanent system flags in canonical form.
var SystemFlags = []string{FlagAnswered, FlagFlagged, FlagDeleted, FlagSeen, FlagDraft}

// CanonicalFlag returns the canonical spelling of a system flag
// (`\SEEN` -> `\Seen`) and returns keywords unchanged.
func CanonicalFlag(f string) string {
	for _, s := range SystemFlags {
		if strings.EqualFold(s, f) {
			return s
		}
	}
	return f
}

// Special-use attributes (RFC 6154).
const (
	SpecialAll     = `\All`
	SpecialArchive = `\Archive`
	SpecialDrafts  = `\Drafts`
	SpecialFlagged = `\Flagged`
	SpecialJunk    = `\Junk`
	SpecialSent    = `\Sent`
	SpecialTrash   = `\Trash`
)

// DefaultMailboxes are created with every new account, in this order.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Drafts", SpecialDrafts},
	{"Sent", SpecialSent},
	{"Trash", SpecialTrash},
	{"Junk", SpecialJunk},
	{"Archive", SpecialArchive},
}

// HierarchySeparator separates levels of mailbox names ("Archive/2026").
const HierarchySeparator = '/'

// Mailbox describes one mailbox. Name is the full UTF-8 name with '/' as the
// hierarchy separator; "INBOX" is always spelled in upper case.
type Mailbox struct {
	ID            MailboxID
	Name          string
	UIDValidity   UIDValidity
	UIDNext       UID
	HighestModSeq ModSeq
	SpecialUse    string // "" or one of the Special* constants
	Subscribed    bool
}

// Status holds the counters of a mailbox (IMAP STATUS, POP3 STAT).
type Status struct {
	Mailbox
	Messages uint32
	Unseen   uint32 // messages without \Seen
	Deleted  uint32 // messages with \Deleted
	Size     int64  // sum of message sizes in octets
}

// MessageMeta is the narrow per-message record: what a session needs to keep
// its view of a mailbox and to answer FLAGS/UID/RFC822.SIZE/INTERNALDATE.
type MessageMeta struct {
	UID          UID
	ModSeq       ModSeq
	Flags        []string // canonical system flags and keywords, sorted
	InternalDate time.Time
	Size         int64 // octets of the stored message (CRLF line endings)
}

// HasFlag reports whether the message has flag f (case-insensitive).
func (m *MessageMeta) HasFlag(f string) bool {
	for _, g := range m.Flags {
		if strings.EqualFold(g, f) {
			return true
		}
	}
	return false
}

// MessageCache is what is computed once at delivery and read by FETCH:
// the IMAP ENVELOPE and BODYSTRUCTURE in wire syntax and the MIME part tree
// (with byte offsets) in the message package's serialized form.
type MessageCache struct {
	UID           UID
	Envelope      string // IMAP ENVELOPE, parenthesized list
	BodyStructure string // IMAP BODYSTRUCTURE (extended form)
	Body          string // IMAP BODY (non-extended form)
	Parts         []byte // serialized message.Part tree (message.MarshalParts)
	HeaderSize    int64  // octets of the top-level header including the blank line
}

// Changes is the answer to "what changed in this mailbox since modseq X".
type Changes struct {
	HighestModSeq ModSeq
	UIDNext       UID
	// Updated holds every message whose MODSEQ is greater than since: new
	// messages and flag changes, in UID order.
	Updated []MessageMeta
	// Expunged holds the UIDs of tombstones whose MODSEQ is greater than
	// since, in UID order.
	Expunged []UID
}

// NewMessage is a message to add to a mailbox. Body must produce the exact
// bytes to store (callers normalize line endings to CRLF beforehand; see
// message.NewCRLFReader).
type NewMessage struct {
	Flags        []string
	InternalDate time.Time // zero means now
}

// FlagOp says how StoreFlags changes flags (RFC 9051 6.4.6).
type FlagOp int

const (
	FlagsReplace FlagOp = iota // FLAGS
	FlagsAdd                   // +FLAGS
	FlagsRemove                // -FLAGS
)

// UIDRange is a run of consecutive UIDs, First through Last inclusive.
type UIDRange struct {
	First, Last UID
}

// MailboxView is what a session needs to select a mailbox, read in one
// transaction without a row per message crossing the API
// (docs/imap-scale.md): the UIDs as runs of consecutive UIDs (a mailbox
// whose UIDs are dense is one run, whatever its size) and the counters
// SELECT reports.
type MailboxView struct {
	HighestModSeq ModSeq
	UIDNext       UID
	// UIDs holds every message's UID as ascending, disjoint runs; no two
	// runs touch (a run ends where the next UID is missing).
	UIDs []UIDRange
	// Messages is the number of messages (the sum of the runs' lengths).
	Messages uint32
	// FirstUnseen is the lowest UID without \Seen, 0 if every message has
	// it.
	FirstUnseen UID
	// Keywords lists the keywords set on some message of the mailbox,
	// sorted.
	Keywords []string
}

// Quota is a user's limits. A zero field means no limit on that resource.
// Storage is in octets and counts every stored message at its full size
// (RFC 9208 5.1 STORAGE; a copy counts again even though the bytes are
// shared, as Dovecot's count backend does); Messages counts messages in all
// mailboxes (RFC 9208 5.2 MESSAGE).
type Quota struct {
	Storage  int64
	Messages int64
}

// Usage is what an account currently holds, in the units of Quota: the sum
// of the sizes and the number of all its messages in every mailbox.
type Usage struct {
	Storage  int64
	Messages int64
}

// Exceeds reports whether adding storage octets in messages messages to u
// would go over a limit of q. Reaching a limit exactly is allowed. Storing
// nothing (messages and storage 0) never exceeds.
func (q Quota) Exceeds(u Usage, storage, messages int64) bool {
	if storage <= 0 && messages <= 0 {
		return false
	}
	return q.Storage > 0 && u.Storage+storage > q.Storage ||
		q.Messages > 0 && u.Messages+messages > q.Messages
}

// Full reports whether u is at or over a limit of q, so that not even an
// empty message fits: what LMTP checks at RCPT time.
func (q Quota) Full(u Usage) bool {
	return q.Storage > 0 && u.Storage >= q.Storage ||
		q.Messages > 0 && u.Messages >= q.Messages
}

// QuotaFunc returns the limits of user. A backend calls it (once per
// operation that adds messages, and from Account.Quota), so it must be
// cheap and safe for concurrent use; changing what it returns takes effect
// on the next call. A nil QuotaFunc means no limits for anyone.
type QuotaFunc func(user string) Quota
