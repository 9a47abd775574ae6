package imapserver

import (
	"bufio"
	"context"
	"io"

	"github.com/klauspost/compress/flate"

	"github.com/roost-mail/roost/internal/imap"
)

func init() {
	// RFC 4978 5: command-auth. Not advertised before login (Dovecot
	// offers COMPRESS=DEFLATE only post-login too).
	commands["COMPRESS"] = commandSpec{states: authenticated, run: (*session).cmdCompress,
		caps: []string{"COMPRESS=DEFLATE"}}
}

// deflateDict is how much of the uncompressed output the compressor keeps
// as its dictionary for the next flush (klauspost's stateless encoder
// uses at most 8 KiB).
const deflateDict = 8 << 10

// compressedReadBuf is the size of the buffer of inflated input the
// decoder reads from.
const compressedReadBuf = 8 << 10

// cmdCompress is COMPRESS DEFLATE (RFC 4978 3): after the tagged OK both
// directions are raw DEFLATE (RFC 1951, no zlib header).
//
// Replies as Dovecot's imap_zlib: "OK Begin compression.", and a second
// COMPRESS gets "NO [COMPRESSIONACTIVE] COMPRESSION=DEFLATE already
// enabled.". An unknown mechanism is BAD as RFC 4978 3 says ("invalid or
// unknown argument"); Dovecot answers NO there, and clients treat both
// alike (they MUST NOT turn compression on).
//
// Input: the inflater reads from the old buffered reader, so bytes the
// client sent right after the COMPRESS line that are already buffered
// there are inflated first (they are compressed: the client compresses
// from the first command after COMPRESS). It is klauspost's inflater
// with WithPartialBlock: it hands out the data of each block as soon as
// the block ends. Without it (and with the standard library's inflater)
// the data of a non-final block stays in the window until the next block
// has been decoded; after a sync flush that next block is an empty stored
// block, complete on the wire, but after zlib's Z_PARTIAL_FLUSH it is an
// empty static block whose last bits are only sent with the client's
// next command: the server would wait for the command it has not yet
// answered (TestCompressPartialFlush).
//
// Output: the tagged OK is flushed uncompressed, then s.bw writes into a
// deflateWriter that ends every Write with a sync flush. s.bw only
// writes when it is flushed or full, so every flush of the session (after
// the tagged reply, continuations, IDLE updates, BYE) reaches the client
// at once, as it did before COMPRESS.
func (s *session) cmdCompress(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.CompressCmd)
	if !s.srv.opts.Compress {
		return statusBAD("", "Unknown command.")
	}
	if s.deflate {
		return &statusError{"NO", "COMPRESSIONACTIVE", "COMPRESSION=DEFLATE already enabled."}
	}
	if args.Mechanism != "DEFLATE" {
		return statusBAD("", "Unknown compression mechanism.")
	}
	s.status(cmd.Tag, &statusError{"OK", "", "Begin compression."})
	if err := s.enc.Flush(); err != nil {
		return fatal(err)
	}
	s.deflate = true
	s.br = bufio.NewReaderSize(flate.NewReaderOpts(s.br, flate.WithPartialBlock()), compressedReadBuf)
	s.newDecoder()
	s.bw.Reset(newDeflateWriter(deadlineWriter{s}))
	s.log.Debug("imap compression enabled", "user", s.user)
	return errReplied
}

// deflateWriter compresses each Write into a run of DEFLATE blocks that
// ends with a sync flush (an empty stored block, Z_SYNC_FLUSH), so the
// peer can inflate everything written so far.
//
// Memory: it holds no compressor between writes. klauspost's stateless
// encoder borrows its tables from a sync.Pool for the duration of one
// Write; across writes only the last 8 KiB of output is kept, as the
// dictionary of the next write (responses repeat themselves: FETCH lines,
// headers), plus a 4 KiB buffer that gathers the encoder's small writes
// into one write to the connection: 12 KiB per idle session, where a
// stateful klauspost flate.Writer at BestSpeed allocates 828 KB (its
// history and hash table) and Dovecot's zlib at level 6 some 256 KiB.
// With the inflater (32 KiB window and Huffman tables) and its 8 KiB
// buffer, COMPRESS costs about 50 KB per session: 57.7 KB measured by
// BenchmarkCompressSession (server-B/session) with the raw 8 KiB read
// buffer every session has anyway. The price: matches reach back 8 KiB
// instead of 32 KiB, and each write of s.bw (at most writeBufSize) is
// compressed on its own.
type deflateWriter struct {
	out  *bufio.Writer
	dict []byte
}

func newDeflateWriter(w io.Writer) *deflateWriter {
	return &deflateWriter{out: bufio.NewWriterSize(w, 4<<10), dict: make([]byte, 0, deflateDict)}
}

func (w *deflateWriter) Write(p []byte) (int, error) {
	if err := flate.StatelessDeflate(w.out, p, false, w.dict); err != nil {
		return 0, err
	}
	if err := w.out.Flush(); err != nil {
		return 0, err
	}
	w.remember(p)
	return len(p), nil
}

// remember keeps the last deflateDict bytes written.
func (w *deflateWriter) remember(p []byte) {
	if len(p) >= deflateDict {
		w.dict = append(w.dict[:0], p[len(p)-deflateDict:]...)
		return
	}
	if over := len(w.dict) + len(p) - deflateDict; over > 0 {
		w.dict = w.dict[:copy(w.dict, w.dict[over:])]
	}
	w.dict = append(w.dict, p...)
}
