package mailstore

import "context"

// SystemFlagSearcher is an optional interface of Account (type-assert
// it): a backend that implements it answers a conjunction of system-flag
// conditions (IMAP SEARCH SEEN, UNSEEN, DELETED, UNDELETED, ... RFC 9051
// 6.4.4) in the database, so only the matching UIDs leave it, instead of
// every message's metadata. The answer is the store's current state, as
// Metas would give it; the caller intersects it with the UIDs it shows.
// Backends without it are searched through Metas.
type SystemFlagSearcher interface {
	// SearchSystemFlags returns, ascending, the UIDs of the messages of
	// mbox that have every flag of set and none of clear. Both hold
	// system flags only (\Seen, \Answered, \Flagged, \Deleted, \Draft):
	// KindInvalid otherwise. KindNotFound if the mailbox does not exist.
	SearchSystemFlags(ctx context.Context, mbox MailboxID, set, clear []string) ([]UID, error)
}
