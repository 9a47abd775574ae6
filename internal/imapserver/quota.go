package imapserver

import (
	"context"
	"slices"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// The QUOTA extension (RFC 9208). Each account has one quota root, named
// Options.QuotaRoot ("User quota" unless the quota setting names another,
// as Dovecot), covering all its mailboxes, with the resources STORAGE (in
// units of 1024 octets, RFC 9208 5.1) and MESSAGE (5.2). Limits come from
// the configuration and the users file; users cannot change them, so
// SETQUOTA is refused and QUOTASET is not advertised (RFC 9208 3.1.1).

// quotaCaps are advertised by GETQUOTA, GETQUOTAROOT and SETQUOTA.
var quotaCaps = []string{"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"}

func init() {
	commands["GETQUOTA"] = commandSpec{states: authenticated, run: (*session).cmdGetQuota, caps: quotaCaps}
	commands["GETQUOTAROOT"] = commandSpec{states: authenticated, run: (*session).cmdGetQuotaRoot, caps: quotaCaps}
	commands["SETQUOTA"] = commandSpec{states: authenticated, run: (*session).cmdSetQuota, caps: quotaCaps}
}

// cmdGetQuotaRoot answers GETQUOTAROOT mailbox (RFC 9208 4.1.2): the
// mailbox's quota root and that root's QUOTA response.
func (s *session) cmdGetQuotaRoot(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.GetQuotaRootCmd)
	// Every mailbox name of the account, existing or not, belongs to its
	// one root: a client may ask before it creates a mailbox or APPENDs to
	// one. Dovecot answers the same way; only a name that could never be
	// a mailbox is refused.
	name := args.Mailbox
	mb, err := s.acct.Mailbox(ctx, args.Mailbox)
	switch {
	case err == nil:
		name = mb.Name
	case mailstore.KindOf(err) != mailstore.KindNotFound:
		return wrapf(err, "getquotaroot %q", args.Mailbox)
	}
	q, u, err := s.acct.Quota(ctx)
	if err != nil {
		return wrapf(err, "getquotaroot: read quota")
	}
	root := s.srv.opts.QuotaRoot
	s.enc.Untagged().Atom("QUOTAROOT").SP().Mailbox(name).SP().String(root).CRLF()
	s.writeQuota(root, q, u)
	return nil
}

// cmdGetQuota answers GETQUOTA root (RFC 9208 4.1.1).
func (s *session) cmdGetQuota(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.GetQuotaCmd)
	if args.Root != s.srv.opts.QuotaRoot {
		return statusNO("NONEXISTENT", "Quota root doesn't exist.")
	}
	q, u, err := s.acct.Quota(ctx)
	if err != nil {
		return wrapf(err, "getquota: read quota")
	}
	s.writeQuota(args.Root, q, u)
	return nil
}

// cmdSetQuota refuses SETQUOTA (RFC 9208 4.1.3: "NO" when the user may
// not change the limits): limits are the administrator's (roost.conf and
// the users file).
func (s *session) cmdSetQuota(ctx context.Context, cmd *imap.Command) error {
	return statusNO("NOPERM", "Quota can be changed only by the administrator.")
}

// writeQuota writes "* QUOTA root (resource usage limit ...)" with the
// resources that have a limit (RFC 9208 5: a resource without a limit is
// left out, so an unlimited account gets an empty list, as Dovecot sends).
// STORAGE is in units of 1024 octets, rounded up, so that a full account
// shows usage equal to its limit.
func (s *session) writeQuota(root string, q mailstore.Quota, u mailstore.Usage) {
	s.enc.Untagged().Atom("QUOTA").SP().String(root).SP().BeginList()
	sep := false
	if q.Storage > 0 {
		s.enc.Atom("STORAGE").SP().Number64(kib(u.Storage)).SP().Number64(kib(q.Storage))
		sep = true
	}
	if q.Messages > 0 {
		if sep {
			s.enc.SP()
		}
		s.enc.Atom("MESSAGE").SP().Number64(uint64(max(u.Messages, 0))).SP().Number64(uint64(q.Messages))
	}
	s.enc.EndList().CRLF()
}

// kib converts octets to 1024-octet units, rounding up.
func kib(n int64) uint64 {
	if n <= 0 {
		return 0
	}
	return uint64((n + 1023) / 1024)
}

// deletedStorage is the STATUS DELETED-STORAGE value (RFC 9208 4.1.4,
// required with QUOTA=RES-STORAGE): the octets an EXPUNGE of the mailbox
// would free, the sum of the RFC822.SIZEs of its \Deleted messages (the
// value the RFC allows, and here also the exact one: usage counts each
// message at that size). It reads the mailbox's message list, so only
// when asked and only when some message is \Deleted. Errors are logged and
// count as 0, as for RECENT.
func (s *session) deletedStorage(ctx context.Context, st mailstore.Status, items []string) int64 {
	if st.Deleted == 0 || !slices.Contains(items, "DELETED-STORAGE") {
		return 0
	}
	msgs, err := s.acct.Messages(ctx, st.ID)
	if err != nil {
		s.log.Warn("imap STATUS DELETED-STORAGE: reading messages failed", "user", s.user, "mailbox", st.Name, "err", err)
		return 0
	}
	var n int64
	for _, m := range msgs {
		if slices.Contains(m.Flags, mailstore.FlagDeleted) {
			n += m.Size
		}
	}
	return n
}
