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
