// Package s3 keeps message bodies as objects in an S3-compatible object
// store (Amazon S3, MinIO, Ceph RGW, Garage, ...): the blob.Backend of
// mail_blob_location = s3://bucket/prefix (issue 9).
//
// Object layout: one object per blob, key = prefix + id, where id is 32
// lower-case hex digits (128 random bits, blob.ValidID). Objects are never
// overwritten; S3 has no rename, so a blob is written under its final key
// and only becomes referenced by the metadata commit that follows PutTee.
//
// Durability: S3 acknowledges a PUT (or the completion of a multipart
// upload) only once the object is stored durably and is readable with
// read-after-write consistency (Amazon S3 since December 2020, MinIO,
// Ceph). PutTee returns only after that acknowledgement, so a metadata
// commit that follows never references a blob a crash could lose.
//
// Memory: a body up to PartSize is sent as one PUT from a buffer; a larger
// one is streamed as a multipart upload, one PartSize buffer at a time, so
// a 100 MB message costs PartSize bytes of memory, never its whole size.
//
// Credentials are never logged and never part of an error message.
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/mailstore"
)

// DefaultPartSize is the multipart part size and the largest body sent as
// a single PUT. S3 requires parts of at least 5 MiB (except the last).
const DefaultPartSize = 8 << 20

// minPartSize is S3's lower bound for all but the last part.
const minPartSize = 5 << 20

// DefaultWindow is how much Open's ReadAt fetches per ranged GET and keeps.
const DefaultWindow = 256 << 10

// Options configures a Store. ParseLocation fills the location fields.
type Options struct {
	Endpoint string // host[:port]; "" is s3.amazonaws.com
	Bucket   string
	Prefix   string // key prefix, "" or ending in "/"
	Region   string // "" lets the client discover it
	Secure   bool   // HTTPS (the default in a location)
	// PathStyle forces path-style requests (http://host/bucket/key), which
	// MinIO and most self-hosted stores expect; false lets the client
	// choose (virtual-host style for Amazon).
	PathStyle bool

	// AccessKey and SecretKey are static credentials
	// (mail_blob_s3_access_key / mail_blob_s3_secret_key). When both are
	// empty the usual environment variables are used (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
	AccessKey string
	SecretKey string

	PartSize int64 // 0: DefaultPartSize; at least 5 MiB
	Window   int   // 0: DefaultWindow

	// Transport replaces the HTTP transport (tests); nil is the default.
	Transport http.RoundTripper
}

// ParseLocation parses mail_blob_location:
//
//	s3://bucket[/prefix][?endpoint=host:port&region=R&secure=false&path_style=true]
//
// secure defaults to true. path_style defaults to true when an endpoint is
// given (self-hosted stores) and false for Amazon. The prefix, if any,
// gets a trailing "/". Credentials are never part of the location: a URL
// with user information is refused, so a secret cannot end up in a
// configuration dump through this setting.
func ParseLocation(loc string) (Options, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return Options{}, fmt.Errorf("s3 location: %w", err)
	}
	if u.Scheme != "s3" {
		return Options{}, fmt.Errorf("s3 location %q: scheme must be s3://", loc)
	}
	if u.User != nil {
		return Options{}, errors.New("s3 location: credentials do not belong in the URL; use mail_blob_s3_access_key and mail_blob_s3_secret_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	}
	o := Options{Bucket: u.Host, Secure: true}
	if o.Bucket == "" {
		return Options{}, fmt.Errorf("s3 location %q: no bucket", loc)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		o.Prefix = p + "/"
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "secure", "path_style":
		default:
			return Options{}, fmt.Errorf("s3 location: unknown parameter %q (known: endpoint, region, secure, path_style)", k)
		}
	}
	o.Endpoint = q.Get("endpoint")
	o.Region = q.Get("region")
	o.PathStyle = o.Endpoint != ""
	if v := q.Get("secure"); v != "" {
		if o.Secure, err = strconv.ParseBool(v); err != nil {
			return Options{}, fmt.Errorf("s3 location: secure=%q: want true or false", v)
		}
	}
	if v := q.Get("path_style"); v != "" {
		if o.PathStyle, err = strconv.ParseBool(v); err != nil {
			return Options{}, fmt.Errorf("s3 location: path_style=%q: want true or false", v)
		}
	}
	return o, nil
}

