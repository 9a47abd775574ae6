package mailstore

import (
	"context"
	"io"
)

// Importer is an optional Account capability for migration tools (roost
// import): it keeps the UIDVALIDITY and UIDs another server gave out, so
// that IMAP clients need not download mail again and POP3 UIDLs, which are
// derived from UID and UIDVALIDITY, stay the same. Callers check for it
// with a type assertion; a backend without it cannot keep UIDs.
type Importer interface {
	// ImportMailbox makes sure the mailbox name exists with UIDVALIDITY
	// uidValidity and a UIDNEXT of at least uidNext (it never goes down).
	// A missing mailbox and its missing parents are created. An existing
	// mailbox with another UIDVALIDITY takes the new one only if it has
	// never held a message (UIDNEXT 1), as a new account's default
	// mailboxes; otherwise the result is KindExists. Another mailbox that
	// has never held a message and happens to use uidValidity is given a
	// fresh UIDVALIDITY; if it has held messages, KindExists.
	ImportMailbox(ctx context.Context, name string, uidValidity UIDValidity, uidNext UID) (Mailbox, error)

	// AppendUID is Append with the UID chosen by the caller. uid must not
	// be below the mailbox's UIDNEXT: KindExists if it is (the UID was
	// given out already, by an earlier import or otherwise), checked
	// before body is read, so a repeated import skips what it stored.
	// UIDNEXT becomes uid+1. AppendUID is not refused for quota: a
	// migration must not lose mail, so imported messages are counted in
	// usage but the limits are not checked (as Dovecot's dsync ignores
	// quota limits while it syncs); the account may end over quota.
	AppendUID(ctx context.Context, mailbox string, uid UID, msg NewMessage, body io.Reader) (Mailbox, error)
}

// ImportLedger is an optional Account capability beside Importer: the
// import ledger records every message an import stored, by its identity
// in the source, in the account itself, so that a second run imports
// exactly what is new even when the account changed meanwhile (deliveries
// took the next UIDs, the user moved or expunged imported messages).
// Without it an import can only skip by UID (below UIDNEXT), which skips
// new source messages whose UIDs a delivery took.
type ImportLedger interface {

	// ImportMessage stores a message from another server in mailbox and
	// records src in the ledger, in one transaction. It takes UID uid
	// when uid is not 0 and not below UIDNEXT, and UIDNEXT otherwise.
	// KindExists, before body is read, if src.Key is in the ledger
	// already. Unlike Append it is not refused for quota (the mail
	// exists already; it is counted).
	ImportMessage(ctx context.Context, mailbox string, uid UID, src ImportSource, msg NewMessage, body io.Reader) (Mailbox, UID, error)

	// Imported reports whether key is in the ledger.
	Imported(ctx context.Context, key string) (bool, error)

	// ImportedByMessageID returns the ledger records of messages with
	// this Message-ID (not empty), for recognizing a message whose source
	// identity changed (an mbox rewritten, a Maildir file renamed).
	ImportedByMessageID(ctx context.Context, messageID string) ([]ImportRecord, error)

	// ImportMessages is ImportMessage for a run of messages into one
	// mailbox, in order: the backend may store their bodies concurrently
	// and commit them in one transaction, so that a large import does not
	// wait for one commit per message. Results are in the order of items;
	// an item whose key is in the ledger gets KindExists, one over the
	// size limit KindTooBig, without failing the others. Any other
	// failure fails the call, and nothing of it is stored.
	ImportMessages(ctx context.Context, mailbox string, items []ImportItem) ([]ImportResult, error)

	// MailboxImported reports whether any ledger record points at the
	// mailbox: false for a mailbox filled by an import that predates the
	// ledger (and for one never imported into).
	MailboxImported(ctx context.Context, mailbox string) (bool, error)

	// AdoptImport records src for the message with UID uid in mailbox,
	// which an import that predates the ledger stored (it skipped by UID
	// alone), so that runs from now on skip it by key. Nothing is stored;
	// the UID need not exist any more (the user may have moved or
	// expunged the message). KindExists if src.Key is recorded already.
	AdoptImport(ctx context.Context, mailbox string, uid UID, src ImportSource) error

	// RekeyImport changes a ledger record's key from oldKey to newKey,
	// once the message behind newKey was recognized as oldKey's.
	// KindNotFound if oldKey is not there, KindExists if newKey is.
	RekeyImport(ctx context.Context, oldKey, newKey string) error
}

// ImportSource identifies a message in the source of an import.
type ImportSource struct {
	// Key is the message's identity in its source, unique across the
	// account's imports: "maildir:" and the file's base name (which
	// survives flag changes and moves between folders), or "mbox:", the
	// mailbox, the offset of the message in its file and a hash of its
	// header.
	Key string
	// MessageID is the Message-ID field's body ("<x@y>"), or "".
	MessageID string
}

// ImportRecord is one ledger record.
type ImportRecord struct {
	Key       string
	MessageID string
	Size      int64 // stored size (CRLF octets)
	Mailbox   MailboxID
	UID       UID
}

// ImportItem is one message for ImportMessages.
type ImportItem struct {
	UID UID // as for ImportMessage: kept if not 0 and not below UIDNEXT
	Src ImportSource
	Msg NewMessage
	// Open returns the message's bytes as they are to be stored. It is
	// called at most once, possibly from another goroutine.
	Open func() (io.ReadCloser, error)
}

// ImportResult is the outcome of one ImportItem.
type ImportResult struct {
	UID  UID   // given, if stored
	Size int64 // stored size, if stored
	Err  error // nil (stored), KindExists or KindTooBig
}
