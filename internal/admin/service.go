// Package admin is Roost's administration interface to a running server:
// a Unix socket (admin.sock in the mail_location directory, mode 0600)
// speaking line-delimited JSON, the Service that executes its commands
// against the server's store and session registry, and the client the CLI
// uses.
//
// Protocol: the client writes one JSON Request per line, the server answers
// each with one JSON Response line, in order, on the same connection:
//
//	{"cmd":"who"}
//	{"ok":true,"result":[{"id":1,"user":"alice","protocol":"imap",...}]}
//	{"cmd":"mailbox.status","user":"alice","mailbox":"Nope"}
//	{"ok":false,"code":"notfound","error":"Nope: mailbox does not exist"}
//
// Commands (fields used): who; kick (user); mailbox.list (user);
// mailbox.create (user, mailbox, special_use); mailbox.delete (user,
// mailbox); mailbox.rename (user, mailbox, new_name); mailbox.status (user,
// mailbox); expunge (user, mailbox, query: an IMAP search key list);
// account.purge (user: an account whose user was removed from the passdb;
// its sessions are kicked and all its mail is removed); health (health.go);
// quota.get and quota.recalc (user; quota.go).
//
// Changes go through the server's own store, so sessions (IDLE, NOOP) see
// them as they see each other's changes.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roost-mail/roost/internal/imapserver"
	"github.com/roost-mail/roost/internal/mailstore"
)

// Request is one admin command.
type Request struct {
	Cmd        string `json:"cmd"`
	User       string `json:"user,omitempty"`
	Mailbox    string `json:"mailbox,omitempty"`
	NewName    string `json:"new_name,omitempty"`
	SpecialUse string `json:"special_use,omitempty"`
	Query      string `json:"query,omitempty"`
}

