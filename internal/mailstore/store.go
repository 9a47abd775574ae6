package mailstore

import (
	"context"
	"io"
)

// Store is a mail store holding many accounts. It is safe for concurrent use.
type Store interface {
	// Account opens the account of user, creating it (with
	// DefaultMailboxes) on first use. user must be a name that
	// authentication returned; the store maps it to storage without ever
	// building a path from an unchecked string. The caller must Close the
	// account when done; accounts are shared and reference counted.
	Account(ctx context.Context, user string) (Account, error)

	// Watch returns a channel that receives a value (non-blocking send,
	// buffer 1) after every committed change to user's account, and a
	// function that stops the watch. It carries no data: watchers call
	// Account.Changes to learn what changed.
	Watch(user string) (<-chan struct{}, func())

	// Close closes the store. Open accounts become unusable.
	Close() error
}

// Account is one user's mail. All methods are safe for concurrent use by
// several sessions. No method holds a lock or transaction after it returns,
// so callers may write to sockets freely between calls.
type Account interface {
	// User returns the account's user name.
	User() string

	// Mailboxes lists all mailboxes, sorted by name, INBOX first.
	Mailboxes(ctx context.Context) ([]Mailbox, error)
	// Mailbox returns the mailbox called name ("inbox" in any case means
	// INBOX). KindNotFound if there is none.
	Mailbox(ctx context.Context, name string) (Mailbox, error)
	// CreateMailbox creates a mailbox with a fresh UIDVALIDITY. Missing
	// parent mailboxes are created too (RFC 9051 6.3.4). KindExists if it
	// exists, KindInvalid for a bad name.
	CreateMailbox(ctx context.Context, name, specialUse string) (Mailbox, error)
	// DeleteMailbox deletes a mailbox and its messages. Deleting INBOX is
	// KindNoPerm. Children are kept (RFC 9051 6.3.5).
	DeleteMailbox(ctx context.Context, name string) error
	// RenameMailbox renames a mailbox and its children, keeping their
	// UIDVALIDITY. Renaming INBOX moves its messages to the new mailbox and
	// leaves INBOX empty (RFC 9051 6.3.6).
	RenameMailbox(ctx context.Context, from, to string) error
	// SetSubscribed subscribes or unsubscribes a mailbox name. A
	// subscription may name a mailbox that does not exist.
	SetSubscribed(ctx context.Context, name string, subscribed bool) error
	// Subscriptions lists subscribed names, sorted.
	Subscriptions(ctx context.Context) ([]string, error)
	// Status returns a mailbox's counters.
	Status(ctx context.Context, name string) (Status, error)

	// Append stores a message read from body in the named mailbox and
	// returns the mailbox (with the new UIDNEXT, HIGHESTMODSEQ) and the new
	// message's UID. It returns only once the message is durable (blob
	// fsynced, metadata committed). KindTooBig if body exceeds the store's
	// size limit; body is then not read further than the limit.
	//
	// Quota (RFC 9208 4.2): KindOverQuota if the account's usage plus this
	// message would go over a limit of the store's QuotaFunc (see
	// Quota.Exceeds). The check and the usage update are in the same write
	// transaction as the insert, so concurrent appends never take usage
	// past a limit: of two appends that each fit alone but not together,
	// exactly one succeeds. The message is stored before the check (its
	// size is known only then) and deleted again when refused.
	Append(ctx context.Context, mailbox string, msg NewMessage, body io.Reader) (Mailbox, UID, error)

	// Messages returns the metadata of every message in the mailbox, in UID
	// order.
	Messages(ctx context.Context, mbox MailboxID) ([]MessageMeta, error)
	// Changes returns what changed in the mailbox after since (see
	// Changes). since = 0 returns every message.
	Changes(ctx context.Context, mbox MailboxID, since ModSeq) (Changes, error)
	// View returns the mailbox's UIDs as runs, HIGHESTMODSEQ, UIDNEXT,
	// first unseen UID and keywords in use, from one read transaction.
	// Its cost does not grow with the number of messages when UIDs are
	// dense (SELECT of a large mailbox, docs/imap-scale.md).
	View(ctx context.Context, mbox MailboxID) (MailboxView, error)
	// Metas returns the metadata of the given messages (uids ascending),
	// in UID order; messages not in the mailbox are left out.
	Metas(ctx context.Context, mbox MailboxID, uids []UID) ([]MessageMeta, error)
	// ScanFlags calls fn with the UID, MODSEQ and flags of every message
	// of the mailbox, in UID order, from one read transaction: a narrow
	// read (no dates or sizes) for sessions that keep a compact flag
	// cache. flags may be shared between calls and must not be modified.
	// An error from fn ends the scan and is returned.
	ScanFlags(ctx context.Context, mbox MailboxID, fn func(uid UID, modSeq ModSeq, flags []string) error) error
	// Cache returns the cached ENVELOPE/BODYSTRUCTURE/part tree of the
	// given messages, in the order of uids; expunged messages are left out.
	Cache(ctx context.Context, mbox MailboxID, uids []UID) ([]MessageCache, error)
	// Open opens the stored bytes of a message. KindExpunged if the message
	// no longer exists. Reading needs no transaction; the bytes stay
	// readable after an expunge until Close.
	Open(ctx context.Context, mbox MailboxID, uid UID) (Body, error)

	// StoreFlags changes the flags of the given messages; each changed
	// message gets a new MODSEQ. With unchangedSince > 0, messages whose
	// MODSEQ is greater are left alone and returned in failed (RFC 7162
	// 3.1.3). updated holds the new state of every message that matched,
	// changed or not, in UID order.
	StoreFlags(ctx context.Context, mbox MailboxID, uids []UID, op FlagOp, flags []string, unchangedSince ModSeq) (updated []MessageMeta, failed []UID, err error)
	// Expunge removes messages and leaves tombstones. With OnlyDeleted,
	// only messages that have \Deleted are removed. A nil UIDs means every
	// message in the mailbox. It returns the UIDs removed, in order.
	// Usage goes down by the removed messages in the same transaction
	// (DeleteMailbox likewise for the mailbox's messages).
	Expunge(ctx context.Context, mbox MailboxID, opts ExpungeOptions) ([]UID, error)
	// Copy copies messages to the mailbox named dst, keeping flags and
	// internal dates; the bytes are shared, not duplicated. Copies count
	// against the quota at their full size: KindOverQuota (nothing copied)
	// if usage plus all the copies would go over a limit, checked in the
	// copy's transaction as for Append.
	Copy(ctx context.Context, src MailboxID, uids []UID, dst string) (CopyResult, error)
	// Move moves messages to dst atomically: the copy and the expunge are
	// one transaction (RFC 6851). Usage does not change, so Move is never
	// refused for quota, even when the account is over its limits.
	Move(ctx context.Context, src MailboxID, uids []UID, dst string) (CopyResult, error)

	// Quota returns the user's limits (from the store's QuotaFunc) and the
	// account's usage. Usage comes from a counter the backend keeps up to
	// date in the same transaction as every change to the messages, so the
	// call costs the same for any number of messages.
	Quota(ctx context.Context) (Quota, Usage, error)
	// RecalcUsage counts the account's messages and sizes again, stores the
	// result as the counter Quota reads, and returns it. It is the repair
	// tool for a counter suspected wrong ("roost quota recalc"); with a
	// correct backend it changes nothing.
	RecalcUsage(ctx context.Context) (Usage, error)

	// LockMaildrop takes the account's exclusive POP3 maildrop lock
	// (RFC 1939 section 8). KindInUse if another session holds it. The
	// returned function releases it.
	LockMaildrop(ctx context.Context) (release func(), err error)

	// Close releases this reference to the account.
	Close() error
}

// ExpungeOptions selects what Expunge removes.
type ExpungeOptions struct {
	UIDs        []UID // nil: all messages
	OnlyDeleted bool  // only messages flagged \Deleted
}

// CopyResult is what COPYUID/MOVE need (RFC 4315): source and destination
// UIDs in matching order.
type CopyResult struct {
	DestUIDValidity UIDValidity
	Source          []UID
	Dest            []UID
}

// Body is an open stored message.
type Body interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	Size() int64
}
