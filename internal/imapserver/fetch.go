package imapserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// This file renders FETCH responses (RFC 9051 6.4.5, 7.5.2) for one message
// at a time, from what the session's view knows (flags, dates, sizes), the
// message cache (ENVELOPE, BODYSTRUCTURE, part tree) and, only when a body
// item needs it, the stored message, which is streamed, never read whole.

// fetchPlan is a FETCH command's items, checked and prepared once.
type fetchPlan struct {
	items []imap.FetchItem
	names []string // response name of each section item ("BODY[1.MIME]<0>")
	// uid: UID FETCH; every response starts with UID (RFC 9051 6.4.9:
	// "UID FETCH ... the UID data item MUST be included").
	uid bool
	// needCache: ENVELOPE, BODY, BODYSTRUCTURE or a section other than
	// the whole message.
	needCache bool
	// needParts: a section that needs the MIME part tree.
	needParts bool
	// needBody: an item that reads the stored message.
	needBody bool
	// setsSeen: a non-PEEK body item, which sets \Seen (RFC 9051 6.4.5).
	setsSeen bool
	// keptOnly: every item that reads the stored message is a top-level
	// HEADER.FIELDS whose names the stores keep (mailstore.KeptCovers),
	// so a mailstore.HeaderFieldsReader answers them with no file read.
	keptOnly bool
	// cacheBeyondKept: an item other than those needs the message cache
	// (ENVELOPE, BODYSTRUCTURE, ...).
	cacheBeyondKept bool
}

// newFetchPlan checks and prepares the items of a FETCH. It returns a
// *statusError (BAD) for an item this server does not offer.
func newFetchPlan(items []imap.FetchItem, uid bool) (*fetchPlan, error) {
	// Like Dovecot, send the small items first (FLAGS, INTERNALDATE,
	// RFC822.SIZE, UID, MODSEQ), then the others, each group in request
	// order: the order of items is not significant (RFC 9051 7.5.2), and
	// matching Dovecot makes transcripts comparable.
	ordered := make([]imap.FetchItem, 0, len(items))
	for _, small := range []bool{true, false} {
		for _, it := range items {
			if isSmallItem(it.Kind) == small {
				ordered = append(ordered, it)
			}
		}
	}
	items = ordered
	p := &fetchPlan{items: items, names: make([]string, len(items)), uid: uid}
	keptOnly := true
	for i := range items {
		it := &items[i]
		switch it.Kind {
		case imap.FetchFlags, imap.FetchInternalDate, imap.FetchRFC822Size, imap.FetchUID, imap.FetchModSeq:
		case imap.FetchEnvelope, imap.FetchBody, imap.FetchBodyStructure:
			p.needCache = true
			p.cacheBeyondKept = true
		case imap.FetchRFC822:
			p.needBody = true
			p.setsSeen = true
			keptOnly = false
		case imap.FetchRFC822Header:
			p.needBody, p.needCache = true, true
			keptOnly = false
		case imap.FetchRFC822Text:
			p.needBody, p.needCache = true, true
			p.setsSeen = true
			keptOnly = false
		case imap.FetchBodySection:
			p.needBody = true
			if len(it.Section.Part) > 0 || it.Section.Specifier != "HEADER.FIELDS" || !mailstore.KeptCovers(it.Section.Fields) {
				keptOnly = false
			}
			if len(it.Section.Part) > 0 || it.Section.Specifier != "" {
				p.needCache = true
			}
			if len(it.Section.Part) > 0 {
				p.needParts = true
			}
			if !it.Peek {
				p.setsSeen = true
			}
			p.names[i] = sectionName("BODY", it.Section, it.Partial)
		case imap.FetchBinary, imap.FetchBinarySize:
			if it.Section.Specifier != "" {
				return nil, statusBAD("", "Invalid BINARY section.")
			}
			p.needBody = true
			keptOnly = false
			if len(it.Section.Part) > 0 {
				p.needCache, p.needParts = true, true
			}
			if it.Kind == imap.FetchBinary {
				if !it.Peek {
					p.setsSeen = true
				}
				p.names[i] = sectionName("BINARY", it.Section, it.Partial)
			} else {
				p.names[i] = sectionName("BINARY.SIZE", it.Section, nil)
			}
		default:
			// SAVEDATE, EMAILID, THREADID, PREVIEW: not advertised.
			return nil, statusBAD("", "Unsupported FETCH item.")
		}
	}
	p.keptOnly = keptOnly && p.needBody
	return p, nil
}