// Store is a bucket (and prefix) of immutable blobs. It is safe for
// concurrent use, also by several Roost nodes sharing the bucket.
type Store struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string
	partSize int64
	window   int
}

var _ blob.Backend = (*Store)(nil)

// Open connects to the object store and checks that the bucket exists
// (it does not create it: buckets carry policies an admin sets up).
func Open(ctx context.Context, o Options) (*Store, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("open s3 blob store: bucket %s at %s: %w", s.bucket, s.client.EndpointURL().Host, err)
	}
	if !ok {
		return nil, fmt.Errorf("open s3 blob store: bucket %s does not exist at %s", s.bucket, s.client.EndpointURL().Host)
	}
	return s, nil
}

// New is Open without the network round trip: the first request shows
// whether the store is reachable.
func New(o Options) (*Store, error) {
	if o.Bucket == "" {
		return nil, errors.New("open s3 blob store: no bucket")
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	var creds *credentials.Credentials
	switch {
	case o.AccessKey != "" || o.SecretKey != "":
		if o.AccessKey == "" || o.SecretKey == "" {
			return nil, errors.New("open s3 blob store: access key and secret key must be set together")
		}
		creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey, "")
	default:
		creds = credentials.NewEnvAWS()
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:        creds,
		Secure:       o.Secure,
		Region:       o.Region,
		BucketLookup: lookup,
		Transport:    o.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("open s3 blob store %s: %w", endpoint, err)
	}
	s := &Store{client: client, core: minio.Core{Client: client}, bucket: o.Bucket, prefix: o.Prefix,
		partSize: o.PartSize, window: o.Window}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	if s.partSize < minPartSize {
		return nil, fmt.Errorf("open s3 blob store: part size %d below S3's minimum of %d", s.partSize, minPartSize)
	}
	if s.window <= 0 {
		s.window = DefaultWindow
	}
	return s, nil
}

// Ping checks that the bucket is reachable and exists (health checks).
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3 bucket %s does not exist", s.bucket)
	}
	return nil
}

func (s *Store) key(id string) (string, error) {
	if !blob.ValidID(id) {
		return "", fmt.Errorf("%w %q", blob.ErrInvalidID, id)
	}
	return s.prefix + id, nil
}

// PutTee stores the bytes of r and returns once the object store has
// acknowledged them (see the package comment for durability). maxSize and
// tee follow blob.Backend. On any error nothing is left behind: a failed
// multipart upload is aborted (if the abort itself fails, Sweep's
// incomplete-upload pass or a bucket lifecycle rule removes the parts).
func (s *Store) PutTee(ctx context.Context, r io.Reader, maxSize int64, tee io.Writer) (string, int64, error) {
	id, err := newID()
	if err != nil {
		return "", 0, err
	}
	key := s.prefix + id
	src := &limitedReader{r: r, max: maxSize}
	var in io.Reader = src
	if tee != nil {
		in = io.TeeReader(src, tee)
	}
	// The body up to partSize, in a buffer that grows with what is read
	// (a 10 KB message costs about 10 KB, not a part): all of it when it
	// fits (one PUT), else the first part, and then the buffer every
	// further part is read into.
	var first bytes.Buffer
	n, err := io.CopyN(&first, in, s.partSize)
	switch {
	case err == io.EOF:
		if _, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(first.Bytes()), n,
			minio.PutObjectOptions{ContentType: "message/rfc822", DisableMultipart: true,
				DisableContentSha256: true, SendContentMd5: true}); err != nil {
			return "", 0, fmt.Errorf("put blob %s: %w", id, err)
		}
		return id, n, nil
	case err != nil:
		return "", 0, putError(id, err)
	}
	buf := first.Bytes()[:s.partSize]
	size, err := s.putMultipart(ctx, key, in, buf)
	if err != nil {
		return "", 0, putError(id, err)
	}
	return id, size, nil
}

