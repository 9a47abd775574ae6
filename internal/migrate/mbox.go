package migrate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/message"
)

// mbox as Dovecot reads and writes it (mboxcl2): messages start with a
// "From " line after a blank line; a Content-Length header, when present,
// gives the body's length, so body lines starting with "From " need no
// quoting. Dovecot does not unquote ">From " lines, and neither do we:
// the bytes stay as in the file (checked against Dovecot in the tests).
// Without Content-Length a "From " line ends the message if it follows a
// blank line or carries a valid date. Flags are in Status (R seen, O old),
// X-Status (A answered, F flagged, T draft, D deleted) and X-Keywords;
// UIDVALIDITY and the last UID given out in the first message's
// X-IMAPbase, UIDs in X-UID. Dovecot hides these headers from IMAP clients, so import drops
// them and export adds them.

// maxMboxHeader bounds the header held in memory while importing.
const maxMboxHeader = 1 << 20

// fromTime is the date format of From_ lines (asctime).
const fromTime = "Mon Jan _2 15:04:05 2006"

// mboxHidden are the header fields Dovecot keeps to itself.
var mboxHidden = []string{"status", "x-status", "x-keywords", "x-uid", "x-imapbase", "x-imap", "content-length"}

// parseFromLine returns the date of a From_ line ("From sender DATE").
func parseFromLine(line []byte) (time.Time, bool) {
	f := strings.Fields(string(line))
	if len(f) < 7 || f[0] != "From" {
		return time.Time{}, false
	}
	t, err := time.Parse("Mon Jan 2 15:04:05 2006", strings.Join(f[2:7], " "))
	return t, err == nil
}

// mboxReader splits an mbox into messages, one at a time.
type mboxReader struct {
	cnt      *countReader // under br: bytes read from the file
	fromOff  int64        // offset of the From_ line in from
	br       *bufio.Reader
	from     []byte // the From_ line of the next message; nil at EOF
	midLine  bool   // the last chunk did not end a line
	heldLine bool   // a blank line is held back: separator or content
	err      error
}

func newMboxReader(r io.Reader) (*mboxReader, error) {
	m := &mboxReader{cnt: &countReader{r: r}}
	m.br = bufio.NewReaderSize(m.cnt, 64<<10)
	for {
		line, err := m.br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 && err == nil {
			continue // leading blank lines
		}
		if len(line) == 0 && err == io.EOF {
			return m, nil // empty file
		}
		if !bytes.HasPrefix(line, []byte("From ")) {
			return nil, errors.New("not an mbox file: does not start with a From_ line")
		}
		m.from = line
		m.fromOff = m.pos() - int64(len(line))
		return m, nil
	}
}

// pos is the offset in the file of the next byte br returns.
func (m *mboxReader) pos() int64 { return m.cnt.n - int64(m.br.Buffered()) }

// mboxMessage is a message being read.
type mboxMessage struct {
	offset int64 // of its From_ line in the file
	date   time.Time
	header []byte // without the hidden fields, LF or CRLF as in the file
	fields map[string]string
	body   *mboxBody
}

// next returns the next message, or io.EOF. The previous message's body
// must have been read to its end.
func (m *mboxReader) next() (*mboxMessage, error) {
	if m.from == nil {
		if m.err != nil && m.err != io.EOF {
			return nil, m.err
		}
		return nil, io.EOF
	}
	msg := &mboxMessage{fields: map[string]string{}, offset: m.fromOff}
	msg.date, _ = parseFromLine(m.from)
	m.from = nil
	var hdr bytes.Buffer
	hidden := "" // the hidden field being read (continuation lines)
	for {
		line, err := m.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return nil, errors.New("header line too long")
		}
		if len(line) == 0 && err != nil {
			m.err = err
			break // EOF inside the header: a message without body
		}
		if bytes.Equal(line, []byte("\n")) || bytes.Equal(line, []byte("\r\n")) {
			hdr.Write(line)
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if hidden != "" {
				msg.fields[hidden] += " " + strings.TrimSpace(string(line))
				continue
			}
		} else {
			hidden = ""
			name, value, _ := strings.Cut(string(line), ":")
			name = strings.ToLower(strings.TrimSpace(name))
			for _, h := range mboxHidden {
				if name == h {
					hidden = h
					msg.fields[h] = strings.TrimSpace(value)
				}
			}
			if hidden != "" {
				continue
			}
		}
		if hdr.Len()+len(line) > maxMboxHeader {
			return nil, errors.New("header too large")
		}
		hdr.Write(line)
		if err != nil {
			m.err = err
			break
		}
	}
	msg.header = hdr.Bytes()
	msg.body = &mboxBody{m: m, done: m.err != nil}
	if cl, err := strconv.ParseInt(msg.fields["content-length"], 10, 64); err == nil && cl >= 0 && !msg.body.done {
		msg.body.cl = &io.LimitedReader{R: m.br, N: cl}
	}
	return msg, nil
}