// isSmallItem reports whether an item is one Dovecot buffers and sends first.
func isSmallItem(k imap.FetchItemKind) bool {
	switch k {
	case imap.FetchFlags, imap.FetchInternalDate, imap.FetchRFC822Size, imap.FetchUID, imap.FetchModSeq:
		return true
	}
	return false
}

// sectionName returns the response item name of a section fetch
// (RFC 9051 7.5.2): "BODY[<section>]<<origin>>", with HEADER.FIELDS names
// in upper case as Dovecot sends them.
func sectionName(prefix string, sec imap.Section, partial *imap.Partial) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('[')
	for i, n := range sec.Part {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if sec.Specifier != "" {
		if len(sec.Part) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(sec.Specifier)
	}
	if strings.HasPrefix(sec.Specifier, "HEADER.FIELDS") {
		b.WriteString(" (")
		for i, f := range sec.Fields {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeAString(&b, strings.ToUpper(f))
		}
		b.WriteByte(')')
	}
	b.WriteByte(']')
	if partial != nil {
		b.WriteByte('<')
		b.WriteString(strconv.FormatInt(partial.Offset, 10))
		b.WriteByte('>')
	}
	return b.String()
}

// writeAString writes s as an atom when it is one, else as a quoted string
// (header field names are printable ASCII without ':' per RFC 5322).
func writeAString(b *strings.Builder, s string) {
	atom := s != ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			atom = false
			break
		}
	}
	if atom {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// fetchMsg is one message to render.
type fetchMsg struct {
	seq   mailstore.SeqNum
	uid   mailstore.UID
	flags []string // as stored
	// recent: the client sees \Recent too (rev1, recent to this
	// session). Kept apart from flags so that rendering a big mailbox's
	// flags allocates nothing per message (issue 8).
	recent bool
	modSeq mailstore.ModSeq
	date   time.Time
	size   int64
	// cache is nil when the plan does not need it or the message is gone.
	cache *mailstore.MessageCache
	// kept holds the message's kept header lines when the store gave them
	// (fetchPlan.keptOnly, mailstore.HeaderFieldsReader): its body items
	// are filtered from them and the message is not opened.
	kept   []byte
	keptOK bool
	// gone: the message is no longer in the store (expunged by another
	// session, not reported yet): only UID and NIL data are sent.
	gone bool
	// showFlags: \Seen was just set by this FETCH; FLAGS is sent even if
	// not asked for (RFC 9051 6.4.5).
	showFlags bool
}

// fetcher writes FETCH responses. It keeps scratch space across messages
// so that simple fetches (FLAGS, UID) allocate nothing per message.
type fetcher struct {
	plan *fetchPlan
	enc  *imapwire.Encoder
	// open opens the stored message of uid.
	open func(uid mailstore.UID) (mailstore.Body, error)

	// skippedExpunged is set when a message's data was gone (expunged by
	// another session): its body items were sent as NIL, and the command
	// ends OK [EXPUNGEISSUED], as Dovecot does.
	skippedExpunged bool

	// sendFile, when not nil, sends a byte range of a stored message's
	// file straight to the connection (sendFileLiteral); nil: every
	// literal is copied through the encoder.
	sendFile func(file *os.File, off, n int64) error

	buf  []byte
	prep []prepared
}

// prepared is a resolved body item of the current message.
type prepared struct {
	nil bool // data gone: send NIL
	sec sectionData
	bin binaryInfo
}

// fetchDateLayout is date-time of RFC 9051 9 ("17-Jul-1996 02:44:25 -0700").
const fetchDateLayout = "02-Jan-2006 15:04:05 -0700"

// isExpungedErr reports whether err says that the message no longer exists.
func isExpungedErr(err error) bool {
	k := mailstore.KindOf(err)
	return k == mailstore.KindExpunged || k == mailstore.KindNotFound
}

// write writes the FETCH response of m. It returns an *errUnknownCTE
// (nothing was written for m; the caller goes on with the next message and
// ends NO [UNKNOWN-CTE]) or another error (the command fails; write errors
// are sticky in the Encoder).
func (f *fetcher) write(m *fetchMsg) error {
	var body mailstore.Body
	defer func() {
		if body != nil {
			body.Close()
		}
	}()
	if err := f.prepare(m, &body); err != nil {
		return err
	}
	b := f.buf[:0]
	b = append(b, "* "...)
	b = strconv.AppendUint(b, uint64(m.seq), 10)
	b = append(b, " FETCH ("...)
	first := true
	sp := func() {
		if !first {
			b = append(b, ' ')
		}
		first = false
	}
	if f.plan.uid {
		sp()
		b = append(b, "UID "...)
		b = strconv.AppendUint(b, uint64(m.uid), 10)
	}
	if m.showFlags && !m.gone && !f.hasItem(imap.FetchFlags) {
		sp()
		b = appendFlags(b, m.flags, m.recent)
	}
	for i := range f.plan.items {
		it := &f.plan.items[i]
		pr := &f.prep[i]
		if m.gone && isSmallItem(it.Kind) && it.Kind != imap.FetchUID {
			// FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ of a message
			// gone from the store: the view does not keep them
			// (docs/imap-scale.md), so they are left out.
			f.skippedExpunged = true
			continue
		}
		switch it.Kind {
		case imap.FetchUID:
			if f.plan.uid {
				continue
			}
			sp()
			b = append(b, "UID "...)
			b = strconv.AppendUint(b, uint64(m.uid), 10)
		case imap.FetchFlags:
			sp()
			b = appendFlags(b, m.flags, m.recent)
		case imap.FetchInternalDate:
			sp()
			b = append(b, `INTERNALDATE "`...)
			b = m.date.AppendFormat(b, fetchDateLayout)
			b = append(b, '"')
		case imap.FetchRFC822Size:
			sp()
			b = append(b, "RFC822.SIZE "...)
			b = strconv.AppendInt(b, m.size, 10)
		case imap.FetchModSeq:
			sp()
			b = append(b, "MODSEQ ("...)
			b = strconv.AppendUint(b, uint64(m.modSeq), 10)
			b = append(b, ')')
		case imap.FetchEnvelope, imap.FetchBody, imap.FetchBodyStructure:
			sp()
			name, val := "ENVELOPE ", ""
			if m.cache != nil {
				switch it.Kind {
				case imap.FetchEnvelope:
					val = m.cache.Envelope
				case imap.FetchBody:
					name, val = "BODY ", m.cache.Body
				default:
					name, val = "BODYSTRUCTURE ", m.cache.BodyStructure
				}
			} else {
				f.skippedExpunged = true
				val = "NIL"
				switch it.Kind {
				case imap.FetchBody:
					name = "BODY "
				case imap.FetchBodyStructure:
					name = "BODYSTRUCTURE "
				}
			}
			b = append(b, name...)
			b = append(b, val...)
		case imap.FetchBinarySize:
			sp()
			b = append(b, f.plan.names[i]...)
			b = append(b, ' ')
			if pr.nil {
				b = append(b, "NIL"...)
			} else {
				b = strconv.AppendInt(b, pr.bin.size, 10)
			}
		case imap.FetchRFC822, imap.FetchRFC822Header, imap.FetchRFC822Text, imap.FetchBodySection, imap.FetchBinary:
			sp()
			switch it.Kind {
			case imap.FetchRFC822:
				b = append(b, "RFC822 "...)
			case imap.FetchRFC822Header:
				b = append(b, "RFC822.HEADER "...)
			case imap.FetchRFC822Text:
				b = append(b, "RFC822.TEXT "...)
			default:
				b = append(b, f.plan.names[i]...)
				b = append(b, ' ')
			}
			if pr.nil {
				b = append(b, "NIL"...)
				continue
			}
			f.enc.RawBytes(b)
			b = b[:0]
			if it.Kind == imap.FetchBinary {
				lit8 := pr.bin.literal8(body, it.Partial)
				if d, ok := pr.bin.undecoded(it.Partial); ok {
					if err := f.literal(body, d, lit8); err != nil {
						return err
					}
					continue
				}
				r, n := pr.bin.reader(body, it.Partial)
				if lit8 {
					f.enc.Literal8(n, r)
				} else {
					f.enc.Literal(n, r)
				}
				continue
			}
			if err := f.literal(body, pr.sec.clip(it.Partial), false); err != nil {
				return err
			}
		}
	}
	b = append(b, ")\r\n"...)
	f.enc.RawBytes(b)
	f.buf = b[:0]
	return f.enc.Err()
}

func (f *fetcher) hasItem(k imap.FetchItemKind) bool {
	for i := range f.plan.items {
		if f.plan.items[i].Kind == k {
			return true
		}
	}
	return false
}

// appendFlags appends "FLAGS (...)".
func appendFlags(b []byte, flags []string, recent bool) []byte {
	b = append(b, "FLAGS ("...)
	for i, fl := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, fl...)
	}
	if recent {
		if len(flags) > 0 {
			b = append(b, ' ')
		}
		b = append(b, flagRecent...)
	}
	return append(b, ')')
}

