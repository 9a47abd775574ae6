package migrate

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Maildir++ as Dovecot 2.3 writes it (mail_location = maildir:~/Maildir):
// INBOX is the root; other mailboxes are ".Name" directories with "." as
// the hierarchy separator and names in modified UTF-7 ("Archive/2026" is
// ".Archive.2026"). Each has cur/, new/, tmp/, a dovecot-uidlist
// ("3 V<uidvalidity> N<nextuid> G<guid>", then "<uid> [ext...] :<base>")
// and a dovecot-keywords ("<index> <keyword>"; the letters a-z in file
// names are keyword indexes 0-25).

// maildirFlags maps the Maildir info letters to IMAP system flags. 'P'
// (passed) has no IMAP flag; Dovecot leaves it alone and so do we.
var maildirFlags = []struct {
	letter byte
	flag   string
}{
	{'D', mailstore.FlagDraft},
	{'F', mailstore.FlagFlagged},
	{'R', mailstore.FlagAnswered},
	{'S', mailstore.FlagSeen},
	{'T', mailstore.FlagDeleted},
}

// maxMaildirKeywords is how many keywords fit in file names (a-z).
const maxMaildirKeywords = 26

// maildirFolder is one mailbox directory.
type maildirFolder struct {
	name string // Roost name ("Archive/2026")
	dir  string
}

// maildirFoldersFS lists the mailboxes of a LAYOUT=fs Maildir: INBOX is
// the root, every directory below with a cur/ is a mailbox named by its
// path (modified UTF-7 on disk).
func maildirFoldersFS(root string) ([]maildirFolder, error) {
	out := []maildirFolder{{name: "INBOX", dir: root}}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || p == root {
			return nil
		}
		if n := d.Name(); n == "cur" || n == "new" || n == "tmp" || strings.HasPrefix(n, ".") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "cur")); err != nil {
			return nil // a \Noselect parent
		}
		rel, _ := filepath.Rel(root, p)
		name, err := imapwire.DecodeUTF7(filepath.ToSlash(rel))
		if err != nil {
			name = filepath.ToSlash(rel)
		}
		if name, err = mailstore.NormalizeMailboxName(name); err != nil {
			return fmt.Errorf("maildir folder %q: %w", rel, err)
		}
		out = append(out, maildirFolder{name: name, dir: p})
		return nil
	})
	return out, err
}

// maildirFolders lists the mailboxes of a Maildir++ root, INBOX first.
func maildirFolders(root string) ([]maildirFolder, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	out := []maildirFolder{{name: "INBOX", dir: root}}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, n, "cur")); err != nil {
			continue
		}
		name, err := imapwire.DecodeUTF7(n[1:])
		if err != nil {
			name = n[1:] // Dovecot with the UTF8 option writes UTF-8
		}
		name = strings.ReplaceAll(name, ".", "/")
		if strings.EqualFold(name, "INBOX") || strings.HasPrefix(strings.ToUpper(name), "INBOX/") {
			name = "INBOX" + name[5:]
		}
		if name, err = mailstore.NormalizeMailboxName(name); err != nil {
			return nil, fmt.Errorf("maildir folder %q: %w", n, err)
		}
		out = append(out, maildirFolder{name: name, dir: filepath.Join(root, n)})
	}
	sort.SliceStable(out[1:], func(i, j int) bool { return out[1+i].name < out[1+j].name })
	return out, nil
}

// uidlistHeader is the first line of dovecot-uidlist.
type uidlistHeader struct {
	uidValidity mailstore.UIDValidity
	nextUID     mailstore.UID
}

