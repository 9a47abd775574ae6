package blob

import (
	"context"
	"io"
	"time"
)

// Backend is where message bytes live: files in a directory (Store, the
// embedded default), rows in PostgreSQL, or objects in an S3-compatible
// store (issue 9). Every backend keeps the same contract as Store:
//
//   - PutTee returns only once the bytes are durable, so a metadata commit
//     that follows never references a blob that a crash could lose;
//   - blobs are immutable; ids are opaque strings chosen by the backend and
//     validated before use (a malformed id is an error, never a path or key
//     built from unchecked input);
//   - Delete is called only after the commit that dropped the last
//     reference, and deleting a missing blob is not an error;
//   - Sweep removes blobs older than minAge that referenced says are not
//     referenced (leftovers of crashes between Put and commit).
//
// With maxSize > 0, PutTee fails with a *mailstore.Error of kind KindTooBig
// after reading at most maxSize+1 bytes. tee, if not nil, receives every
// byte in order before PutTee returns (parse while storing).
type Backend interface {
	PutTee(ctx context.Context, r io.Reader, maxSize int64, tee io.Writer) (id string, size int64, err error)
	// Open opens a blob for reading. An unknown id gives an error for which
	// errors.Is(err, fs.ErrNotExist) is true.
	Open(ctx context.Context, id string) (Reader, error)
	Delete(ctx context.Context, id string) error
	Sweep(ctx context.Context, minAge time.Duration, referenced func(id string) bool) (int, error)
}

// Reader is an open blob: random access for partial FETCH and BINARY.
type Reader interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	Size() int64
}
