package mailstore

import "context"

// HeaderReader is an optional interface of Account (type-assert it): a
// backend that implements it reads the top-level headers of many messages
// with one metadata lookup, for SEARCH keys that only look at header
// fields (FROM, SUBJECT, HEADER, SENTON, ... RFC 9051 6.4.4). Backends
// without it are read message by message through Cache and Open.
type HeaderReader interface {
	// Headers calls fn once for each message of uids (ascending) that
	// exists in mbox, in ascending UID order, with the message's top-level
	// header: its first min(header size, max) octets, the header size
	// counting the blank line that ends it (the whole message if it has
	// none). Messages not in the mailbox, or expunged while they are read,
	// are skipped. hdr is only valid during the call. KindNotFound if the
	// mailbox does not exist; an error from fn stops the read and is
	// returned as it is.
	Headers(ctx context.Context, mbox MailboxID, uids []UID, max int64, fn func(uid UID, hdr []byte) error) error
}