// putMultipart uploads buf (a full first part) and the rest of in as a
// multipart upload of key, aborting it on any error.
func (s *Store) putMultipart(ctx context.Context, key string, in io.Reader, buf []byte) (size int64, err error) {
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "message/rfc822"})
	if err != nil {
		return 0, fmt.Errorf("start multipart upload: %w", err)
	}
	defer func() {
		if err != nil {
			// A fresh context: the caller's may be what failed.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = s.core.AbortMultipartUpload(actx, s.bucket, key, uploadID)
		}
	}()
	var parts []minio.CompletePart
	n := len(buf)
	for num := 1; ; num++ {
		p, err := s.putPart(ctx, key, uploadID, num, buf[:n])
		if err != nil {
			return 0, fmt.Errorf("upload part %d: %w", num, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		size += int64(n)
		var rerr error
		n, rerr = io.ReadFull(in, buf)
		if rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF {
			return 0, rerr
		}
		if rerr == io.ErrUnexpectedEOF {
			// The last, short part.
			p, err := s.putPart(ctx, key, uploadID, num+1, buf[:n])
			if err != nil {
				return 0, fmt.Errorf("upload part %d: %w", num+1, err)
			}
			parts = append(parts, minio.CompletePart{PartNumber: num + 1, ETag: p.ETag})
			size += int64(n)
			break
		}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		return 0, fmt.Errorf("complete multipart upload: %w", err)
	}
	return size, nil
}

// putPart uploads one part. The payload is not signed (the streaming
// signature would cost a second pass over the part) but carries its MD5,
// which the store checks before acknowledging.
func (s *Store) putPart(ctx context.Context, key, uploadID string, num int, data []byte) (minio.ObjectPart, error) {
	sum := md5.Sum(data)
	return s.core.PutObjectPart(ctx, s.bucket, key, uploadID, num, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectPartOptions{Md5Base64: base64.StdEncoding.EncodeToString(sum[:]), DisableContentSha256: true})
}

// putError wraps a failed Put; a *mailstore.Error (too big) stays as it
// is so that its kind reaches the protocol.
func putError(id string, err error) error {
	var me *mailstore.Error
	if errors.As(err, &me) {
		return me
	}
	return fmt.Errorf("put blob %s: %w", id, err)
}

// limitedReader fails with KindTooBig once more than max bytes (max > 0)
// were read, having read at most max+1 bytes from r.
type limitedReader struct {
	r     io.Reader
	max   int64
	count int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.max > 0 {
		if l.count > l.max {
			return 0, l.tooBig()
		}
		if rest := l.max + 1 - l.count; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	n, err := l.r.Read(p)
	l.count += int64(n)
	if l.max > 0 && l.count > l.max {
		return 0, l.tooBig()
	}
	return n, err
}

func (l *limitedReader) tooBig() error {
	return &mailstore.Error{Kind: mailstore.KindTooBig, Msg: fmt.Sprintf("message larger than %d octets", l.max)}
}

// Open opens blob id with one ranged GET of its first window: the reply's
// Content-Range gives the size (and an unknown id gives fs.ErrNotExist),
// and a body that fits the window (most messages) needs no further
// request however it is read. Only an empty object, for which S3 refuses
// any range, costs a HEAD.
func (s *Store) Open(ctx context.Context, id string) (blob.Reader, error) {
	key, err := s.key(id)
	if err != nil {
		return nil, err
	}
	r := &reader{s: s, ctx: context.WithoutCancel(ctx), key: key, id: id}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(0, int64(s.window)-1); err != nil {
		return nil, fmt.Errorf("open blob %s: %w", id, err)
	}
	body, info, hdr, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		if minio.ToErrorResponse(err).Code != minio.InvalidRange {
			return nil, fmt.Errorf("open blob %s: %w", id, notExist(err))
		}
		// An empty object: no range is satisfiable.
		st, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		if err != nil {
			return nil, fmt.Errorf("open blob %s: %w", id, notExist(err))
		}
		r.size = st.Size
		return r, nil
	}
	defer body.Close()
	r.size = info.Size
	if total, ok := totalSize(hdr.Get("Content-Range")); ok {
		r.size = total
	}
	buf := make([]byte, min(int64(s.window), r.size))
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, fmt.Errorf("open blob %s: %w", id, err)
	}
	r.win, r.winOff = buf, 0
	return r, nil
}

// totalSize reads the complete length from a Content-Range header
// ("bytes 0-262143/1234567", RFC 9110 section 14.4).
func totalSize(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if !strings.HasPrefix(cr, "bytes ") || i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	return n, err == nil && n >= 0
}

// notExist maps S3's "no such key" to fs.ErrNotExist.
func notExist(err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == minio.NoSuchKey || resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %s", fs.ErrNotExist, err)
	}
	return err
}

// Delete removes blob id. S3 treats a missing key as deleted.
func (s *Store) Delete(ctx context.Context, id string) error {
	key, err := s.key(id)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(notExist(err), fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete blob %s: %w", id, err)
	}
	return nil
}

