package migrate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// The import ledger (mailstore.ImportLedger) decides what a run stores:
//
//   - A message whose source key (Maildir base name; mbox mailbox, offset
//     and header hash) is in the ledger was imported before: skipped,
//     wherever the user has moved it since, even if it was expunged.
//   - Otherwise, if the ledger knows its Message-ID with the same stored
//     size, it may be a message whose key changed (an mbox rewritten by
//     Dovecot, a file renamed by another tool): it is deferred to the end
//     of the run, when every key in the source has been met. If a ledger
//     record with that Message-ID and size was not met in this run, the
//     message is taken as that record's (the record is re-keyed and the
//     message skipped); otherwise it is a second copy and is stored.
//   - Anything else is stored, with its source UID when that is not below
//     UIDNEXT (a delivery may have taken it), else with UIDNEXT; the ledger
//     record is written in the same transaction as the message.
//
// Memory: 8 bytes per source message (the set of keys met), plus the
// deferred messages' descriptions.

// ledgerRun is the ledger state of one import run (all mailboxes).
type ledgerRun struct {
	l        mailstore.ImportLedger
	seen     map[uint64]struct{} // FNV-1a hashes of ledger keys met or stored in this run
	deferred []deferredMsg

	// Messages waiting to be stored together (ImportMessages): one
	// mailbox at a time, flushed at batchMessages or batchBytes, at the
	// end of each mailbox, and before anything else touches the store.
	batch      []pending
	batchBytes int64
}

// Batch bounds: big enough that commits stop dominating, small enough
// that an interrupted run loses little work and buffered mbox bodies stay
// small.
const (
	batchMessages = 64
	batchBytes    = 8 << 20
	// maxBuffered is the largest mbox message read into memory for a
	// batch; larger ones are streamed on their own.
	maxBuffered = 1 << 20
)

// pending is a batched message and where to count its outcome.
type pending struct {
	item            mailstore.ImportItem
	mailbox, desc   string
	stored, skipped *int
	st              *Stats
	p               *progress
}

// add queues a message, flushing first if the batch is for another
// mailbox or full.
func (r *ledgerRun) add(ctx context.Context, pd pending, size int64) error {
	if len(r.batch) > 0 && (r.batch[0].mailbox != pd.mailbox || len(r.batch) >= batchMessages || r.batchBytes+size > batchBytes) {
		if err := r.flush(ctx); err != nil {
			return err
		}
	}
	r.batch = append(r.batch, pd)
	r.batchBytes += size
	return nil
}

// flush stores the queued messages in one ImportMessages call.
func (r *ledgerRun) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	batch := r.batch
	r.batch, r.batchBytes = nil, 0
	items := make([]mailstore.ImportItem, len(batch))
	for i, pd := range batch {
		items[i] = pd.item
	}
	res, err := r.l.ImportMessages(ctx, batch[0].mailbox, items)
	if err != nil {
		return fmt.Errorf("import %s: %w", batch[0].mailbox, err)
	}
	for i, pd := range batch {
		switch mailstore.KindOf(res[i].Err) {
		case mailstore.KindExists:
			*pd.skipped++ // stored meanwhile by a concurrent run
		case mailstore.KindTooBig:
			pd.st.warnf("%s: %s is over the size limit; not imported", pd.mailbox, pd.desc)
		default:
			r.meet(pd.item.Src.Key)
			*pd.stored++
			pd.st.Bytes += res[i].Size
			pd.p.message(pd.mailbox)
		}
	}
	return nil
}

// deferredMsg is a message put off until the end of the run.
type deferredMsg struct {
	mailbox string
	uid     mailstore.UID
	src     mailstore.ImportSource
	size    int64 // stored (CRLF) size
	msg     mailstore.NewMessage
	scope   string                        // key prefix of its source mailbox ("mbox:INBOX:"), preferred when matching
	desc    string                        // for warnings: "cur/1.M2.host:2,S", "message 7"
	open    func() (io.ReadCloser, error) // the message's bytes as they are to be stored (CRLF)
}

func newLedgerRun(acc mailstore.Account) *ledgerRun {
	l, _ := acc.(mailstore.ImportLedger)
	return &ledgerRun{l: l, seen: map[uint64]struct{}{}}
}

func keyHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

func (r *ledgerRun) meet(key string) { r.seen[keyHash(key)] = struct{}{} }

// known reports whether key was imported before, and remembers it as met.
func (r *ledgerRun) known(ctx context.Context, key string) (bool, error) {
	found, err := r.l.Imported(ctx, key)
	if err != nil {
		return false, fmt.Errorf("import ledger: %w", err)
	}
	if found {
		r.meet(key)
	}
	return found, nil
}

// sameMessage reports whether the ledger holds a message with Message-ID
// mid and stored size size (size is computed only when mid is known).
func (r *ledgerRun) sameMessage(ctx context.Context, mid string, size func() (int64, error)) (bool, int64, error) {
	if mid == "" {
		return false, 0, nil
	}
	recs, err := r.l.ImportedByMessageID(ctx, mid)
	if err != nil || len(recs) == 0 {
		return false, 0, err
	}
	n, err := size()
	if err != nil {
		return false, 0, err
	}
	for _, rec := range recs {
		if rec.Size == n {
			return true, n, nil
		}
	}
	return false, n, nil
}