// prepare resolves the body items of m before anything of its response is
// written, so that an error (UNKNOWN-CTE) leaves no half-written response.
func (f *fetcher) prepare(m *fetchMsg, body *mailstore.Body) error {
	if cap(f.prep) < len(f.plan.items) {
		f.prep = make([]prepared, len(f.plan.items))
	}
	f.prep = f.prep[:len(f.plan.items)]
	if !f.plan.needBody {
		return nil
	}
	clear(f.prep)
	if m.keptOK {
		// Every body item is a top-level HEADER.FIELDS the kept lines
		// cover (fetchPlan.keptOnly): filtering them gives the bytes
		// filtering the header gives (mailstore.KeptLinesOf).
		for i := range f.plan.items {
			if it := &f.plan.items[i]; it.Kind == imap.FetchBodySection {
				f.prep[i].sec = sectionData{computed: true, data: filterHeader(m.kept, it.Section.Fields, false)}
			}
		}
		return nil
	}
	gone := f.plan.needCache && m.cache == nil
	if !gone {
		b, err := f.open(m.uid)
		switch {
		case err == nil:
			*body = b
			// A literal announces its size before the bytes; a stored
			// message shorter than its metadata says would break the
			// stream, so refuse it before writing anything.
			if b.Size() != m.size {
				return fmt.Errorf("message %d: stored size %d, expected %d", m.uid, b.Size(), m.size)
			}
		case isExpungedErr(err):
			gone = true
		default:
			return fmt.Errorf("open message %d: %w", m.uid, err)
		}
	}
	var root *message.Part
	if !gone && f.plan.needParts {
		r, err := message.UnmarshalParts(m.cache.Parts)
		if err != nil {
			return fmt.Errorf("message %d: %w", m.uid, err)
		}
		root = r
	}
	var headerSize int64
	if m.cache != nil {
		headerSize = m.cache.HeaderSize
	}
	for i := range f.plan.items {
		it := &f.plan.items[i]
		pr := &f.prep[i]
		var sec imap.Section
		switch it.Kind {
		case imap.FetchRFC822:
		case imap.FetchRFC822Header:
			sec.Specifier = "HEADER"
		case imap.FetchRFC822Text:
			sec.Specifier = "TEXT"
		case imap.FetchBodySection:
			sec = it.Section
		case imap.FetchBinary, imap.FetchBinarySize:
			if gone {
				pr.nil = true
				f.skippedExpunged = true
				continue
			}
			bi, err := binarySection(root, m.size, it.Section.Part, *body)
			if err != nil {
				return err
			}
			pr.bin = bi
			continue
		default:
			continue
		}
		if gone {
			pr.nil = true
			f.skippedExpunged = true
			continue
		}
		d, err := resolveSection(root, headerSize, m.size, sec, *body)
		if err != nil {
			return fmt.Errorf("message %d: %w", m.uid, err)
		}
		pr.sec = d
	}
	return nil
}