// Sweep lists the prefix and removes blobs whose LastModified (the object
// store's clock) is older than minAge before now and for which referenced
// returns false; keys under the prefix that are not blob ids are left
// alone. It also aborts multipart uploads under the prefix started more
// than minAge ago (a node killed in the middle of a large Put); those are
// not counted. minAge must be far above the time between Put and commit
// and above the clock difference between the nodes and the object store.
func (s *Store) Sweep(ctx context.Context, minAge time.Duration, referenced func(id string) bool) (int, error) {
	cutoff := time.Now().Add(-minAge)
	removed := 0
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			return removed, fmt.Errorf("sweep blobs: list: %w", obj.Err)
		}
		id, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || !blob.ValidID(id) || !obj.LastModified.Before(cutoff) || referenced(id) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return removed, fmt.Errorf("sweep blobs: delete %s: %w", id, err)
		}
		removed++
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.Err != nil {
			return removed, fmt.Errorf("sweep blobs: list incomplete uploads: %w", up.Err)
		}
		if up.Initiated.Before(cutoff) {
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
				return removed, fmt.Errorf("sweep blobs: abort upload of %s: %w", up.Key, err)
			}
		}
	}
	return removed, nil
}

// reader reads one object. Sequential Reads stream one GET from the
// current offset to the end; ReadAt (partial FETCH) fetches a window
// around the requested range and keeps it, so nearby ReadAts cost no
// request. It is not safe for concurrent use (blob.Reader's contract is
// that of *os.File as the stores use it: one session at a time).
type reader struct {
	s    *Store
	ctx  context.Context
	key  string
	id   string
	size int64

	off int64 // Read/Seek offset

	stream    io.ReadCloser // open GET for sequential Reads
	streamOff int64         // offset stream is at

	win    []byte // cached window for ReadAt
	winOff int64
}

func (r *reader) Size() int64 { return r.size }

func (r *reader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Small reads near a cached window come from it.
	if r.win != nil && r.off >= r.winOff && r.off < r.winOff+int64(len(r.win)) {
		n := copy(p, r.win[r.off-r.winOff:])
		r.off += int64(n)
		return n, nil
	}
	if r.stream == nil || r.streamOff != r.off {
		if r.stream != nil {
			r.stream.Close()
			r.stream = nil
		}
		body, err := r.get(r.off, r.size-1)
		if err != nil {
			return 0, err
		}
		r.stream, r.streamOff = body, r.off
	}
	n, err := r.stream.Read(p)
	r.off += int64(n)
	r.streamOff += int64(n)
	if err == io.EOF {
		r.stream.Close()
		r.stream = nil
		if r.off < r.size {
			return n, fmt.Errorf("read blob %s: %w", r.id, io.ErrUnexpectedEOF)
		}
	} else if err != nil {
		return n, fmt.Errorf("read blob %s: %w", r.id, err)
	}
	return n, nil
}

// get opens a ranged GET of bytes [from, to].
func (r *reader) get(from, to int64) (io.ReadCloser, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(from, to); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", r.id, err)
	}
	body, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.key, opts)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", r.id, notExist(err))
	}
	return body, nil
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read blob %s: negative offset", r.id)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		if r.win == nil || pos < r.winOff || pos >= r.winOff+int64(len(r.win)) {
			if err := r.fill(pos, len(p)-n); err != nil {
				return n, err
			}
		}
		n += copy(p[n:], r.win[pos-r.winOff:])
	}
	return n, nil
}

// fill loads the window starting at pos, at least want bytes (up to the
// end of the object) and at least the configured window.
func (r *reader) fill(pos int64, want int) error {
	length := int64(max(want, r.s.window))
	end := min(pos+length, r.size) - 1
	body, err := r.get(pos, end)
	if err != nil {
		return err
	}
	defer body.Close()
	buf := make([]byte, end-pos+1)
	if _, err := io.ReadFull(body, buf); err != nil {
		return fmt.Errorf("read blob %s at %d: %w", r.id, pos, err)
	}
	r.win, r.winOff = buf, pos
	return nil
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("seek blob %s: invalid whence %d", r.id, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek blob %s: negative position", r.id)
	}
	r.off = abs
	return abs, nil
}

func (r *reader) Close() error {
	r.win = nil
	if r.stream != nil {
		err := r.stream.Close()
		r.stream = nil
		return err
	}
	return nil
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new blob id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
