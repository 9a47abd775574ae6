// Package imap is the IMAP4rev2/IMAP4rev1 grammar: it turns command lines
// (read through imapwire.Decoder) into typed commands, and never touches
// storage. Handlers in imapserver take these types and never see bytes.
//
// Every command type documents the RFC section of its grammar. Mailbox names
// in commands are already decoded: modified UTF-7 (RFC 3501 5.1.3) for
// clients that have not enabled UTF-8, UTF-8 after ENABLE IMAP4rev2 or
// UTF8=ACCEPT; "INBOX" is matched case-insensitively by the store, not here.
package imap