// readUIDListHeader parses "3 V<uidvalidity> N<nextuid> ...". Version 1
// ("1 <uidvalidity> <nextuid>") is accepted too.
func readUIDListHeader(line string) (uidlistHeader, error) {
	f := strings.Fields(line)
	var h uidlistHeader
	if len(f) == 0 {
		return h, errors.New("empty header")
	}
	num := func(s string) (uint32, error) {
		v, err := strconv.ParseUint(s, 10, 32)
		return uint32(v), err
	}
	switch f[0] {
	case "1":
		if len(f) < 3 {
			return h, errors.New("short version 1 header")
		}
		v, err1 := num(f[1])
		n, err2 := num(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return h, err
		}
		h.uidValidity, h.nextUID = mailstore.UIDValidity(v), mailstore.UID(n)
	case "2", "3":
		for _, x := range f[1:] {
			if len(x) < 2 {
				continue
			}
			switch x[0] {
			case 'V':
				v, err := num(x[1:])
				if err != nil {
					return h, err
				}
				h.uidValidity = mailstore.UIDValidity(v)
			case 'N':
				v, err := num(x[1:])
				if err != nil {
					return h, err
				}
				h.nextUID = mailstore.UID(v)
			}
		}
	default:
		return h, fmt.Errorf("unknown version %q", f[0])
	}
	if h.uidValidity == 0 {
		return h, errors.New("no UIDVALIDITY")
	}
	return h, nil
}

// parseUIDListLine parses "<uid> [ext...] :<base>" (version 3) or
// "<uid> <base>" (version 1).
func parseUIDListLine(line string) (mailstore.UID, string, bool) {
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return 0, "", false
	}
	uid, err := strconv.ParseUint(line[:sp], 10, 32)
	if err != nil || uid == 0 {
		return 0, "", false
	}
	rest := line[sp+1:]
	if i := strings.Index(rest, ":"); i >= 0 && (i == 0 || rest[i-1] == ' ') {
		return mailstore.UID(uid), rest[i+1:], true
	}
	return mailstore.UID(uid), strings.TrimSpace(rest), true
}

