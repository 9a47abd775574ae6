package imapserver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// Zero-copy FETCH bodies (issue 8 item 4; DESIGN.md).
//
// A literal of a FETCH response that is a byte range of the stored
// message (BODY[], BODY.PEEK[], RFC822, RFC822.TEXT, BODY[TEXT], any part's
// BODY[n], BINARY[] of data that needs no decoding, each with or without
// <partial>) can go from the blob store's file to the socket with
// sendfile(2): the response up to "{n}" CRLF is flushed, the kernel sends
// the n bytes, and the rest of the response is buffered as usual. This is
// done only when
//   - the connection has no TLS (netserver.Conn.CanSendFile) and COMPRESS
//     is not active: both must transform every byte in user space;
//   - the message is a local file (blob.FileReader; PostgreSQL and S3 blobs
//     are copied);
//   - the literal is at least sendFileMin octets: below that, the extra
//     flush (one more write and packet for the response prefix) costs more
//     than the copy saves (docs/BENCHMARKS.md, "Zero-copy FETCH bodies").
//
// The literal's size was announced before any byte is sent, and prepare
// checked that the stored file has the size the metadata says, so the
// bytes sent equal the announced size unless the file or the connection
// fails mid-literal. Such a failure cannot be repaired on the wire: the
// connection is closed, the failure logged, and the FETCH ends the
// session (a fatal error).

// sendFileMin is the smallest literal sent with sendfile. A variable for
// the tests and benchmarks, which compare both paths.
var sendFileMin int64 = 64 << 10

// literal writes d, a section of body, as a literal ("{n}" or, with lit8,
// "~{n}"), with sendfile when f.sendFile allows it (see above). The error
// is fatal (nothing can follow a cut literal) or the encoder's sticky
// write error.
func (f *fetcher) literal(body mailstore.Body, d sectionData, lit8 bool) error {
	n := d.size()
	fr, isFile := body.(blob.FileReader)
	if f.sendFile == nil || d.computed || n < sendFileMin || !isFile {
		r := d.reader(body)
		if lit8 {
			f.enc.Literal8(n, r)
		} else {
			f.enc.Literal(n, r)
		}
		return f.enc.Err()
	}
	hdr := f.buf[:0]
	if lit8 {
		hdr = append(hdr, '~')
	}
	hdr = append(hdr, '{')
	hdr = strconv.AppendInt(hdr, n, 10)
	hdr = append(hdr, "}\r\n"...)
	f.enc.RawBytes(hdr)
	f.buf = hdr[:0]
	if err := f.enc.Flush(); err != nil {
		return err
	}
	err := f.sendFile(fr.LocalFile(), d.off, n)
	if err == nil {
		return nil
	}
	if errors.Is(err, netserver.ErrSendFileUnsupported) {
		// Nothing was sent (a file system without sendfile support):
		// copy this literal and the following ones.
		f.sendFile = nil
		if _, err := io.CopyN(encWriter{f.enc}, d.reader(body), n); err != nil {
			if werr := f.enc.Err(); werr != nil {
				return werr
			}
			// The file ended early: the literal is cut.
			return fatal(fmt.Errorf("send message body: %w", err))
		}
		return nil
	}
	return fatal(fmt.Errorf("send message body: %w", err))
}

// encWriter writes through an Encoder (the body of a literal whose header
// is written already).
type encWriter struct{ e *imapwire.Encoder }

func (w encWriter) Write(p []byte) (int, error) {
	w.e.RawBytes(p)
	if err := w.e.Err(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fetchSendFile returns the fetcher's sendFile for this session: nil when
// bodies must be copied (TLS, COMPRESS, a platform without sendfile).
// After a failure mid-literal it closes the connection, since the stream
// cannot be repaired, and logs why.
func (s *session) fetchSendFile() func(file *os.File, off, n int64) error {
	if s.deflate || !s.conn.CanSendFile() {
		return nil
	}
	return func(file *os.File, off, n int64) error {
		start := time.Now()
		sent, err := s.conn.SendFile(file, off, n, s.timeout())
		if err != nil && !(sent == 0 && errors.Is(err, netserver.ErrSendFileUnsupported)) {
			s.conn.Close()
			s.log.Info("imap sending a message body failed: connection closed", "user", s.user,
				"sent", sent, "size", n, "duration", time.Since(start).Round(time.Millisecond), "err", err)
		}
		return err
	}
}