// mboxBody reads a message body up to the next From_ line, dropping the
// blank separator line and unquoting ">From ".
type mboxBody struct {
	m       *mboxReader
	cl      *io.LimitedReader // the body by Content-Length, if given
	pending []byte
	done    bool
}

func (b *mboxBody) Read(p []byte) (int, error) {
	for len(b.pending) == 0 {
		if b.done {
			return 0, io.EOF
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

func (b *mboxBody) fill() error {
	m := b.m
	if b.cl != nil {
		return b.fillCL()
	}
	chunk, err := m.br.ReadSlice('\n')
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return err
	}
	b.pending = b.pending[:0]
	if m.midLine {
		b.pending = append(b.pending, chunk...)
	} else {
		if len(chunk) == 0 && err == io.EOF {
			b.done = true
			m.heldLine = false // the final separator
			return nil
		}
		if bytes.HasPrefix(chunk, []byte("From ")) && err != bufio.ErrBufferFull {
			if _, ok := parseFromLine(chunk); ok || m.heldLine {
				m.from = append([]byte(nil), chunk...)
				m.fromOff = m.pos() - int64(len(chunk))
				m.heldLine = false
				b.done = true
				return nil
			}
		}
		if m.heldLine {
			b.pending = append(b.pending, '\n')
			m.heldLine = false
		}
		if err == nil && (len(chunk) == 1 || len(chunk) == 2 && chunk[0] == '\r') {
			m.heldLine = true
			return nil
		}
		b.pending = append(b.pending, chunk...)
	}
	m.midLine = err == bufio.ErrBufferFull
	if err == io.EOF {
		b.done = true
	}
	return nil
}

// fillCL reads a body whose length Content-Length gave, then the blank
// separator and the next From_ line.
func (b *mboxBody) fillCL() error {
	m := b.m
	if b.cl.N > 0 {
		buf := make([]byte, min(b.cl.N, 32<<10))
		n, err := io.ReadFull(b.cl, buf)
		b.pending = buf[:n]
		if err != nil {
			return fmt.Errorf("body shorter than its Content-Length: %w", err)
		}
		return nil
	}
	b.done = true
	for {
		line, err := m.br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			continue
		}
		if !bytes.HasPrefix(line, []byte("From ")) {
			return errors.New("no From_ line after the Content-Length of a message")
		}
		m.from = line
		m.fromOff = m.pos() - int64(len(line))
		return nil
	}
}

// mboxFlags turns Status/X-Status/X-Keywords into IMAP flags.
func mboxFlags(fields map[string]string) []string {
	var flags []string
	if strings.Contains(fields["status"], "R") {
		flags = append(flags, mailstore.FlagSeen)
	}
	xs := fields["x-status"]
	for _, f := range []struct {
		c    string
		flag string
	}{{"A", mailstore.FlagAnswered}, {"F", mailstore.FlagFlagged}, {"T", mailstore.FlagDraft}, {"D", mailstore.FlagDeleted}} {
		if strings.Contains(xs, f.c) {
			flags = append(flags, f.flag)
		}
	}
	for _, kw := range strings.FieldsFunc(fields["x-keywords"], func(r rune) bool { return r == ' ' || r == ',' }) {
		flags = append(flags, kw)
	}
	return flags
}

// ImportMbox imports an mbox file into mailbox, or, if path is a
// directory, every mbox file below it into the mailbox of its relative
// path ("inbox" is INBOX; Dovecot's ".imap" index directories are
// skipped).
func ImportMbox(ctx context.Context, acc mailstore.Account, path, mailbox string, opts Options) (Stats, error) {
	var st Stats
	imp, err := importer(acc)
	if err != nil {
		return st, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return st, err
	}
	p := newProgress(opts)
	lr := newLedgerRun(acc)
	if !fi.IsDir() {
		if mailbox == "" {
			mailbox = "INBOX"
		}
		if err := importMboxFile(ctx, acc, imp, lr, path, mailbox, &st, p); err != nil {
			return st, err
		}
		if lr.l != nil {
			err = lr.finish(ctx, &st, p)
		}
		return st, err
	}
	var files []string
	err = filepath.WalkDir(path, func(f string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".imap" || strings.HasPrefix(d.Name(), ".") && f != path) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") && d.Name() != "subscriptions" {
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(path, f)
		name := mboxName(filepath.ToSlash(rel))
		if err := importMboxFile(ctx, acc, imp, lr, f, name, &st, p); err != nil {
			return st, err
		}
	}
	if lr.l != nil {
		if err := lr.finish(ctx, &st, p); err != nil {
			return st, err
		}
	}
	return st, nil
}

func importMboxFile(ctx context.Context, acc mailstore.Account, imp mailstore.Importer, lr *ledgerRun, path, mailbox string, st *Stats, p *progress) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r, err := newMboxReader(fh)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var next mailstore.UID // the store's UIDNEXT before this run
	assign := mailstore.UID(1)
	stored, skipped := 0, 0
	var uidValidity mailstore.UIDValidity
	var uidNext mailstore.UID
	keepUIDs := true
	var legacy mailstore.UID // see legacyImport
	for n := 0; ; n++ {
		msg, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: message %d: %w", path, n+1, err)
		}
		if n == 0 {
			// X-IMAPbase: UIDVALIDITY LAST-UID [keywords] (UW-IMAP's
			// "uidlast", as Dovecot writes it: UIDNEXT - 1).
			if f := strings.Fields(msg.fields["x-imapbase"]); len(f) >= 2 {
				v, err1 := strconv.ParseUint(f[0], 10, 32)
				u, err2 := strconv.ParseUint(f[1], 10, 32)
				if err1 == nil && err2 == nil && v != 0 {
					uidValidity, uidNext = mailstore.UIDValidity(v), mailstore.UID(u+1)
				}
			}
			if uidValidity == 0 {
				mb, err := acc.Mailbox(ctx, mailbox)
				if mailstore.KindOf(err) == mailstore.KindNotFound {
					mb, err = acc.CreateMailbox(ctx, mailbox, "")
				}
				if err != nil {
					return fmt.Errorf("%s: %w", mailbox, err)
				}
				uidValidity = mb.UIDValidity
			}
			mb, err := imp.ImportMailbox(ctx, mailbox, uidValidity, 0)
			if mailstore.KindOf(err) == mailstore.KindExists && lr.l != nil {
				// Mail under another UIDVALIDITY came first (see
				// importMaildirFolder): new UIDs, the ledger keeps runs exact.
				st.warnf("%s: %v; its messages get new UIDs (IMAP clients download this mailbox again)", mailbox, err)
				keepUIDs = false
				mb, err = acc.Mailbox(ctx, mailbox)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", mailbox, err)
			}
			next = mb.UIDNext
			if legacy, err = legacyImport(ctx, lr, mailbox, mb, keepUIDs && uidNext != 0, uidValidity); err != nil {
				return fmt.Errorf("%s: %w", mailbox, err)
			}
		}
		uid := assign
		if x, err := strconv.ParseUint(msg.fields["x-uid"], 10, 32); err == nil && mailstore.UID(x) >= assign {
			uid = mailstore.UID(x)
		}
		assign = uid + 1
		if lr.l != nil && uid < legacy {
			skipped++
			if err := adopt(ctx, lr, mailbox, uid, mboxKey(mailbox, msg), func() (string, error) { return headerMessageID(msg.header), nil }); err != nil {
				return fmt.Errorf("%s: message %d: %w", path, n+1, err)
			}
			if _, err := io.Copy(io.Discard, msg.body); err != nil {
				return err
			}
			continue
		}
		if lr.l != nil {
			if !keepUIDs {
				uid = 0
			}
			res, err := putMboxLedger(ctx, lr, path, mailbox, n+1, uid, msg, st, p, &stored, &skipped)
			if err != nil {
				return fmt.Errorf("%s: message %d: %w", path, n+1, err)
			}
			switch res {
			case putStored:
				stored++
			case putSkipped:
				skipped++
			}
			continue
		}
		if uid < next {
			skipped++
			if _, err := io.Copy(io.Discard, msg.body); err != nil {
				return err
			}
			continue
		}
		cr := &countReader{r: message.NewCRLFReader(io.MultiReader(bytes.NewReader(msg.header), msg.body))}
		date := msg.date
		if date.IsZero() {
			date = time.Now()
		}
		_, err = imp.AppendUID(ctx, mailbox, uid, mailstore.NewMessage{Flags: mboxFlags(msg.fields), InternalDate: date}, cr)
		// A refused body must still be read up to the next message.
		if _, derr := io.Copy(io.Discard, msg.body); err == nil {
			err = derr
		}
		if mailstore.KindOf(err) == mailstore.KindTooBig {
			st.warnf("%s: message %d (UID %d) is over the size limit; not imported", mailbox, n+1, uid)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: message %d: %w", path, n+1, err)
		}
		stored++
		st.Bytes += cr.n
		next = uid + 1
		p.message(mailbox)
	}
	if lr.l != nil {
		if err := lr.flush(ctx); err != nil {
			return err
		}
	}
	if uidValidity != 0 && keepUIDs {
		if _, err := imp.ImportMailbox(ctx, mailbox, uidValidity, max(uidNext, assign)); err != nil {
			return fmt.Errorf("%s: %w", mailbox, err)
		}
	}
	st.Mailboxes++
	st.Messages += stored
	st.Skipped += skipped
	p.mailbox(mailbox, stored, skipped)
	return nil
}