// store imports one message through the ledger.
func (r *ledgerRun) store(ctx context.Context, mailbox string, uid mailstore.UID, src mailstore.ImportSource, msg mailstore.NewMessage, body io.Reader) (int64, error) {
	cr := &countReader{r: body}
	_, _, err := r.l.ImportMessage(ctx, mailbox, uid, src, msg, cr)
	if err == nil {
		r.meet(src.Key)
	}
	return cr.n, err
}

// finish resolves the deferred messages (see the top of this file). A
// record from the same source mailbox is preferred: a first pass matches
// only those, a second any record, so that a message rewritten in place
// is not mistaken for a copy elsewhere that was processed first.
func (r *ledgerRun) finish(ctx context.Context, st *Stats, p *progress) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	claimed := make([]bool, len(r.deferred))
	for pass := 0; pass < 2; pass++ {
		for i, d := range r.deferred {
			if claimed[i] {
				continue
			}
			recs, err := r.l.ImportedByMessageID(ctx, d.src.MessageID)
			if err != nil {
				return fmt.Errorf("import ledger: %w", err)
			}
			for _, rec := range recs {
				if rec.Size != d.size || pass == 0 && !strings.HasPrefix(rec.Key, d.scope) {
					continue
				}
				if _, met := r.seen[keyHash(rec.Key)]; met {
					continue
				}
				if err := r.l.RekeyImport(ctx, rec.Key, d.src.Key); err != nil {
					return fmt.Errorf("import ledger: %w", err)
				}
				r.meet(rec.Key)
				r.meet(d.src.Key)
				st.warnf("%s: %s is taken as imported before (same Message-ID %s and size as %s)", d.mailbox, d.desc, d.src.MessageID, rec.Key)
				st.Skipped++
				claimed[i] = true
				break
			}
		}
	}
	for i, d := range r.deferred {
		if claimed[i] {
			continue
		}
		body, err := d.open()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", d.mailbox, d.desc, err)
		}
		n, err := r.store(ctx, d.mailbox, d.uid, d.src, d.msg, body)
		body.Close()
		switch mailstore.KindOf(err) {
		case mailstore.KindTooBig:
			st.warnf("%s: %s is over the size limit; not imported", d.mailbox, d.desc)
			continue
		case mailstore.KindExists:
			st.Skipped++ // stored meanwhile by a concurrent run
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %w", d.mailbox, d.desc, err)
		}
		st.Messages++
		st.Bytes += n
		p.message(d.mailbox)
	}
	r.deferred = nil
	return nil
}

// headerMessageID returns the Message-ID field body of a header block
// ("<a@b>", unfolded, spaces trimmed), or "".
func headerMessageID(hdr []byte) string {
	var val []byte
	in := false
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line, hdr = hdr[:i+1], hdr[i+1:]
		} else {
			hdr = nil
		}
		t := bytes.TrimRight(line, "\r\n")
		if len(t) == 0 {
			break
		}
		if t[0] == ' ' || t[0] == '\t' {
			if in {
				val = append(val, t...)
			}
			continue
		}
		if in {
			break
		}
		name, v, ok := bytes.Cut(t, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "Message-ID") {
			in = true
			val = append(val, v...)
		}
	}
	return strings.TrimSpace(string(val))
}

// maxIDHeader bounds the header read to find a Message-ID.
const maxIDHeader = 256 << 10

// fileMessageID returns the Message-ID of the message in file path.
func fileMessageID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 16<<10)
	var hdr []byte
	for len(hdr) < maxIDHeader {
		line, err := br.ReadSlice('\n')
		hdr = append(hdr, line...)
		if len(bytes.TrimRight(line, "\r\n")) == 0 && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	return headerMessageID(hdr), nil
}

// fileCRLFSize is the stored size of the message in file path.
func fileCRLFSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(io.Discard, message.NewCRLFReader(f))
}

// openCRLF opens a message file for storing, converted to CRLF.
func openCRLF(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{message.NewCRLFReader(f), f}, nil
}

// internalDate is a file's mtime, Dovecot's received date for Maildir.
func internalDate(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// legacyImport returns the UIDNEXT of a mailbox that an import before the
// ledger existed filled (it has the source's UIDVALIDITY, which only an
// import sets, and no ledger record), or 0. That import skipped by UID,
// so source messages below it are taken as imported and adopted into the
// ledger (adopt); from then on runs go by key. sourceUIDs says the UIDs
// and UIDVALIDITY come from the source (a dovecot-uidlist, X-IMAPbase),
// not from the mailbox itself.
func legacyImport(ctx context.Context, lr *ledgerRun, mailbox string, mb mailstore.Mailbox, sourceUIDs bool, uidValidity mailstore.UIDValidity) (mailstore.UID, error) {
	if lr.l == nil || !sourceUIDs || mb.UIDValidity != uidValidity || mb.UIDNext <= 1 {
		return 0, nil
	}
	imported, err := lr.l.MailboxImported(ctx, mailbox)
	if err != nil || imported {
		return 0, err
	}
	return mb.UIDNext, nil
}

// adopt records a message that a pre-ledger import stored (see
// legacyImport) without storing anything.
func adopt(ctx context.Context, lr *ledgerRun, mailbox string, uid mailstore.UID, key string, messageID func() (string, error)) error {
	if done, err := lr.known(ctx, key); err != nil || done {
		return err
	}
	mid, err := messageID()
	if err != nil {
		return err
	}
	err = lr.l.AdoptImport(ctx, mailbox, uid, mailstore.ImportSource{Key: key, MessageID: mid})
	if err != nil && mailstore.KindOf(err) != mailstore.KindExists {
		return fmt.Errorf("import ledger: %w", err)
	}
	lr.meet(key)
	return nil
}