// Response is the answer to one Request. Code classifies failures.
type Response struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Code   string          `json:"code,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Error codes of a failed Response.
const (
	CodeUsage       = "usage"       // bad request: unknown command, missing field, bad query
	CodeUnknownUser = "unknownuser" // no passdb knows the user
	CodeNotFound    = "notfound"    // no such mailbox
	CodeExists      = "exists"      // mailbox exists already
	CodeNoPerm      = "noperm"      // not permitted (deleting INBOX)
	CodeInvalid     = "invalid"     // bad mailbox name
	CodeUnavailable = "unavailable" // needs the running server (who, kick without one)
	CodeFailed      = "failed"      // anything else; details in the server log
)

// Error is a failed Response as a Go error (returned by Client.Call and
// Service.Call).
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Users is what the service needs from authentication. *auth.Service
// implements it.
type Users interface {
	UserExists(ctx context.Context, user string) (bool, error)
}

// accountNamer maps a user name to its account name as login does
// (*auth.Service.LookupUser).
type accountNamer interface {
	LookupUser(ctx context.Context, user string) (account string, ok bool, err error)
}

// Service executes admin commands. Sessions may be nil when no server runs
// (the CLI opening the store itself): who and kick then fail with
// CodeUnavailable.
type Service struct {
	Store    mailstore.Store
	Users    Users
	Sessions *Registry
	// KickWait is how long kick waits for sessions to end. Default 5s.
	KickWait time.Duration
	// Checks are health checks besides the store's own (health.go).
	Checks []Check
}

// MailboxInfo is one row of mailbox.list.
type MailboxInfo struct {
	Name       string `json:"name"`
	SpecialUse string `json:"special_use"`
	Subscribed bool   `json:"subscribed"`
	Messages   uint32 `json:"messages"`
	Unseen     uint32 `json:"unseen"`
	Size       int64  `json:"size"`
}

// MailboxStatus is the result of mailbox.status.
type MailboxStatus struct {
	Name          string `json:"name"`
	Messages      uint32 `json:"messages"`
	Unseen        uint32 `json:"unseen"`
	Deleted       uint32 `json:"deleted"`
	Size          int64  `json:"size"`
	UIDValidity   uint32 `json:"uidvalidity"`
	UIDNext       uint32 `json:"uidnext"`
	HighestModSeq uint64 `json:"highestmodseq"`
}

// KickResult is the result of kick.
type KickResult struct {
	Kicked   int       `json:"kicked"`
	Pending  int       `json:"pending"` // still running when the wait ended
	Sessions []Session `json:"sessions"`
}

// ExpungeResult is the result of expunge.
type ExpungeResult struct {
	Mailbox  string          `json:"mailbox"`
	Expunged []mailstore.UID `json:"expunged"`
}

// Do executes one request.
func (s *Service) Do(ctx context.Context, req Request) Response {
	res, err := s.Call(ctx, req)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Code: CodeFailed, Msg: err.Error()}
		}
		return Response{Code: e.Code, Error: e.Msg}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return Response{Code: CodeFailed, Error: err.Error()}
	}
	return Response{OK: true, Result: b}
}

// Call executes one request and returns its result (to be JSON-encoded)
// or an *Error.
func (s *Service) Call(ctx context.Context, req Request) (any, error) {
	switch req.Cmd {
	case "who":
		if s.Sessions == nil {
			return nil, &Error{CodeUnavailable, "who needs the running server"}
		}
		return s.Sessions.List(), nil
	case "kick":
		if s.Sessions == nil {
			return nil, &Error{CodeUnavailable, "kick needs the running server"}
		}
		if req.User == "" {
			return nil, &Error{CodeUsage, "kick: user missing"}
		}
		wait := s.KickWait
		if wait <= 0 {
			wait = 5 * time.Second
		}
		kicked, pending := s.Sessions.Kick(req.User, wait)
		return KickResult{Kicked: len(kicked), Pending: pending, Sessions: append([]Session{}, kicked...)}, nil
	case "mailbox.list", "mailbox.create", "mailbox.delete", "mailbox.rename", "mailbox.status", "expunge",
		"quota.get", "quota.recalc":
		return s.withAccount(ctx, req)
	case "account.purge":
		return s.purge(ctx, req.User)
	case "health":
		return s.health(ctx), nil
	}
	return nil, &Error{CodeUsage, fmt.Sprintf("unknown command %q", req.Cmd)}
}

// PurgeResult is the result of account.purge.
type PurgeResult struct {
	User   string `json:"user"`
	Kicked int    `json:"kicked"`
}

// purge removes an account's mail (roost user del --purge). The user must
// be gone from the passdbs already, so that no login or delivery can open
// the account again meanwhile; its remaining sessions are kicked, and a
// delivery or session still closing is waited for (up to KickWait).
func (s *Service) purge(ctx context.Context, user string) (any, error) {
	if user == "" {
		return nil, &Error{CodeUsage, "account.purge: user missing"}
	}
	ok, err := s.Users.UserExists(ctx, user)
	if err != nil {
		return nil, &Error{CodeFailed, fmt.Sprintf("looking up user %s: %v", user, err)}
	}
	if ok {
		return nil, &Error{CodeExists, fmt.Sprintf("user %s still exists: remove it from the passdb first", user)}
	}
	p, ok := s.Store.(mailstore.AccountPurger)
	if !ok {
		return nil, &Error{CodeFailed, "this mail store cannot remove accounts"}
	}
	wait := s.KickWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	res := PurgeResult{User: user}
	if s.Sessions != nil {
		kicked, _ := s.Sessions.Kick(user, wait)
		res.Kicked = len(kicked)
	}
	deadline := time.Now().Add(wait)
	for {
		err = p.PurgeAccount(ctx, user)
		if mailstore.KindOf(err) != mailstore.KindInUse || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return nil, storeError(err)
	}
	return res, nil
}

// withAccount runs the commands that work on one account.
func (s *Service) withAccount(ctx context.Context, req Request) (any, error) {
	if req.User == "" {
		return nil, &Error{CodeUsage, req.Cmd + ": user missing"}
	}
	needMailbox := req.Cmd != "mailbox.list" && req.Cmd != "quota.get" && req.Cmd != "quota.recalc"
	if needMailbox && req.Mailbox == "" {
		return nil, &Error{CodeUsage, req.Cmd + ": mailbox missing"}
	}
	if req.Cmd == "mailbox.rename" && req.NewName == "" {
		return nil, &Error{CodeUsage, "mailbox.rename: new name missing"}
	}
	var (
		charset string
		key     = (*searchKey)(nil)
	)
	if req.Cmd == "expunge" {
		var err error
		if charset, key, err = ParseSearch(req.Query); err != nil {
			return nil, &Error{CodeUsage, err.Error()}
		}
	}
	// The store creates an account on first use: check the user first, so
	// that a typo does not create an account. The account is the one a
	// login as the user opens (auth_username_format, a "user" field) when
	// Users can tell, as *auth.Service can.
	account := req.User
	var ok bool
	var err error
	if n, isNamer := s.Users.(accountNamer); isNamer {
		account, ok, err = n.LookupUser(ctx, req.User)
	} else {
		ok, err = s.Users.UserExists(ctx, req.User)
	}
	if err != nil {
		return nil, &Error{CodeFailed, fmt.Sprintf("looking up user %s: %v", req.User, err)}
	}
	if !ok {
		return nil, &Error{CodeUnknownUser, fmt.Sprintf("unknown user %s", req.User)}
	}
	acct, err := s.Store.Account(ctx, account)
	if err != nil {
		return nil, storeError(err)
	}
	defer acct.Close()
	res, err := s.accountCmd(ctx, acct, req, charset, key)
	if e, ok := err.(*Error); ok && req.Mailbox != "" && e.Code != CodeFailed {
		// "Projects: mailbox does not exist"
		e.Msg = req.Mailbox + ": " + e.Msg
	}
	return res, err
}

func (s *Service) accountCmd(ctx context.Context, acct mailstore.Account, req Request, charset string, key *searchKey) (any, error) {
	switch req.Cmd {
	case "quota.get", "quota.recalc":
		return s.quotaCmd(ctx, acct, req)
	case "mailbox.list":
		mboxes, err := acct.Mailboxes(ctx)
		if err != nil {
			return nil, storeError(err)
		}
		out := make([]MailboxInfo, 0, len(mboxes))
		for _, m := range mboxes {
			st, err := acct.Status(ctx, m.Name)
			if err != nil {
				if mailstore.KindOf(err) == mailstore.KindNotFound {
					continue // deleted meanwhile
				}
				return nil, storeError(err)
			}
			out = append(out, MailboxInfo{Name: m.Name, SpecialUse: m.SpecialUse, Subscribed: m.Subscribed,
				Messages: st.Messages, Unseen: st.Unseen, Size: st.Size})
		}
		return out, nil
	case "mailbox.create":
		m, err := acct.CreateMailbox(ctx, req.Mailbox, req.SpecialUse)
		if err != nil {
			return nil, storeError(err)
		}
		return map[string]string{"name": m.Name}, nil
	case "mailbox.delete":
		if err := acct.DeleteMailbox(ctx, req.Mailbox); err != nil {
			return nil, storeError(err)
		}
		return map[string]string{"name": req.Mailbox}, nil
	case "mailbox.rename":
		if err := acct.RenameMailbox(ctx, req.Mailbox, req.NewName); err != nil {
			return nil, storeError(err)
		}
		return map[string]string{"name": req.NewName}, nil
	case "mailbox.status":
		st, err := acct.Status(ctx, req.Mailbox)
		if err != nil {
			return nil, storeError(err)
		}
		return MailboxStatus{Name: st.Name, Messages: st.Messages, Unseen: st.Unseen, Deleted: st.Deleted,
			Size: st.Size, UIDValidity: uint32(st.UIDValidity), UIDNext: uint32(st.UIDNext),
			HighestModSeq: uint64(st.HighestModSeq)}, nil
	case "expunge":
		mbox, err := acct.Mailbox(ctx, req.Mailbox)
		if err != nil {
			return nil, storeError(err)
		}
		uids, err := imapserver.SearchMailbox(ctx, acct, mbox, charset, key)
		if err != nil {
			return nil, storeError(err)
		}
		res := ExpungeResult{Mailbox: mbox.Name, Expunged: []mailstore.UID{}}
		if len(uids) == 0 {
			return res, nil
		}
		gone, err := acct.Expunge(ctx, mbox.ID, mailstore.ExpungeOptions{UIDs: uids})
		if err != nil {
			return nil, storeError(err)
		}
		if gone != nil {
			res.Expunged = gone
		}
		return res, nil
	}
	return nil, &Error{CodeUsage, fmt.Sprintf("unknown command %q", req.Cmd)}
}

// storeError maps a store error to an *Error.
func storeError(err error) error {
	code := CodeFailed
	switch mailstore.KindOf(err) {
	case mailstore.KindNotFound:
		code = CodeNotFound
	case mailstore.KindExists:
		code = CodeExists
	case mailstore.KindNoPerm:
		code = CodeNoPerm
	case mailstore.KindInvalid:
		code = CodeInvalid
	case mailstore.KindInternal:
		return &Error{code, err.Error()}
	}
	return &Error{code, mailstore.PublicMessage(err)}
}