// readKeywords reads dovecot-keywords: index -> keyword.
func readKeywords(dir string) (map[int]string, error) {
	f, err := os.Open(filepath.Join(dir, "dovecot-keywords"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kw := map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		i, name, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(i)
		if !ok || err != nil || n < 0 || n >= maxMaildirKeywords || name == "" {
			continue
		}
		kw[n] = name
	}
	return kw, sc.Err()
}

// maildirBase splits a Maildir file name into its base (the part the
// uidlist names) and its info ("2,FS").
func maildirBase(name string) (base, info string) {
	if i := strings.LastIndex(name, ":"); i >= 0 {
		return name[:i], name[i+1:]
	}
	// Some tools use ";" or "!" where ":" is not allowed.
	if i := strings.LastIndexAny(name, ";!"); i >= 0 && strings.HasPrefix(name[i+1:], "2,") {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// infoFlags turns a Maildir info ("2,FRSa") into IMAP flags.
func infoFlags(info string, keywords map[int]string) []string {
	letters, ok := strings.CutPrefix(info, "2,")
	if !ok {
		return nil
	}
	var flags []string
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		for _, f := range maildirFlags {
			if f.letter == c {
				flags = append(flags, f.flag)
			}
		}
		if c >= 'a' && c <= 'z' {
			if kw, ok := keywords[int(c-'a')]; ok {
				flags = append(flags, kw)
			}
		}
	}
	return flags
}

// ImportMaildir imports the Maildir++ tree at root into acc, keeping
// UIDVALIDITY and UIDs from dovecot-uidlist.
func ImportMaildir(ctx context.Context, acc mailstore.Account, root string, opts Options) (Stats, error) {
	var st Stats
	imp, err := importer(acc)
	if err != nil {
		return st, err
	}
	var folders []maildirFolder
	switch opts.Layout {
	case "", "maildir++":
		folders, err = maildirFolders(root)
	case "fs":
		folders, err = maildirFoldersFS(root)
	default:
		return st, fmt.Errorf("unknown maildir layout %q (want maildir++ or fs)", opts.Layout)
	}
	if err != nil {
		return st, fmt.Errorf("read maildir %s: %w", root, err)
	}
	p := newProgress(opts)
	lr := newLedgerRun(acc)
	for _, f := range folders {
		if err := importMaildirFolder(ctx, acc, imp, lr, f, &st, p); err != nil {
			return st, fmt.Errorf("import %s (%s): %w", f.name, f.dir, err)
		}
		st.Mailboxes++
	}
	if lr.l != nil {
		if err := lr.finish(ctx, &st, p); err != nil {
			return st, err
		}
	}
	if err := importMaildirSubscriptions(ctx, acc, root); err != nil {
		st.warnf("subscriptions: %v", err)
	}
	return st, nil
}

func importMaildirFolder(ctx context.Context, acc mailstore.Account, imp mailstore.Importer, lr *ledgerRun, f maildirFolder, st *Stats, p *progress) error {
	keywords, err := readKeywords(f.dir)
	if err != nil {
		return err
	}
	// base name -> path relative to f.dir ("cur/x:2,S"). Only names are
	// held, never bodies.
	files := map[string]string{}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(f.dir, sub))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				base, _ := maildirBase(e.Name())
				files[base] = sub + "/" + e.Name()
			}
		}
	}

	var hdr uidlistHeader
	ul, err := os.Open(filepath.Join(f.dir, "dovecot-uidlist"))
	var sc *bufio.Scanner
	switch {
	case errors.Is(err, os.ErrNotExist):
		// No uidlist (not a Dovecot Maildir): new UIDs in the
		// mailbox as it is.
		m, err := acc.Mailbox(ctx, f.name)
		if mailstore.KindOf(err) == mailstore.KindNotFound {
			m, err = acc.CreateMailbox(ctx, f.name, "")
		}
		if err != nil {
			return err
		}
		// UIDs from 1 in file name order, so that a second run
		// assigns the same ones and skips them.
		hdr = uidlistHeader{uidValidity: m.UIDValidity, nextUID: 1}
		if m.UIDNext > 1 {
			st.warnf("%s: no dovecot-uidlist and the mailbox already holds mail: messages numbered below UID %d are taken as imported before", f.name, m.UIDNext)
		}
	case err != nil:
		return err
	default:
		defer ul.Close()
		sc = bufio.NewScanner(ul)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		if !sc.Scan() {
			return fmt.Errorf("dovecot-uidlist: no header: %v", sc.Err())
		}
		if hdr, err = readUIDListHeader(sc.Text()); err != nil {
			return fmt.Errorf("dovecot-uidlist header: %w", err)
		}
	}
	keepUIDs := true
	mb, err := imp.ImportMailbox(ctx, f.name, hdr.uidValidity, 0)
	if mailstore.KindOf(err) == mailstore.KindExists && lr.l != nil {
		// The mailbox got mail under another UIDVALIDITY before the
		// first import (deliveries already come here): add the source's
		// messages with new UIDs; the ledger still keeps runs exact.
		st.warnf("%s: %v; its messages get new UIDs (IMAP clients download this mailbox again)", f.name, err)
		keepUIDs = false
		mb, err = acc.Mailbox(ctx, f.name)
	}
	if err != nil {
		return err
	}
	next := mb.UIDNext // UIDs below were given out before: skip them (no ledger)
	legacy, err := legacyImport(ctx, lr, f.name, mb, keepUIDs && sc != nil, hdr.uidValidity)
	if err != nil {
		return err
	}
	stored, skipped := 0, 0
	put := func(uid mailstore.UID, base string) error {
		rel := files[base]
		if lr.l != nil && uid < legacy {
			skipped++
			return adopt(ctx, lr, f.name, uid, "maildir:"+base, func() (string, error) { return fileMessageID(filepath.Join(f.dir, rel)) })
		}
		if lr.l != nil {
			if !keepUIDs {
				uid = 0
			}
			return putLedger(ctx, lr, f, keywords, uid, base, rel, st, p, &stored, &skipped)
		}
		if uid < next {
			skipped++
			return nil
		}
		_, info := maildirBase(rel)
		n, err := importMaildirFile(ctx, imp, f.name, uid, filepath.Join(f.dir, rel), infoFlags(info, keywords))
		switch mailstore.KindOf(err) {
		case mailstore.KindExists:
			st.warnf("%s: UID %d out of order in dovecot-uidlist; skipped %s", f.name, uid, rel)
			skipped++
			return nil
		case mailstore.KindTooBig:
			st.warnf("%s: UID %d (%s) is over the size limit; not imported", f.name, uid, rel)
			return nil
		}
		if err != nil {
			return err
		}
		stored++
		st.Bytes += n
		next = uid + 1
		p.message(f.name)
		return nil
	}
	maxUID := mailstore.UID(0)
	if sc != nil {
		for sc.Scan() {
			uid, base, ok := parseUIDListLine(sc.Text())
			if !ok {
				continue
			}
			maxUID = max(maxUID, uid)
			if _, ok := files[base]; !ok {
				continue // expunged, uidlist not yet cleaned up
			}
			if err := put(uid, base); err != nil {
				return err
			}
			delete(files, base)
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("dovecot-uidlist: %w", err)
		}
	}
	// Messages the uidlist does not know (delivered after Dovecot last
	// synced): new UIDs in file name order, which is delivery order for
	// Maildir names starting with the time.
	rest := make([]string, 0, len(files))
	for base := range files {
		rest = append(rest, base)
	}
	sort.Strings(rest)
	uid := max(hdr.nextUID, maxUID+1, 1)
	for _, base := range rest {
		if err := put(uid, base); err != nil {
			return err
		}
		uid++
	}
	if lr.l != nil {
		if err := lr.flush(ctx); err != nil {
			return err
		}
	}
	if keepUIDs {
		if _, err := imp.ImportMailbox(ctx, f.name, hdr.uidValidity, uid); err != nil {
			return err
		}
	}
	st.Messages += stored
	st.Skipped += skipped
	p.mailbox(f.name, stored, skipped)
	return nil
}