// isUnknownCTE reports whether err is a BINARY decoding failure.
func isUnknownCTE(err error) bool {
	var e *errUnknownCTE
	return errors.As(err, &e)
}

// keptBatch holds the kept header lines of one batch of messages
// (mailstore.HeaderFieldsReader), copied out of the store's read so that
// nothing is written to the client while the store reads.
type keptBatch struct {
	uids []mailstore.UID // ascending: the messages with kept lines
	ends []int           // lines of uids[i] are data[ends[i-1]:ends[i]]
	data []byte
	// missing: the messages the store has but keeps no lines for.
	missing []mailstore.UID
}

// load reads the kept lines of batch in one store call.
func (kb *keptBatch) load(ctx context.Context, hfr mailstore.HeaderFieldsReader, mbox mailstore.MailboxID, batch []mailstore.UID) error {
	kb.uids, kb.ends, kb.data, kb.missing = kb.uids[:0], kb.ends[:0], kb.data[:0], kb.missing[:0]
	return hfr.HeaderFields(ctx, mbox, batch, func(uid mailstore.UID, kept []byte) error {
		if kept == nil {
			kb.missing = append(kb.missing, uid)
			return nil
		}
		kb.data = append(kb.data, kept...)
		kb.uids = append(kb.uids, uid)
		kb.ends = append(kb.ends, len(kb.data))
		return nil
	})
}

