// Package migrate moves mail between a Roost account and Dovecot's on-disk
// formats: Maildir++ (with dovecot-uidlist and dovecot-keywords) and mbox
// (with Status/X-Status/X-Keywords/X-UID/X-IMAPbase headers).
//
// Invariants:
//   - UIDVALIDITY and UIDs are kept both ways when the backend implements
//     mailstore.Importer, so IMAP clients need not download mail again and
//     POP3 UIDLs (derived from UID and UIDVALIDITY) stay the same.
//   - Import is idempotent: messages are imported in ascending UID order
//     and a UID below the mailbox's UIDNEXT is never stored again, so a
//     second run (or a run after an interrupted one) adds only what is
//     missing. Messages without a UID in the source get UIDs after the
//     known ones, assigned in a fixed order (file name, or mbox position),
//     so a second run assigns them the same UIDs and skips them.
//   - Streaming: one message at a time; bodies are never held in memory.
//     Memory per message is its file name while a Maildir folder is
//     imported (as Dovecot's own uidlist handling), nothing for mbox.
//   - Bodies are stored with CRLF line ends, as delivery stores them, so
//     sizes equal Dovecot's virtual sizes (W=); they are written back with
//     LF line ends, as Dovecot saves them (mail_save_crlf = no).
package migrate

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// Options configure an import or export.
type Options struct {
	// Progress, if not nil, receives a line every ProgressEvery messages
	// and one per mailbox. On a terminal a counter is updated in place
	// instead (every 100 messages).
	Progress io.Writer
	// ProgressEvery is the number of messages between progress lines
	// (default 1000).
	ProgressEvery int
	// Layout is the Maildir layout: "" (Maildir++, Dovecot's default:
	// ".Archive.2026") or "fs" (Dovecot's LAYOUT=fs: nested directories,
	// "Archive/2026").
	Layout string
}

// Stats counts what an import or export did.
type Stats struct {
	Mailboxes int
	Messages  int   // messages stored or written
	Skipped   int   // messages already imported (UID below UIDNEXT)
	Bytes     int64 // octets stored or written
	Warnings  []string
}

func (s *Stats) warnf(format string, args ...any) {
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

// progress prints progress lines.
type progress struct {
	w     io.Writer
	tty   bool
	every int
	start time.Time
	n     int
}

func newProgress(o Options) *progress {
	every := o.ProgressEvery
	if every <= 0 {
		every = 1000
	}
	p := &progress{w: o.Progress, every: every, start: time.Now()}
	if f, ok := o.Progress.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
			p.every = 100
		}
	}
	return p
}

func (p *progress) message(mailbox string) {
	p.n++
	if p.w == nil || p.n%p.every != 0 {
		return
	}
	end := "\n"
	if p.tty {
		end = "\x1b[K\r" // clear to the end of the line, back to its start
	}
	fmt.Fprintf(p.w, "%s: %d messages, %.0f/s%s", mailbox, p.n, float64(p.n)/time.Since(p.start).Seconds(), end)
}

func (p *progress) mailbox(name string, stored, skipped int) {
	if p.w != nil {
		clear := ""
		if p.tty {
			clear = "\x1b[K"
		}
		fmt.Fprintf(p.w, "%s: done, %d stored, %d already there%s\n", name, stored, skipped, clear)
	}
}

// importer returns the account's mailstore.Importer.
func importer(acc mailstore.Account) (mailstore.Importer, error) {
	imp, ok := acc.(mailstore.Importer)
	if !ok {
		return nil, fmt.Errorf("the mail store cannot keep UIDs (no mailstore.Importer)")
	}
	return imp, nil
}

// copyLF copies r to w turning CRLF line ends into LF. A CR not followed by
// LF is kept.
func copyLF(w io.Writer, r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	bw := bufio.NewWriterSize(w, 32<<10)
	var n int64
	pendingCR := false
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if pendingCR {
				if chunk[0] != '\n' {
					bw.WriteByte('\r')
					n++
				}
				pendingCR = false
			}
			switch {
			case len(chunk) >= 2 && chunk[len(chunk)-1] == '\n' && chunk[len(chunk)-2] == '\r':
				chunk = append(chunk[:len(chunk)-2], '\n')
			case chunk[len(chunk)-1] == '\r' && err == bufio.ErrBufferFull:
				chunk = chunk[:len(chunk)-1]
				pendingCR = true
			}
			m, _ := bw.Write(chunk)
			n += int64(m)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if pendingCR {
				bw.WriteByte('\r')
				n++
			}
			return n, bw.Flush()
		}
		if err != nil {
			return n, err
		}
	}
}