// putLedger imports one Maildir file through the import ledger (see
// ledger.go): skipped if its base name was imported before, deferred if
// the ledger knows its Message-ID and size, else stored with uid (0: the
// next UID).
func putLedger(ctx context.Context, lr *ledgerRun, f maildirFolder, keywords map[int]string, uid mailstore.UID, base, rel string,
	st *Stats, p *progress, stored, skipped *int) error {
	src := mailstore.ImportSource{Key: "maildir:" + base}
	if done, err := lr.known(ctx, src.Key); err != nil {
		return err
	} else if done {
		*skipped++
		return nil
	}
	path := filepath.Join(f.dir, rel)
	_, info := maildirBase(rel)
	date, err := internalDate(path)
	if err != nil {
		return err
	}
	msg := mailstore.NewMessage{Flags: infoFlags(info, keywords), InternalDate: date}
	if src.MessageID, err = fileMessageID(path); err != nil {
		return err
	}
	dup, size, err := lr.sameMessage(ctx, src.MessageID, func() (int64, error) { return fileCRLFSize(path) })
	if err != nil {
		return err
	}
	if dup {
		lr.deferred = append(lr.deferred, deferredMsg{mailbox: f.name, uid: uid, src: src, size: size, msg: msg, scope: "maildir:", desc: rel,
			open: func() (io.ReadCloser, error) { return openCRLF(path) }})
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return lr.add(ctx, pending{
		item:    mailstore.ImportItem{UID: uid, Src: src, Msg: msg, Open: func() (io.ReadCloser, error) { return openCRLF(path) }},
		mailbox: f.name, desc: fmt.Sprintf("UID %d (%s)", uid, rel), stored: stored, skipped: skipped, st: st, p: p,
	}, fi.Size())
}

// importMaildirFile stores one message file with its mtime as the internal
// date (Dovecot's received date), converting line ends to CRLF.
func importMaildirFile(ctx context.Context, imp mailstore.Importer, mailbox string, uid mailstore.UID, path string, flags []string) (int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return 0, err
	}
	cr := &countReader{r: message.NewCRLFReader(fh)}
	_, err = imp.AppendUID(ctx, mailbox, uid, mailstore.NewMessage{Flags: flags, InternalDate: fi.ModTime()}, cr)
	return cr.n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// importMaildirSubscriptions reads Dovecot's subscriptions file: version 2
// ("V\t2", a blank line, then names with levels separated by tabs) or the
// old form (one name per line, "." separated).
func importMaildirSubscriptions(ctx context.Context, acc mailstore.Account, root string) error {
	b, err := os.ReadFile(filepath.Join(root, "subscriptions"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	v2 := len(lines) > 0 && strings.HasPrefix(lines[0], "V\t")
	if v2 {
		lines = lines[1:]
	}
	for _, l := range lines {
		if l == "" {
			continue
		}
		name := l
		if v2 {
			name = strings.ReplaceAll(l, "\t", "/")
		} else {
			if d, err := imapwire.DecodeUTF7(l); err == nil {
				name = d
			}
			name = strings.ReplaceAll(name, ".", "/")
		}
		if err := acc.SetSubscribed(ctx, name, true); err != nil {
			return fmt.Errorf("subscribe %q: %w", name, err)
		}
	}
	return nil
}

// ExportMaildir writes every mailbox of acc as a Maildir++ tree at root,
// with dovecot-uidlist and dovecot-keywords, so that Dovecot keeps the
// UIDVALIDITY, UIDs, flags and keywords. root must not hold a Maildir yet.
func ExportMaildir(ctx context.Context, acc mailstore.Account, root string, opts Options) (Stats, error) {
	var st Stats
	if _, err := os.Stat(filepath.Join(root, "dovecot-uidlist")); err == nil {
		return st, fmt.Errorf("%s already holds a Maildir (dovecot-uidlist exists)", root)
	}
	mboxes, err := acc.Mailboxes(ctx)
	if err != nil {
		return st, err
	}
	fs := opts.Layout == "fs"
	if !fs && opts.Layout != "" && opts.Layout != "maildir++" {
		return st, fmt.Errorf("unknown maildir layout %q (want maildir++ or fs)", opts.Layout)
	}
	for _, m := range mboxes {
		if !fs && m.Name != "INBOX" && strings.ContainsRune(m.Name, '.') {
			return st, fmt.Errorf("mailbox %q: Maildir++ uses '.' as its separator; rename the mailbox or export with LAYOUT=fs", m.Name)
		}
		if fs && m.Name != "INBOX" {
			if first, _, _ := strings.Cut(m.Name, "/"); first == "cur" || first == "new" || first == "tmp" {
				return st, fmt.Errorf("mailbox %q: its name collides with INBOX's %s directory in LAYOUT=fs", m.Name, first)
			}
		}
	}
	p := newProgress(opts)
	var subs []string
	for _, m := range mboxes {
		dir := root
		switch {
		case m.Name == "INBOX":
		case fs:
			dir = filepath.Join(root, filepath.FromSlash(imapwire.EncodeUTF7(m.Name)))
		default:
			dir = filepath.Join(root, "."+imapwire.EncodeUTF7(strings.ReplaceAll(m.Name, "/", ".")))
		}
		if err := exportMaildirFolder(ctx, acc, m, dir, !fs, &st, p); err != nil {
			return st, fmt.Errorf("export %s: %w", m.Name, err)
		}
		st.Mailboxes++
		if m.Subscribed {
			subs = append(subs, m.Name)
		}
	}
	// Subscriptions in Dovecot 2.3's version 2 format.
	var b strings.Builder
	b.WriteString("V\t2\n\n")
	for _, s := range subs {
		b.WriteString(strings.ReplaceAll(s, "/", "\t") + "\n")
	}
	if err := writeFileAtomic(filepath.Join(root, "subscriptions"), []byte(b.String())); err != nil {
		return st, err
	}
	return st, nil
}

func exportMaildirFolder(ctx context.Context, acc mailstore.Account, m mailstore.Mailbox, dir string, maildirFolderFile bool, st *Stats, p *progress) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	if m.Name != "INBOX" && maildirFolderFile {
		if err := os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o600); err != nil {
			return err
		}
	}
	msgs, err := acc.Messages(ctx, m.ID)
	if err != nil {
		return err
	}
	// Keyword indexes, in order of first use.
	kwIndex := map[string]int{}
	var kwNames []string
	for _, mm := range msgs {
		for _, f := range mm.Flags {
			if strings.HasPrefix(f, `\`) {
				continue
			}
			if _, ok := kwIndex[strings.ToLower(f)]; ok {
				continue
			}
			if len(kwNames) == maxMaildirKeywords {
				st.warnf("%s: more than %d keywords; %q is not exported", m.Name, maxMaildirKeywords, f)
				kwIndex[strings.ToLower(f)] = -1
				continue
			}
			kwIndex[strings.ToLower(f)] = len(kwNames)
			kwNames = append(kwNames, f)
		}
	}
	if len(kwNames) > 0 {
		var b strings.Builder
		for i, k := range kwNames {
			fmt.Fprintf(&b, "%d %s\n", i, k)
		}
		if err := writeFileAtomic(filepath.Join(dir, "dovecot-keywords"), []byte(b.String())); err != nil {
			return err
		}
	}

	var guid [16]byte
	rand.Read(guid[:])
	ul, err := os.Create(filepath.Join(dir, "dovecot-uidlist.tmp"))
	if err != nil {
		return err
	}
	defer ul.Close()
	ulw := bufio.NewWriter(ul)
	fmt.Fprintf(ulw, "3 V%d N%d G%s\n", m.UIDValidity, m.UIDNext, hex.EncodeToString(guid[:]))
	now := time.Now().Unix()
	for _, mm := range msgs {
		base, n, err := exportMaildirMessage(ctx, acc, m, mm, dir, now, kwIndex)
		if err != nil {
			return fmt.Errorf("UID %d: %w", mm.UID, err)
		}
		fmt.Fprintf(ulw, "%d :%s\n", mm.UID, base)
		st.Messages++
		st.Bytes += n
		p.message(m.Name)
	}
	if err := ulw.Flush(); err != nil {
		return err
	}
	if err := ul.Sync(); err != nil {
		return err
	}
	if err := ul.Close(); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, "dovecot-uidlist.tmp"), filepath.Join(dir, "dovecot-uidlist")); err != nil {
		return err
	}
	p.mailbox(m.Name, len(msgs), 0)
	return nil
}

// exportMaildirMessage writes one message with LF line ends into tmp/,
// then renames it into cur/ with its size (S=), virtual size (W=, the
// stored CRLF size) and flags in the name and the internal date as mtime.
func exportMaildirMessage(ctx context.Context, acc mailstore.Account, m mailstore.Mailbox, mm mailstore.MessageMeta, dir string, now int64, kwIndex map[string]int) (string, int64, error) {
	body, err := acc.Open(ctx, m.ID, mm.UID)
	if err != nil {
		return "", 0, err
	}
	defer body.Close()
	uniq := fmt.Sprintf("%d.M%dP%d.roost", now, mm.UID, m.UIDValidity)
	tmp := filepath.Join(dir, "tmp", uniq)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, err
	}
	n, err := copyLF(f, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp, mm.InternalDate, mm.InternalDate)
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, err
	}
	base := fmt.Sprintf("%s,S=%d,W=%d", uniq, n, mm.Size)
	var letters []byte
	for _, fl := range maildirFlags {
		if mm.HasFlag(fl.flag) {
			letters = append(letters, fl.letter)
		}
	}
	for _, fl := range mm.Flags {
		if i, ok := kwIndex[strings.ToLower(fl)]; ok && i >= 0 {
			letters = append(letters, byte('a'+i))
		}
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	if err := os.Rename(tmp, filepath.Join(dir, "cur", base+":2,"+string(letters))); err != nil {
		return "", 0, err
	}
	return base, n, nil
}

// writeFileAtomic writes a small file through a temporary name.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
