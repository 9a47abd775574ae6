// Package blob stores message bytes as immutable files (DESIGN.md section 7).
//
// Layout under the store directory:
//
//	tmp/            files being written; a leftover here is a crashed Put
//	ab/abcdef...    one file per blob; the name is the blob id (32 lower-case
//	                hex digits, 128 random bits), sharded by its first two digits
//
// Durability: Put writes to a temp file in tmp/ (same file system), fsyncs
// it, renames it into its shard directory, fsyncs the shard directory (and
// the store directory when the shard directory was new), and only then
// returns. A blob id returned by Put therefore survives a crash.
//
// Blobs are never modified. Delete removes the file; callers delete a blob
// only after the metadata commit that dropped its last reference, so a crash
// in between leaks a file (see Sweep) but never loses one that is referenced.
//
// Ids are validated before any path is built from them: only ids of exactly
// 32 lower-case hex digits are accepted (ValidID).
package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// idLen is the length of a blob id: 128 random bits in hex.
const idLen = 32

// tmpDir holds files that are being written.
const tmpDir = "tmp"

// ErrInvalidID is returned for an id that ValidID rejects.
var ErrInvalidID = errors.New("invalid blob id")

// Store is a directory of immutable blobs. It is safe for concurrent use,
// also by several processes sharing the directory.
type Store struct {
	dir    string
	noSync bool // SetNoSync
}

// SetNoSync makes Put skip every fsync (mail_fsync = never: tests and
// benchmarks only, a power loss can lose acknowledged blobs). Call it
// before the first Put.
func (s *Store) SetNoSync() { s.noSync = true }

// NoSync reports whether SetNoSync was called.
func (s *Store) NoSync() bool { return s.noSync }

// Open opens (creating if needed) the blob store in dir.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open blob store: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	return &Store{dir: abs}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// ValidID reports whether id has the form of a blob id: exactly 32
// lower-case hex digits.
func ValidID(id string) bool {
	return len(id) == idLen && isHex(id)
}

// isHex reports whether s consists of lower-case hex digits only.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) path(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("%w %q", ErrInvalidID, id)
	}
	return filepath.Join(s.dir, id[:2], id), nil
}

// Store implements Backend.
var _ Backend = (*Store)(nil)

// Put stores the bytes of r durably and returns the new blob's id and size.
// It is PutTee without a tee.
func (s *Store) Put(ctx context.Context, r io.Reader, maxSize int64) (id string, size int64, err error) {
	return s.PutTee(ctx, r, maxSize, nil)
}

