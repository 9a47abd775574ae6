package imapserver

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

func init() {
	commands["SEARCH"] = commandSpec{states: selectedOnly, flags: flagUsesSeqs, run: (*session).cmdSearch,
		caps: []string{"ESEARCH", "SEARCHRES"}}
	commands["UID SEARCH"] = commandSpec{states: selectedOnly, flags: flagUID, run: (*session).cmdSearch}
}

// cmdSearch is SEARCH and UID SEARCH (RFC 9051 6.4.4), with the RETURN
// options of ESEARCH (RFC 4731) and SAVE (RFC 5182).
//
// Responses: an IMAP4rev1 client without RETURN gets "* SEARCH ..." (with
// "(MODSEQ n)" when a MODSEQ key was used, RFC 7162 3.1.5); with RETURN, or
// always for IMAP4rev2, "* ESEARCH (TAG "t") [UID] ..." where RETURN () and
// no RETURN mean ALL. RETURN (SAVE) alone sends no ESEARCH response (RFC
// 5182 2.1).
func (s *session) cmdSearch(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.SearchCmd)
	saves := slices.Contains(args.Return, "SAVE")
	err := s.search(ctx, cmd, args, saves)
	if err != nil && saves {
		// RFC 5182 2.1: "If the SEARCH command ... fails, the saved
		// result is set to the empty sequence".
		s.sel.searchRes = nil
	}
	return err
}

func (s *session) search(ctx context.Context, cmd *imap.Command, args *imap.SearchCmd, saves bool) error {
	if err := checkCharset(args.Charset); err != nil {
		return err
	}
	v := s.sel
	env := &searchEnv{v: v, now: time.Now()}
	uids, err := env.search(ctx, s.acct, v.mailbox.ID, args.Key)
	if err != nil {
		return err
	}
	var modSeq mailstore.ModSeq
	if hasModSeqKey(args.Key) {
		// RFC 7162 3.1: SEARCH MODSEQ enables CONDSTORE.
		s.enableCondStore()
		modSeq = env.maxModSeq
	}
	// num returns the number the client sees for a result.
	num := func(u mailstore.UID) uint32 {
		if cmd.UID {
			return uint32(u)
		}
		seq, _ := v.seqOf(u)
		return uint32(seq)
	}

	if args.Return == nil && !s.rev2 {
		b := make([]byte, 0, 16+len(uids)*6)
		b = append(b, "* SEARCH"...)
		for _, u := range uids {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(num(u)), 10)
		}
		if modSeq > 0 {
			b = append(b, " (MODSEQ "...)
			b = strconv.AppendUint(b, uint64(modSeq), 10)
			b = append(b, ')')
		}
		b = append(b, "\r\n"...)
		s.enc.RawBytes(b)
		return nil
	}

	opts := map[string]bool{}
	for _, r := range args.Return {
		opts[r] = true
	}
	if len(args.Return) == 0 { // no RETURN (rev2) or RETURN (): ALL
		opts["ALL"] = true
	}
	if saves {
		// RFC 5182 2.1: with MIN and/or MAX but neither ALL nor COUNT,
		// only those messages are saved.
		saved := uids
		if (opts["MIN"] || opts["MAX"]) && !opts["ALL"] && !opts["COUNT"] && len(uids) > 0 {
			saved = nil
			if opts["MIN"] {
				saved = append(saved, uids[0])
			}
			if opts["MAX"] && (len(saved) == 0 || saved[0] != uids[len(uids)-1]) {
				saved = append(saved, uids[len(uids)-1])
			}
		}
		v.searchRes = slices.Clone(saved)
		if len(opts) == 1 {
			return nil // SAVE alone: no ESEARCH response
		}
	}
	b := make([]byte, 0, 64)
	b = append(b, `* ESEARCH (TAG "`...)
	b = append(b, cmd.Tag...)
	b = append(b, `")`...)
	if cmd.UID {
		b = append(b, " UID"...)
	}
	// RFC 4731 3.1: no MIN, MAX or ALL when nothing matched.
	if len(uids) > 0 {
		if opts["MIN"] {
			b = append(b, " MIN "...)
			b = strconv.AppendUint(b, uint64(num(uids[0])), 10)
		}
		if opts["MAX"] {
			b = append(b, " MAX "...)
			b = strconv.AppendUint(b, uint64(num(uids[len(uids)-1])), 10)
		}
	}
	// The order of result items is free (RFC 4731 3.1); this is Dovecot's.
	if opts["ALL"] && len(uids) > 0 {
		b = append(b, " ALL "...)
		b = appendNumSet(b, uids, num)
	}
	if opts["COUNT"] {
		b = append(b, " COUNT "...)
		b = strconv.AppendInt(b, int64(len(uids)), 10)
	}
	if modSeq > 0 {
		b = append(b, " MODSEQ "...)
		b = strconv.AppendUint(b, uint64(modSeq), 10)
	}
	b = append(b, "\r\n"...)
	s.enc.RawBytes(b)
	return nil
}

// appendNumSet appends the numbers of uids (ascending in both UID and
// sequence order) as a compact sequence set: "2,5:7".
func appendNumSet(b []byte, uids []mailstore.UID, num func(mailstore.UID) uint32) []byte {
	for i := 0; i < len(uids); {
		start := num(uids[i])
		end := start
		j := i + 1
		for j < len(uids) && num(uids[j]) == end+1 {
			end++
			j++
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(start), 10)
		if end != start {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(end), 10)
		}
		i = j
	}
	return b
}
