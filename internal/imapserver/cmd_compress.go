package imapserver

import (
	"bufio"
	"context"
	"errors"
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
// from the first command after COMPRESS). It is our own inflater (see
// inflater): it hands out every byte it has decoded before it waits for
// input, and reads no bit a symbol does not need. klauspost's inflater
// (even with WithPartialBlock) and the standard library's read up to 10
// bits past a symbol inside a dynamic-Huffman block, bits that zlib's
// Z_PARTIAL_FLUSH (mbsync) keeps back until the client's next write: the
// server waited for the client, the client for the answer
// (TestCompressMbsync, TestCompressPartialFlush).
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
	s.br = bufio.NewReaderSize(newInflater(s.br), compressedReadBuf)
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
// buffer, COMPRESS costs about 60 KB per session: 65.7 KB measured by
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

// inflater is a streaming raw-DEFLATE decoder (RFC 1951) that hands out
// every decoded byte before it waits for more input.
//
// Why not klauspost's or the standard library's inflater: both, for a
// dynamic-Huffman block that is not the final one, read each
// literal/length symbol only once they hold the longer of the shortest
// code and the end-of-block code plus 10 more bits ("the smallest block
// that can follow is an empty static block, 3 + 7 bits"): they never
// read past the end of a complete stream, but they read up to 10 bits
// past the end of the block. zlib's Z_PARTIAL_FLUSH, which mbsync (isync
// socket.c) uses after each batch of commands, ends the data block and
// adds that empty static block, but keeps up to 7 of its bits in its bit
// buffer until the next flush: the last symbols of the block (the end of
// the last command: its CRLF) stay in the decoder until the client sends
// more, and the client waits for the answer. WithPartialBlock does not
// help: it flushes at the end of the block, which is never reached. Short
// commands are compressed as static blocks (no lookahead), which is why
// single commands worked and mbsync's pipelined UID FETCHes (one dynamic
// block) stalled. zlib's inflate (Dovecot) consumes bits per symbol.
//
// This decoder reads a symbol bit by bit (canonical decoding as in
// zlib's puff.c), peeking at its bit buffer and consuming only complete
// literals or length/distance pairs. While it has output pending it does
// not block for input: if a symbol is incomplete and the underlying
// bufio.Reader has nothing buffered, Read returns what it has. At the end
// of each block it returns its output too, before it reads the next
// block's header. Memory: the 32 KiB window plus two small tables per
// block; speed (tens of MB/s) is ample for what clients send.
type inflater struct {
	r  *bufio.Reader
	bb uint64 // bit buffer, LSB first
	nb uint   // bits in bb

	win    [1 << 15]byte
	wr, rd uint64 // bytes written to / read from win, ever

	inBlock, final, done bool
	stored               int // bytes left in a stored block; -1 in a Huffman block
	lit, dist            *huffman
	err                  error
}

// huffman is a canonical Huffman code: count[l] codes of length l,
// symbols sorted by code.
type huffman struct {
	count  [16]uint16
	symbol []uint16
}

const maxPending = 1<<15 - 258

// fixedLit and fixedDist are the codes of static blocks (RFC 1951 3.2.6).
var fixedLit, fixedDist = func() (*huffman, *huffman) {
	var l [288]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [30]uint8
	for i := range d {
		d[i] = 5
	}
	lit, _ := newHuffman(l[:])
	dist, _ := newHuffman(d[:])
	return lit, dist
}()

var errWouldBlock = errors.New("inflate: would block")

func newInflater(r *bufio.Reader) *inflater {
	return &inflater{r: r}
}

// newHuffman builds the code for lengths; incomplete codes are allowed
// (a distance code with one symbol), over-subscribed ones are not.
func newHuffman(lengths []uint8) (*huffman, error) {
	h := &huffman{symbol: make([]uint16, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return nil, errors.New("inflate: over-subscribed code")
		}
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	return h, nil
}

// fill makes nb >= n. Without mayBlock it fails with errWouldBlock
// rather than wait for input that is not buffered yet.
func (f *inflater) fill(n uint, mayBlock bool) error {
	for f.nb < n {
		if !mayBlock && f.r.Buffered() == 0 {
			return errWouldBlock
		}
		c, err := f.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		f.bb |= uint64(c) << f.nb
		f.nb += 8
	}
	return nil
}

// peek returns n bits at *pos without consuming them.
func (f *inflater) peek(pos *uint, n uint, mayBlock bool) (int, error) {
	if err := f.fill(*pos+n, mayBlock); err != nil {
		return 0, err
	}
	v := int(f.bb>>*pos) & (1<<n - 1)
	*pos += n
	return v, nil
}

func (f *inflater) consume(n uint) {
	f.bb >>= n
	f.nb -= n
}

// bits reads and consumes n bits, waiting for them.
func (f *inflater) bits(n uint) (int, error) {
	var pos uint
	v, err := f.peek(&pos, n, true)
	if err == nil {
		f.consume(n)
	}
	return v, err
}

// decode peeks at one symbol of h from *pos.
func (f *inflater) decode(h *huffman, pos *uint, mayBlock bool) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := f.peek(pos, 1, mayBlock)
		if err != nil {
			return 0, err
		}
		code |= b
		count := int(h.count[l])
		if code-count < first {
			return int(h.symbol[index+code-first]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errors.New("inflate: invalid Huffman code")
}

func (f *inflater) put(b byte) {
	f.win[f.wr%uint64(len(f.win))] = b
	f.wr++
}

var (
	lenBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dstBase  = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dstExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder  = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// header reads a block header (waiting for it: Read calls it with no
// output pending).
func (f *inflater) header() error {
	hdr, err := f.bits(3)
	if err != nil {
		return err
	}
	f.final = hdr&1 != 0
	switch hdr >> 1 {
	case 0:
		f.consume(f.nb % 8)
		n, err := f.bits(16)
		if err != nil {
			return err
		}
		nn, err := f.bits(16)
		if err != nil {
			return err
		}
		if n != ^nn&0xffff {
			return errors.New("inflate: stored block length mismatch")
		}
		f.stored = n
	case 1:
		f.stored, f.lit, f.dist = -1, fixedLit, fixedDist
	case 2:
		if err := f.dynamic(); err != nil {
			return err
		}
		f.stored = -1
	default:
		return errors.New("inflate: invalid block type")
	}
	f.inBlock = true
	return nil
}

func (f *inflater) dynamic() error {
	nlen, err := f.bits(5)
	if err != nil {
		return err
	}
	ndist, err := f.bits(5)
	if err != nil {
		return err
	}
	ncode, err := f.bits(4)
	if err != nil {
		return err
	}
	nlen, ndist, ncode = nlen+257, ndist+1, ncode+4
	if nlen > 286 || ndist > 30 {
		return errors.New("inflate: bad counts")
	}
	var cl [19]uint8
	for i := range ncode {
		v, err := f.bits(3)
		if err != nil {
			return err
		}
		cl[clOrder[i]] = uint8(v)
	}
	clh, err := newHuffman(cl[:])
	if err != nil {
		return err
	}
	lengths := make([]uint8, nlen+ndist)
	for i := 0; i < len(lengths); {
		var pos uint
		sym, err := f.decode(clh, &pos, true)
		if err != nil {
			return err
		}
		f.consume(pos)
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var l uint8
		var rep int
		switch sym {
		case 16:
			if i == 0 {
				return errors.New("inflate: repeat with no first length")
			}
			l = lengths[i-1]
			rep, err = f.bits(2)
			rep += 3
		case 17:
			rep, err = f.bits(3)
			rep += 3
		default:
			rep, err = f.bits(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		if i+rep > len(lengths) {
			return errors.New("inflate: too many lengths")
		}
		for range rep {
			lengths[i] = l
			i++
		}
	}
	if lengths[256] == 0 {
		return errors.New("inflate: no end-of-block code")
	}
	if f.lit, err = newHuffman(lengths[:nlen]); err != nil {
		return err
	}
	f.dist, err = newHuffman(lengths[nlen:])
	return err
}

// step decodes until the window is full, a block ends, or (with output
// pending) the next symbol is not complete in what has arrived.
func (f *inflater) step() error {
	for f.wr-f.rd < maxPending {
		pending := f.wr > f.rd
		if !f.inBlock {
			if pending {
				return nil
			}
			if f.done {
				return io.EOF
			}
			if err := f.header(); err != nil {
				return err
			}
			continue
		}
		if f.stored >= 0 {
			if f.stored == 0 {
				f.inBlock = false
				f.done = f.final
				continue
			}
			if pending && f.nb == 0 && f.r.Buffered() == 0 {
				return nil
			}
			c, err := f.bits(8)
			if err != nil {
				return err
			}
			f.put(byte(c))
			f.stored--
			continue
		}
		var pos uint
		sym, err := f.decode(f.lit, &pos, !pending)
		if err == errWouldBlock {
			return nil
		} else if err != nil {
			return err
		}
		switch {
		case sym < 256:
			f.consume(pos)
			f.put(byte(sym))
			continue
		case sym == 256:
			f.consume(pos)
			f.inBlock = false
			f.done = f.final
			continue
		case sym > 285:
			return errors.New("inflate: invalid length symbol")
		}
		sym -= 257
		extra, err := f.peek(&pos, uint(lenExtra[sym]), !pending)
		if err != nil {
			if err == errWouldBlock {
				return nil
			}
			return err
		}
		n := int(lenBase[sym]) + extra
		dsym, err := f.decode(f.dist, &pos, !pending)
		if err == nil && dsym >= 30 {
			err = errors.New("inflate: invalid distance symbol")
		}
		if err == nil {
			extra, err = f.peek(&pos, uint(dstExtra[dsym]), !pending)
		}
		if err == errWouldBlock {
			return nil
		} else if err != nil {
			return err
		}
		d := uint64(dstBase[dsym]) + uint64(extra)
		if d > f.wr || d > uint64(len(f.win)) {
			return errors.New("inflate: distance too far back")
		}
		f.consume(pos)
		for range n {
			f.put(f.win[(f.wr-d)%uint64(len(f.win))])
		}
	}
	return nil
}

func (f *inflater) Read(p []byte) (int, error) {
	for f.wr == f.rd {
		if f.err != nil {
			return 0, f.err
		}
		f.err = f.step()
	}
	i := f.rd % uint64(len(f.win))
	n := copy(p, f.win[i:min(uint64(len(f.win)), i+(f.wr-f.rd))])
	f.rd += uint64(n)
	return n, nil
}