// lines returns the kept lines of uid; *i is the position to search from
// (UIDs are asked for in ascending order).
func (kb *keptBatch) lines(uid mailstore.UID, i *int) ([]byte, bool) {
	for *i < len(kb.uids) && kb.uids[*i] < uid {
		*i++
	}
	if *i == len(kb.uids) || kb.uids[*i] != uid {
		return nil, false
	}
	start := 0
	if *i > 0 {
		start = kb.ends[*i-1]
	}
	return kb.data[start:kb.ends[*i]], true
}

// fetchBatch is how many messages' caches are loaded per store call.
const fetchBatch = 256

// runFetch writes FETCH responses for uids (ascending, all in the view),
// using view to know each message. It loads caches in batches. It returns
// the error that ends the command: nil, NO [UNKNOWN-CTE], OK
// [EXPUNGEISSUED], or a store error.
func runFetch(ctx context.Context, f *fetcher, acct mailstore.Account, mbox mailstore.MailboxID, uids []mailstore.UID, msgsOf func(batch []mailstore.UID) (func(uid mailstore.UID, m *fetchMsg) bool, error)) error {
	var cteErr error
	var m fetchMsg
	hfr, _ := acct.(mailstore.HeaderFieldsReader)
	var kb keptBatch
	for start := 0; start < len(uids); start += fetchBatch {
		batch := uids[start:min(start+fetchBatch, len(uids))]
		msgOf, err := msgsOf(batch)
		if err != nil {
			return err
		}
		useKept := f.plan.keptOnly && hfr != nil
		cacheUIDs := batch
		if useKept {
			if err := kb.load(ctx, hfr, mbox, batch); err != nil {
				return err
			}
			if !f.plan.cacheBeyondKept {
				// Only the messages without kept lines are read from
				// their files, which needs their cache (header size).
				cacheUIDs = kb.missing
			}
		}
		var caches []mailstore.MessageCache
		if f.plan.needCache && len(cacheUIDs) > 0 {
			c, err := acct.Cache(ctx, mbox, cacheUIDs)
			if err != nil {
				return err
			}
			caches = c
		}
		ci, ki := 0, 0
		for _, uid := range batch {
			if !msgOf(uid, &m) {
				continue
			}
			m.kept, m.keptOK = nil, false
			if useKept {
				m.kept, m.keptOK = kb.lines(uid, &ki)
			}
			m.cache = nil
			for ci < len(caches) && caches[ci].UID < uid {
				ci++
			}
			if ci < len(caches) && caches[ci].UID == uid {
				m.cache = &caches[ci]
			}
			if err := f.write(&m); err != nil {
				if isUnknownCTE(err) {
					cteErr = err
					continue
				}
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if cteErr != nil {
		return statusNO("UNKNOWN-CTE", cteErr.Error()+".")
	}
	if f.skippedExpunged {
		return okText("EXPUNGEISSUED", "Some messages were already expunged.")
	}
	return nil
}
