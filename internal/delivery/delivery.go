// Package delivery puts incoming mail into accounts. It is shared by
// `roost deliver` (the dovecot-lda equivalent), and later LMTP and import, so
// that every way in resolves recipients, normalizes line endings and saves
// durably the same way.
package delivery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// ErrUnknownUser is returned when the recipient has no account.
var ErrUnknownUser = errors.New("unknown user")

// Users is the userdb lookup (auth.Service satisfies it): LookupUser
// returns the account name that a login as user gets (after
// auth_username_format, or the passdb entry's "user" field), or false when
// no such user exists.
type Users interface {
	LookupUser(ctx context.Context, user string) (account string, ok bool, err error)
}

// Options configure a Deliverer.
type Options struct {
	Store  mailstore.Store
	Users  Users
	Logger *slog.Logger
}

// Deliverer saves messages into accounts.
type Deliverer struct {
	opts Options
	log  *slog.Logger
}

// New returns a Deliverer.
func New(opts Options) *Deliverer {
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{opts: opts, log: l}
}

// Result describes a saved message.
type Result struct {
	User    string // the account it went to (see Users)
	Mailbox string
	UID     mailstore.UID
}

// Deliver reads one message from r and saves it in user's mailbox (INBOX if
// mailbox is empty). Line endings are normalized to CRLF, so stored sizes are
// CRLF octet counts. If mailbox does not exist the message goes to INBOX, as
// dovecot-lda does without lda_mailbox_autocreate. Deliver returns only once
// the message is durable.
//
// Errors: ErrUnknownUser; a *mailstore.Error of KindTooBig or
// KindOverQuota (permanent); anything else is temporary.
func (d *Deliverer) Deliver(ctx context.Context, user, mailbox string, r io.Reader) (Result, error) {
	return d.DeliverWithHeader(ctx, user, mailbox, nil, r)
}

// DeliverWithHeader is Deliver with header prepended to the message: trace
// fields such as LMTP's Return-Path, Delivered-To and Received. header must
// be empty or complete CRLF-terminated header lines; it goes in front of
// the message after a leading mbox "From " line is dropped, and counts
// toward the size limit like the rest of the message.
func (d *Deliverer) DeliverWithHeader(ctx context.Context, user, mailbox string, header []byte, r io.Reader) (Result, error) {
	// The account is the one login uses: "Alice@Example.org" under
	// auth_username_format = %Ln is the account "alice".
	account, ok, err := d.opts.Users.LookupUser(ctx, user)
	if err != nil {
		return Result{}, fmt.Errorf("look up user %q: %w", user, err)
	}
	if !ok {
		return Result{}, ErrUnknownUser
	}
	user = account
	acct, err := d.opts.Store.Account(ctx, user)
	if err != nil {
		return Result{}, fmt.Errorf("open account %q: %w", user, err)
	}
	defer acct.Close()

	if mailbox == "" {
		mailbox = "INBOX"
	}
	if mailbox != "INBOX" {
		if _, err := acct.Mailbox(ctx, mailbox); mailstore.KindOf(err) == mailstore.KindNotFound {
			d.log.Info("mailbox does not exist, delivering to INBOX", "user", user, "mailbox", mailbox)
			mailbox = "INBOX"
		} else if err != nil {
			return Result{}, fmt.Errorf("look up mailbox %q: %w", mailbox, err)
		}
	}
	start := time.Now()
	body, err := skipMboxFrom(r)
	if err != nil {
		return Result{}, fmt.Errorf("read message: %w", err)
	}
	if len(header) > 0 {
		body = io.MultiReader(bytes.NewReader(header), body)
	}
	mb, uid, err := acct.Append(ctx, mailbox, mailstore.NewMessage{}, message.NewCRLFReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("save to %s/%s: %w", user, mailbox, err)
	}
	d.log.Info("delivered", "user", user, "mailbox", mb.Name, "uid", uid, "duration", time.Since(start).Round(time.Microsecond))
	return Result{User: user, Mailbox: mb.Name, UID: uid}, nil
}

// skipMboxFrom drops a leading mbox "From " separator line, which MTAs
// such as Postfix's local/pipe may prepend: it is not a header field, and
// dovecot-lda drops it too.
func skipMboxFrom(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(5)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	if string(head) != "From " {
		return br, nil
	}
	for {
		_, err := br.ReadSlice('\n')
		switch err {
		case nil, io.EOF:
			return br, nil
		case bufio.ErrBufferFull:
			continue // an overlong separator line: keep discarding
		default:
			return nil, err
		}
	}
}

// Permanent reports whether a delivery error will not go away by retrying.
func Permanent(err error) bool {
	if errors.Is(err, ErrUnknownUser) {
		return true
	}
	switch mailstore.KindOf(err) {
	case mailstore.KindTooBig, mailstore.KindOverQuota, mailstore.KindInvalid, mailstore.KindNoPerm:
		return true
	}
	return false
}