// mboxKey is a message's ledger key: mailbox, offset of its From_ line
// and a hash of its header without the fields Dovecot rewrites.
func mboxKey(mailbox string, msg *mboxMessage) string {
	sum := sha256.Sum256(msg.header)
	return fmt.Sprintf("mbox:%s:%d:%x", mailbox, msg.offset, sum[:8])
}

// putResult is what became of one source message.
type putResult int

const (
	putFailed   putResult = iota
	putStored             // stored now
	putSkipped            // imported before
	putDeferred           // decided when the run finishes (ledger.go)
	putRefused            // not importable (over the size limit), warned
)

// putMboxLedger imports one mbox message through the import ledger (see
// ledger.go); its key is the mailbox, the offset of its From_ line and a
// hash of its header without the fields Dovecot rewrites. It reads the
// message's body to its end in every case and reports what became of the
// message (deferred ones are counted when the run finishes).
func putMboxLedger(ctx context.Context, lr *ledgerRun, path, mailbox string, n int, uid mailstore.UID, msg *mboxMessage,
	st *Stats, p *progress, stored, skipped *int) (putResult, error) {
	src := mailstore.ImportSource{Key: mboxKey(mailbox, msg), MessageID: headerMessageID(msg.header)}
	discard := func() error { _, err := io.Copy(io.Discard, msg.body); return err }
	if done, err := lr.known(ctx, src.Key); err != nil {
		return putFailed, err
	} else if done {
		return putSkipped, discard()
	}
	date := msg.date
	if date.IsZero() {
		date = time.Now()
	}
	nm := mailstore.NewMessage{Flags: mboxFlags(msg.fields), InternalDate: date}
	whole := func() io.Reader {
		return message.NewCRLFReader(io.MultiReader(bytes.NewReader(msg.header), msg.body))
	}
	reopen := func() (io.ReadCloser, error) { return openMboxAt(path, msg.offset) }
	consumed := false
	dup, size, err := lr.sameMessage(ctx, src.MessageID, func() (int64, error) {
		consumed = true
		return io.Copy(io.Discard, whole())
	})
	if err != nil {
		return putFailed, err
	}
	desc := fmt.Sprintf("message %d", n)
	if dup {
		lr.deferred = append(lr.deferred, deferredMsg{mailbox: mailbox, uid: uid, src: src, size: size, msg: nm,
			scope: "mbox:" + mailbox + ":", desc: desc, open: reopen})
		return putDeferred, nil
	}
	var body io.Reader
	if consumed {
		rc, err := reopen()
		if err != nil {
			return putFailed, err
		}
		defer rc.Close()
		body = rc
	} else {
		// Small messages are read into memory and batched.
		body = whole()
		buf, err := io.ReadAll(io.LimitReader(body, maxBuffered+1))
		if err != nil {
			return putFailed, err
		}
		if len(buf) <= maxBuffered {
			err := lr.add(ctx, pending{
				item: mailstore.ImportItem{UID: uid, Src: src, Msg: nm,
					Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }},
				mailbox: mailbox, desc: desc, stored: stored, skipped: skipped, st: st, p: p,
			}, int64(len(buf)))
			return putDeferred, err // counted when the batch is stored
		}
		body = io.MultiReader(bytes.NewReader(buf), body)
	}
	if err := lr.flush(ctx); err != nil {
		return putFailed, err
	}
	nb, err := lr.store(ctx, mailbox, uid, src, nm, body)
	// A refused body must still be read up to the next message.
	if derr := discard(); err == nil {
		err = derr
	}
	switch mailstore.KindOf(err) {
	case mailstore.KindExists:
		return putSkipped, nil // stored meanwhile by a concurrent run
	case mailstore.KindTooBig:
		st.warnf("%s: %s is over the size limit; not imported", mailbox, desc)
		return putRefused, nil
	}
	if err != nil {
		return putFailed, err
	}
	st.Bytes += nb
	p.message(mailbox)
	return putStored, nil
}