// PutTee stores the bytes of r durably and returns the new blob's id and
// size. It returns only once the file and its directory entry are fsynced.
//
// If tee is not nil, every chunk written to the file is also written to tee,
// in order, before PutTee returns; this lets a caller parse the message in the
// same pass (for example through an io.Pipe). An error from tee fails the Put.
// PutTee never closes tee.
//
// With maxSize > 0, a body longer than maxSize fails with a *mailstore.Error of
// kind KindTooBig after reading at most maxSize+1 bytes from r. On any error
// the temp file is removed and nothing is stored. Local file writes are not
// interrupted by ctx; it is checked before the data is made durable.
func (s *Store) PutTee(ctx context.Context, r io.Reader, maxSize int64, tee io.Writer) (id string, size int64, err error) {
	id, err = newID()
	if err != nil {
		return "", 0, err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), id+".*")
	if err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	tmpName := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmpName)
		}
	}()

	src := r
	if maxSize > 0 {
		src = io.LimitReader(r, maxSize+1)
	}
	var dst io.Writer = f
	if tee != nil {
		dst = io.MultiWriter(f, tee)
	}
	size, err = io.Copy(dst, src)
	if err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	if maxSize > 0 && size > maxSize {
		err = &mailstore.Error{Kind: mailstore.KindTooBig, Msg: fmt.Sprintf("message larger than %d octets", maxSize)}
		return "", 0, err
	}
	if err = ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	if !s.noSync {
		if err = f.Sync(); err != nil {
			return "", 0, fmt.Errorf("put blob: fsync: %w", err)
		}
	}
	if err = f.Close(); err != nil {
		return "", 0, fmt.Errorf("put blob: close: %w", err)
	}

	shard := filepath.Join(s.dir, id[:2])
	switch err = os.Mkdir(shard, 0o700); {
	case err == nil:
		// A new shard directory: make its entry in the store directory durable.
		if err = s.syncDir(s.dir); err != nil {
			return "", 0, fmt.Errorf("put blob: %w", err)
		}
	case errors.Is(err, fs.ErrExist):
		err = nil
	default:
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	final := filepath.Join(shard, id)
	if err = os.Rename(tmpName, final); err != nil {
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	if err = s.syncDir(shard); err != nil {
		// The file is in place but its entry may not be durable: do not
		// acknowledge, and do not leave it behind.
		os.Remove(final)
		return "", 0, fmt.Errorf("put blob: %w", err)
	}
	return id, size, nil
}

// Open opens the blob id for reading. An unknown id gives an error for which
// errors.Is(err, fs.ErrNotExist) is true; a malformed one gives ErrInvalidID.
// The bytes stay readable after Delete until the Reader is closed.
func (s *Store) Open(ctx context.Context, id string) (Reader, error) {
	p, err := s.path(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return &fileReader{File: f, size: fi.Size()}, nil
}

// fileReader is an open blob file.
type fileReader struct {
	*os.File
	size int64
}

func (f *fileReader) Size() int64 { return f.size }

// LocalFile implements FileReader.
func (f *fileReader) LocalFile() *os.File { return f.File }

// FileReader is a Reader whose bytes are a file of the local file system,
// the blob's whole content from offset 0 to Size: the Readers of Store
// are. It lets a caller hand a byte range of a blob to the kernel
// (sendfile(2)) instead of copying it through user space. The *os.File
// belongs to the Reader and is valid until the Reader is closed: callers
// must not close it, and should read it only with positional calls
// (ReadAt, sendfile with an explicit offset), as the Reader's Read and
// Seek share its file offset. Backends without local files (PostgreSQL,
// S3) do not implement it; their Readers are copied.
type FileReader interface {
	Reader
	LocalFile() *os.File
}

var _ FileReader = (*fileReader)(nil)

// Delete removes the blob id. Deleting a blob that does not exist is not an
// error. Open files keep their bytes readable until closed.
func (s *Store) Delete(ctx context.Context, id string) error {
	p, err := s.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}

// Sweep removes leftovers older than minAge: temp files of crashed Puts, and
// blobs for which referenced returns false. minAge protects blobs that another
// goroutine or process has just written and not yet committed; use a value far
// above the time between Put and the metadata commit (an hour, say). It returns
// the number of files removed.
func (s *Store) Sweep(ctx context.Context, minAge time.Duration, referenced func(id string) bool) (int, error) {
	cutoff := time.Now().Add(-minAge)
	removed := 0
	old := func(e fs.DirEntry) bool {
		info, err := e.Info()
		return err == nil && info.Mode().IsRegular() && info.ModTime().Before(cutoff)
	}
	tmp := filepath.Join(s.dir, tmpDir)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return 0, fmt.Errorf("sweep blobs: %w", err)
	}
	for _, e := range ents {
		if old(e) && os.Remove(filepath.Join(tmp, e.Name())) == nil {
			removed++
		}
	}
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return removed, fmt.Errorf("sweep blobs: %w", err)
	}
	for _, sh := range shards {
		name := sh.Name()
		if !sh.IsDir() || len(name) != 2 || !isHex(name) {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(s.dir, name))
		if err != nil {
			return removed, fmt.Errorf("sweep blobs: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("sweep blobs: %w", err)
		}
		for _, e := range ents {
			id := e.Name()
			if !ValidID(id) || id[:2] != name || !old(e) || referenced(id) {
				continue
			}
			if os.Remove(filepath.Join(s.dir, name, id)) == nil {
				removed++
			}
		}
	}
	return removed, nil
}

func newID() (string, error) {
	var b [idLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new blob id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
