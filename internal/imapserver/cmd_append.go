package imapserver

import (
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// cmdAppend stores one or more messages in a mailbox (RFC 9051 6.3.12,
// MULTIAPPEND RFC 3502). The parser has already read every literal, so a
// failure here never desynchronizes the stream. MULTIAPPEND is all or
// nothing (RFC 3502 6.3.11: "If the server is unable to append all of the
// messages, it MUST NOT append any"): when one message fails, the ones this
// command already stored are expunged again. Other sessions may briefly see
// them (an EXISTS then an EXPUNGE); no session sees a partial result as
// final. The tagged OK carries APPENDUID (RFC 4315 3). A message appended to
// the selected mailbox reaches this session through the loop's sync point
// (an untagged EXISTS).
func (s *session) cmdAppend(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.AppendCmd)
	defer func() {
		for _, m := range args.Messages {
			m.Body.Close()
		}
	}()
	if limit := s.srv.opts.AppendLimit; limit > 0 {
		for _, m := range args.Messages {
			if m.Body.Size() > limit {
				// RFC 7889 4: TOOBIG for a message over APPENDLIMIT.
				return statusNO("TOOBIG", "Message size exceeds the APPENDLIMIT of "+strconv.FormatInt(limit, 10)+" octets.")
			}
		}
	}
	var (
		mbox mailstore.Mailbox
		uids []mailstore.UID
	)
	for _, m := range args.Messages {
		var body io.Reader = m.Body
		if !m.Binary {
			// Messages are stored with CRLF line ends (RFC 9051 2.3.4,
			// RFC822.SIZE counts CRLF octets); clients that send bare
			// LF get them converted as delivery does. A literal8 may
			// hold binary parts and is stored as sent.
			body = message.NewCRLFReader(body)
		}
		mb, uid, err := s.acct.Append(ctx, args.Mailbox, mailstore.NewMessage{Flags: m.Flags, InternalDate: m.Date}, body)
		if err != nil {
			s.undoAppend(ctx, mbox, uids)
			return tryCreate(wrapf(err, "append to %q", args.Mailbox))
		}
		mbox = mb
		uids = append(uids, uid)
	}
	// RFC 4315 3: "APPENDUID" SP nz-number SP append-uid.
	return okText("APPENDUID "+strconv.FormatUint(uint64(mbox.UIDValidity), 10)+" "+uidSet(uids), "Append completed.")
}

// undoAppend expunges the messages a failed MULTIAPPEND had stored. It
// runs even when ctx is cancelled (shutdown): half an APPEND must not stay.
func (s *session) undoAppend(ctx context.Context, mbox mailstore.Mailbox, uids []mailstore.UID) {
	if len(uids) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := s.acct.Expunge(ctx, mbox.ID, mailstore.ExpungeOptions{UIDs: uids}); err != nil {
		s.log.Error("imap undoing a failed MULTIAPPEND failed", "user", s.user, "mailbox", mbox.Name, "uids", uidSet(uids), "err", err)
	}
}

// uidSet formats ascending UIDs as a compact uid-set ("4:6,9").
func uidSet(uids []mailstore.UID) string {
	var b strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(uids[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(uids[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}
