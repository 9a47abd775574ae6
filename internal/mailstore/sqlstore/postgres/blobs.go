package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/mailstore"
)

// ChunkSize is the size of one blob_chunks row. 256 KiB keeps a row's
// bytes in one TOAST pointer, lets a partial FETCH read one or two rows, and
// bounds the memory of an open large message.
const ChunkSize = 256 << 10

// BlobStore is the PostgreSQL blob.Backend: message bytes in the blobs and
// blob_chunks tables of the store's database (schema.go). It is safe for
// concurrent use, also by several nodes.
//
// PutTee writes a blobs row (incomplete), then each chunk in its own
// autocommitted statement, then marks the blob complete with its size: no
// transaction stays open while the body is being read from a client. A
// blob is returned only after the completing commit, which is durable
// (synchronous_commit). A crash in between leaves an incomplete row that
// Sweep removes; Open never returns an incomplete blob. A body of at most
// one chunk is written in a single statement.
type BlobStore struct {
	pool *pgxpool.Pool
}

var _ blob.Backend = (*BlobStore)(nil)

// NewBlobStore returns the blob backend on pool, whose database must have
// the store's schema (Open applies it).
func NewBlobStore(pool *pgxpool.Pool) *BlobStore { return &BlobStore{pool: pool} }

// blobIDLen is the length of a blob id: 128 random bits in hex, as the file
// store's (so ids can move between backends).
const blobIDLen = 32

func newBlobID() (string, error) {
	var b [blobIDLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new blob id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// exec runs one statement, again if it failed before reaching the server
// (a pooled connection that died while idle, as after a PostgreSQL
// restart): nothing was executed then, so repeating is safe.
func (b *BlobStore) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	for attempt := 1; ; attempt++ {
		tag, err := b.pool.Exec(ctx, sql, args...)
		if err == nil || attempt == maxTxAttempts || ctx.Err() != nil || !pgconn.SafeToRetry(err) {
			return tag, err
		}
	}
}

// queryRow is QueryRow(...).Scan(dest...) with exec's retry.
func (b *BlobStore) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	for attempt := 1; ; attempt++ {
		err := b.pool.QueryRow(ctx, sql, args...).Scan(dest...)
		if err == nil || attempt == maxTxAttempts || ctx.Err() != nil || !pgconn.SafeToRetry(err) {
			return err
		}
	}
}

// PutTee stores r (see blob.Backend).
func (b *BlobStore) PutTee(ctx context.Context, r io.Reader, maxSize int64, tee io.Writer) (string, int64, error) {
	s, err := b.stage(ctx, r, maxSize, tee)
	if err != nil {
		return "", 0, err
	}
	if s.pending {
		if err := s.insert(ctx, b.exec); err != nil {
			return "", 0, err
		}
	}
	return s.id, s.size, nil
}

// stagedBlob is a body read by stage: stored already, or (data not nil)
// small enough (pending) to be inserted by the caller, in the
// transaction that commits the message referencing it.
type stagedBlob struct {
	id      string
	size    int64
	data    []byte // pending: the body, at most one chunk
	pending bool   // not stored yet: the caller inserts it
}

// insert stores a staged small body with exec (the pool's, or a
// transaction's Exec): one statement.
func (s *stagedBlob) insert(ctx context.Context, exec func(context.Context, string, ...any) (pgconn.CommandTag, error)) error {
	_, err := exec(ctx, `WITH b AS (INSERT INTO blobs (id, size, complete) VALUES ($1, $2, true))
		INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, 0, $3)`, s.id, s.size, s.data)
	if err != nil {
		return fmt.Errorf("put blob: %w", err)
	}
	return nil
}

// stage reads r (through tee), enforcing maxSize as PutTee does. A body of
// at most one chunk (nearly all mail) is returned in memory, for the
// caller to insert in its own transaction: an append then costs one
// commit, not two. A larger one is stored at once, chunk by chunk.
func (b *BlobStore) stage(ctx context.Context, r io.Reader, maxSize int64, tee io.Writer) (staged *stagedBlob, err error) {
	id, err := newBlobID()
	if err != nil {
		return nil, err
	}
	var size int64
	src := r
	if maxSize > 0 {
		src = io.LimitReader(r, maxSize+1)
	}
	buf := make([]byte, ChunkSize)
	n, rerr := io.ReadFull(src, buf)
	if rerr == io.ErrUnexpectedEOF || rerr == io.EOF {
		rerr = nil
		// The whole body fits in one chunk: one statement, one commit.
		if err := tooBig(int64(n), maxSize); err != nil {
			return nil, err
		}
		if tee != nil {
			if _, err := tee.Write(buf[:n]); err != nil {
				return nil, fmt.Errorf("put blob: %w", err)
			}
		}
		// A copy of its own size (not the 256 KiB buffer), never nil: a
		// nil slice would be sent as NULL.
		data := make([]byte, n)
		copy(data, buf)
		return &stagedBlob{id: id, size: int64(n), data: data, pending: true}, nil
	}
	if rerr != nil {
		return nil, fmt.Errorf("put blob: %w", rerr)
	}
	// Several chunks.
	if _, err := b.exec(ctx, `INSERT INTO blobs (id) VALUES ($1)`, id); err != nil {
		return nil, fmt.Errorf("put blob: %w", err)
	}
	defer func() {
		if err != nil {
			// Best effort; Sweep removes what this misses.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			b.exec(dctx, `DELETE FROM blobs WHERE id = $1`, id)
			cancel()
		}
	}()
	for seq := 0; ; seq++ {
		if err := tooBig(size+int64(n), maxSize); err != nil {
			return nil, err
		}
		if n > 0 {
			if tee != nil {
				if _, err := tee.Write(buf[:n]); err != nil {
					return nil, fmt.Errorf("put blob: %w", err)
				}
			}
			if _, err := b.exec(ctx, `INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, $3)`, id, seq, buf[:n]); err != nil {
				return nil, fmt.Errorf("put blob: %w", err)
			}
			size += int64(n)
		}
		if rerr != nil {
			break
		}
		n, rerr = io.ReadFull(src, buf)
		if rerr == io.ErrUnexpectedEOF || rerr == io.EOF {
			rerr = io.EOF
		} else if rerr != nil {
			return nil, fmt.Errorf("put blob: %w", rerr)
		}
	}
	if _, err := b.exec(ctx, `UPDATE blobs SET size = $2, complete = true WHERE id = $1`, id, size); err != nil {
		return nil, fmt.Errorf("put blob: %w", err)
	}
	return &stagedBlob{id: id, size: size}, nil
}

