package mailstore

import "context"

// MetaSearcher is an optional interface of Account (type-assert it): a
// backend that implements it evaluates search conditions on a message's
// internal date and size (IMAP SEARCH BEFORE/ON/SINCE/LARGER/SMALLER, RFC
// 9051 6.4.4) in the database, so only the matching UIDs leave it. Both
// values never change after a message is stored, so the answer is valid
// for any view of the mailbox: the caller intersects it with the UIDs it
// shows. Backends without it are searched message by message through
// Metas.
type MetaSearcher interface {
	// SearchMeta returns the UIDs of the messages of mbox that satisfy
	// cond, ascending. KindNotFound if the mailbox does not exist.
	SearchMeta(ctx context.Context, mbox MailboxID, cond MetaCond) ([]UID, error)
}

// MetaOp is the operator of a MetaCond.
type MetaOp int

const (
	MetaAll       MetaOp = iota // every message
	MetaAnd                     // every child holds
	MetaOr                      // some child holds
	MetaNot                     // the one child does not hold
	MetaDayBefore               // internal date's day < Day
	MetaDayOn                   // internal date's day == Day
	MetaDaySince                // internal date's day >= Day
	MetaLarger                  // size > Size
	MetaSmaller                 // size < Size
)

// MetaCond is a condition on a message's internal date and size. Day
// counts days since 1970-01-01; a message's day is the calendar date of
// its internal date in the message's own zone (InternalDate's location),
// as IMAP compares dates "disregarding time and timezone". Size is the
// RFC822.SIZE in octets.
type MetaCond struct {
	Op       MetaOp
	Day      int64
	Size     int64
	Children []MetaCond
}
