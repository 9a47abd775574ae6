package imapserver

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

func init() {
	commands["COPY"] = commandSpec{states: selectedOnly, flags: flagUsesSeqs, run: (*session).cmdCopy}
	commands["UID COPY"] = commandSpec{states: selectedOnly, flags: flagUID, run: (*session).cmdCopy,
		caps: []string{"UIDPLUS"}}
	commands["MOVE"] = commandSpec{states: selectedOnly, flags: flagUsesSeqs, run: (*session).cmdCopy,
		caps: []string{"MOVE"}}
	commands["UID MOVE"] = commandSpec{states: selectedOnly, flags: flagUID, run: (*session).cmdCopy,
		caps: []string{"MOVE"}}
}

// cmdCopy is COPY / UID COPY (RFC 9051 6.4.7) and MOVE / UID MOVE (RFC
// 6851), answering with COPYUID (RFC 4315 3).
//
// COPY: tagged "OK [COPYUID uidvalidity src dst] ...". MOVE (RFC 6851
// 4.3): "* OK [COPYUID ...]" first, then "* n EXPUNGE" for every moved
// message, then the tagged OK; these EXPUNGEs are the command's own result,
// sent even for MOVE by sequence number (RFC 6851 3.3), while expunges by
// other sessions stay pending. A missing destination is NO [TRYCREATE]
// (RFC 9051 6.4.7). Copying into the selected mailbox itself gives the
// copies new UIDs; they show up as EXISTS at the sync point.
func (s *session) cmdCopy(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.CopyCmd)
	v := s.sel
	if args.Move && v.readOnly {
		return errReadOnly
	}
	if !cmd.UID && !v.seqSetValid(args.Set) {
		return errInvalidSeqSet
	}
	var uids []mailstore.UID
	for _, u := range v.resolve(args.Set, cmd.UID) {
		if !v.isExpunged(u) {
			uids = append(uids, u)
		}
	}
	if len(uids) == 0 {
		// RFC 9051 6.4.9: a UID set naming no message is not an error.
		// The destination must still exist.
		if _, err := s.acct.Mailbox(ctx, args.Mailbox); err != nil {
			return tryCreate(err)
		}
		return nil
	}
	var res mailstore.CopyResult
	var err error
	if args.Move {
		res, err = s.acct.Move(ctx, v.mailbox.ID, uids, args.Mailbox)
	} else {
		res, err = s.acct.Copy(ctx, v.mailbox.ID, uids, args.Mailbox)
	}
	if err != nil {
		return tryCreate(err)
	}
	code := ""
	if len(res.Source) > 0 {
		code = copyUIDCode(res)
	}
	if !args.Move {
		return okText(code, "Copy completed.")
	}
	if code != "" {
		s.enc.Untagged().Atom("OK").SP().Raw("[" + code + "]").SP().Text("Moved UIDs.").CRLF()
	}
	if s.qresync() {
		// RFC 6851 4.4, RFC 7162 3.2.10: a QRESYNC client gets
		// "* VANISHED uid-set" instead of the EXPUNGEs.
		var gone []mailstore.UID
		for _, u := range res.Source {
			if _, ok := v.index(u); ok {
				gone = append(gone, u)
			}
		}
		slices.Sort(gone)
		v.removeNow(gone)
		s.writeVanished(false, gone)
		return okText("", "Move completed.")
	}
	for _, seq := range v.removeNow(res.Source) {
		s.enc.Untagged().Number(uint32(seq)).SP().Atom("EXPUNGE").CRLF()
	}
	return okText("", "Move completed.")
}

// copyUIDCode formats "COPYUID uidvalidity source-set dest-set" (RFC 4315
// 3). The two sets list UIDs in matching order: the store returns both
// ascending and pairwise aligned, and compactSet keeps the order, so the
// n-th UID of one set corresponds to the n-th of the other.
func copyUIDCode(res mailstore.CopyResult) string {
	src := make([]uint32, len(res.Source))
	dst := make([]uint32, len(res.Dest))
	for i, u := range res.Source {
		src[i] = uint32(u)
	}
	for i, u := range res.Dest {
		dst[i] = uint32(u)
	}
	return "COPYUID " + strconv.FormatUint(uint64(res.DestUIDValidity), 10) + " " + compactSet(src) + " " + compactSet(dst)
}

// compactSet writes ascending numbers as a sequence set, joining runs of
// consecutive numbers into ranges: 1,2,3,5 -> "1:3,5". The order of the
// numbers is kept.
func compactSet(nums []uint32) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(nums[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(nums[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}