func tooBig(n, maxSize int64) error {
	if maxSize > 0 && n > maxSize {
		return &mailstore.Error{Kind: mailstore.KindTooBig, Msg: fmt.Sprintf("message larger than %d octets", maxSize)}
	}
	return nil
}

// Open opens a complete blob. The first chunk is read at once, so a
// message of one chunk (nearly all mail) stays readable after Delete;
// further chunks are fetched when read.
func (b *BlobStore) Open(ctx context.Context, id string) (blob.Reader, error) {
	if !blob.ValidID(id) {
		return nil, fmt.Errorf("%w %q", blob.ErrInvalidID, id)
	}
	var size int64
	var first []byte
	err := b.queryRow(ctx, `SELECT b.size, coalesce(c.data, '') FROM blobs b
		LEFT JOIN blob_chunks c ON c.blob_id = b.id AND c.n = 0
		WHERE b.id = $1 AND b.complete`, []any{id}, &size, &first)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("open blob %s: %w", id, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", id, err)
	}
	return &blobReader{b: b, id: id, size: size, chunk: 0, data: first}, nil
}

// Delete removes a blob and its chunks.
func (b *BlobStore) Delete(ctx context.Context, id string) error {
	if !blob.ValidID(id) {
		return fmt.Errorf("%w %q", blob.ErrInvalidID, id)
	}
	if _, err := b.exec(ctx, `DELETE FROM blobs WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete blob %s: %w", id, err)
	}
	return nil
}

// sweepBatch is how many blobs Sweep examines per query.
const sweepBatch = 1000

// Sweep removes blobs older than minAge that are incomplete (crashed
// writes) or not referenced (see blob.Backend).
func (b *BlobStore) Sweep(ctx context.Context, minAge time.Duration, referenced func(id string) bool) (int, error) {
	cutoff := time.Now().Add(-minAge)
	tag, err := b.pool.Exec(ctx, `DELETE FROM blobs WHERE NOT complete AND created < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("sweep blobs: %w", err)
	}
	removed := int(tag.RowsAffected())
	after := ""
	for {
		rows, err := b.pool.Query(ctx, `SELECT id FROM blobs WHERE complete AND created < $1 AND id > $2
			ORDER BY id LIMIT $3`, cutoff, after, sweepBatch)
		if err != nil {
			return removed, fmt.Errorf("sweep blobs: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return removed, fmt.Errorf("sweep blobs: %w", err)
		}
		for _, id := range ids {
			if referenced(id) {
				continue
			}
			if err := b.Delete(ctx, id); err != nil {
				return removed, fmt.Errorf("sweep blobs: %w", err)
			}
			removed++
		}
		if len(ids) < sweepBatch {
			return removed, nil
		}
		after = ids[len(ids)-1]
	}
}

// blobReader reads a blob chunk by chunk, keeping the last chunk read.
type blobReader struct {
	b     *BlobStore
	id    string
	size  int64
	off   int64 // for Read and Seek
	chunk int   // index of data
	data  []byte
}

func (r *blobReader) Size() int64 { return r.size }

func (r *blobReader) Close() error {
	r.data = nil
	return nil
}

func (r *blobReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (r *blobReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("blob seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("blob seek: negative position")
	}
	r.off = offset
	return offset, nil
}

// ReadAt reads from the chunks covering [off, off+len(p)), fetching each
// chunk not in hand with one query.
func (r *blobReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("blob read: negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		idx := int(pos / ChunkSize)
		if idx != r.chunk || r.data == nil {
			if err := r.fetch(idx); err != nil {
				return n, err
			}
		}
		start := int(pos - int64(idx)*ChunkSize)
		if start >= len(r.data) {
			return n, fmt.Errorf("blob %s: chunk %d is short", r.id, idx)
		}
		n += copy(p[n:], r.data[start:])
	}
	return n, nil
}

func (r *blobReader) fetch(idx int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var data []byte
	err := r.b.queryRow(ctx, `SELECT data FROM blob_chunks WHERE blob_id = $1 AND n = $2`, []any{r.id, idx}, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("blob %s chunk %d: %w", r.id, idx, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("blob %s chunk %d: %w", r.id, idx, err)
	}
	r.chunk, r.data = idx, data
	return nil
}