// openMboxAt returns the message whose From_ line starts at off in the
// mbox file path, as it is stored (hidden fields dropped, CRLF).
func openMboxAt(path string, off int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	r, err := newMboxReader(f)
	if err == nil && r.from == nil {
		err = errors.New("message gone")
	}
	var msg *mboxMessage
	if err == nil {
		msg, err = r.next()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("re-read mbox message at offset %d: %w", off, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{message.NewCRLFReader(io.MultiReader(bytes.NewReader(msg.header), msg.body)), f}, nil
}

// mboxName turns a path below Dovecot's mbox root into a mailbox name:
// "inbox" is INBOX, names are in modified UTF-7 on disk (Dovecot 2.3's
// default) unless they do not decode.
func mboxName(rel string) string {
	if strings.EqualFold(rel, "inbox") {
		return "INBOX"
	}
	if d, err := imapwire.DecodeUTF7(rel); err == nil {
		return d
	}
	return rel
}

// ExportMbox writes every mailbox of acc as an mbox file below dir, as
// Dovecot's mail_location = mbox:DIR:INBOX=DIR/inbox reads it. A mailbox
// cannot be both an mbox file and the directory of its children: an empty
// parent becomes a directory only; a parent holding mail is an error.
func ExportMbox(ctx context.Context, acc mailstore.Account, dir string, opts Options) (Stats, error) {
	var st Stats
	mboxes, err := acc.Mailboxes(ctx)
	if err != nil {
		return st, err
	}
	hasChildren := map[string]bool{}
	for _, m := range mboxes {
		if i := strings.LastIndexByte(m.Name, '/'); i > 0 {
			for j := i; j > 0; j = strings.LastIndexByte(m.Name[:j], '/') {
				hasChildren[m.Name[:j]] = true
			}
		}
	}
	p := newProgress(opts)
	for _, m := range mboxes {
		path := filepath.Join(dir, filepath.FromSlash(imapwire.EncodeUTF7(m.Name)))
		if m.Name == "INBOX" {
			path = filepath.Join(dir, "inbox")
		}
		if _, err := os.Stat(path); err == nil {
			return st, fmt.Errorf("%s exists already", path)
		}
		msgs, err := acc.Messages(ctx, m.ID)
		if err != nil {
			return st, err
		}
		if hasChildren[m.Name] && m.Name != "INBOX" {
			if len(msgs) > 0 {
				return st, fmt.Errorf("mailbox %q holds mail and has children: mbox cannot store both", m.Name)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return st, err
		}
		if err := exportMboxFile(ctx, acc, m, msgs, path, &st, p); err != nil {
			return st, fmt.Errorf("export %s: %w", m.Name, err)
		}
		st.Mailboxes++
	}
	return st, nil
}

func exportMboxFile(ctx context.Context, acc mailstore.Account, m mailstore.Mailbox, msgs []mailstore.MessageMeta, path string, st *Stats, p *progress) error {
	f, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 64<<10)
	var kws []string
	seen := map[string]bool{}
	for _, mm := range msgs {
		for _, fl := range mm.Flags {
			if !strings.HasPrefix(fl, `\`) && !seen[strings.ToLower(fl)] {
				seen[strings.ToLower(fl)] = true
				kws = append(kws, fl)
			}
		}
	}
	for i, mm := range msgs {
		var extra strings.Builder
		if i == 0 {
			fmt.Fprintf(&extra, "X-IMAPbase: %d %010d", m.UIDValidity, m.UIDNext-1)
			for _, k := range kws {
				extra.WriteString(" " + k)
			}
			extra.WriteString("\n")
		}
		fmt.Fprintf(&extra, "X-UID: %d\n", mm.UID)
		status := "O"
		if mm.HasFlag(mailstore.FlagSeen) {
			status = "RO"
		}
		fmt.Fprintf(&extra, "Status: %s\n", status)
		xs := ""
		for _, x := range []struct{ c, flag string }{{"A", mailstore.FlagAnswered}, {"F", mailstore.FlagFlagged}, {"T", mailstore.FlagDraft}, {"D", mailstore.FlagDeleted}} {
			if mm.HasFlag(x.flag) {
				xs += x.c
			}
		}
		if xs != "" {
			fmt.Fprintf(&extra, "X-Status: %s\n", xs)
		}
		var mkw []string
		for _, fl := range mm.Flags {
			if !strings.HasPrefix(fl, `\`) {
				mkw = append(mkw, fl)
			}
		}
		if len(mkw) > 0 {
			fmt.Fprintf(&extra, "X-Keywords: %s\n", strings.Join(mkw, " "))
		}
		fmt.Fprintf(w, "From MAILER-DAEMON %s\n", mm.InternalDate.UTC().Format(fromTime))
		body, err := acc.Open(ctx, m.ID, mm.UID)
		if err != nil {
			return err
		}
		cl, err := mboxBodyLength(body)
		if err == nil {
			fmt.Fprintf(&extra, "Content-Length: %d\n", cl)
			_, err = body.Seek(0, io.SeekStart)
		}
		if err != nil {
			body.Close()
			return err
		}
		n, err := writeMboxMessage(w, body, extra.String())
		body.Close()
		if err != nil {
			return fmt.Errorf("UID %d: %w", mm.UID, err)
		}
		st.Messages++
		st.Bytes += n
		p.message(m.Name)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	if len(msgs) > 0 {
		os.Chtimes(path, time.Now(), time.Now())
	}
	p.mailbox(m.Name, len(msgs), 0)
	return nil
}

// mboxBodyLength returns the length of a stored message's body (after the
// blank line ending the header) with LF line ends: its Content-Length.
func mboxBodyLength(r io.Reader) (int64, error) {
	var c lenWriter
	_, err := copyLF(&c, r)
	if err != nil {
		return 0, err
	}
	if c.bodyStart < 0 {
		return 0, nil
	}
	return c.n - c.bodyStart, nil
}

// lenWriter counts bytes and notes where the first "\n\n" ends.
type lenWriter struct {
	n         int64
	last      byte
	started   bool
	bodyStart int64
}

func (c *lenWriter) Write(p []byte) (int, error) {
	if !c.started {
		c.started, c.bodyStart = true, -1
		if len(p) > 0 && p[0] == '\n' {
			c.bodyStart = 1 // no header at all
		}
	}
	for i, b := range p {
		if c.bodyStart < 0 && b == '\n' && c.last == '\n' {
			c.bodyStart = c.n + int64(i) + 1
		}
		c.last = b
	}
	c.n += int64(len(p))
	return len(p), nil
}

// writeMboxMessage writes a stored (CRLF) message with LF line ends, extra
// header lines added at the end of the header (Content-Length among them,
// so that no body line needs quoting) and a blank separator line.
func writeMboxMessage(w *bufio.Writer, r io.Reader, extra string) (int64, error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := copyLF(pw, r)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	br := bufio.NewReaderSize(pr, 64<<10)
	var n int64
	inHeader, midLine := true, false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if !midLine {
				if inHeader && chunk[0] == '\n' {
					w.WriteString(extra)
					inHeader = false
				}
			}
			w.Write(chunk)
			n += int64(len(chunk))
			midLine = chunk[len(chunk)-1] != '\n'
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if inHeader {
		if midLine {
			w.WriteByte('\n')
			midLine = false
		}
		w.WriteString(extra)
		w.WriteString("\n")
	}
	if midLine {
		// Dovecot adds the missing line end too; the separator follows.
		w.WriteByte('\n')
	}
	w.WriteByte('\n')
	return n, nil
}
