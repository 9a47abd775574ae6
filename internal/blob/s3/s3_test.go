package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/blob/blobtest"
)

// clock is the fake store's clock for LastModified: now plus an offset the
// tests move back to make objects look old.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *clock) set(d time.Duration) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
}

// fake is an in-process S3 server with one bucket.
type fake struct {
	url   *url.URL
	clock *clock
	reqs  *requestLog
}

// requestLog records the requests the client sends (method, query, body size).
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
	next http.RoundTripper
}

type loggedRequest struct {
	method, path, query string
	size                int64
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.reqs = append(l.reqs, loggedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.ContentLength})
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

func (l *requestLog) take() []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reqs
	l.reqs = nil
	return r
}

func newFake(t *testing.T, bucket string) *fake {
	t.Helper()
	c := &clock{}
	be := s3mem.New(s3mem.WithTimeSource(c))
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	// The fake's own clock (multipart upload times) follows c too; the
	// skew check would refuse requests while c is set back.
	srv := httptest.NewServer(gofakes3.New(be, gofakes3.WithTimeSource(c), gofakes3.WithTimeSkewLimit(0)).Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &fake{url: u, clock: c, reqs: &requestLog{next: http.DefaultTransport}}
}

func (f *fake) open(t *testing.T, prefix string, partSize int64) *Store {
	t.Helper()
	loc := "s3://mail/" + prefix + "?endpoint=" + f.url.Host + "&secure=false&region=us-east-1"
	o, err := ParseLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	o.AccessKey, o.SecretKey = "roost", "s3cr3t-never-logged"
	o.PartSize = partSize
	o.Window = 4096
	o.Transport = f.reqs
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// age rewrites blob id with the fake's clock set back by d, so its
// LastModified is d in the past.
func (f *fake) age(t *testing.T, b blob.Backend, id string, d time.Duration) {
	t.Helper()
	s := b.(*Store)
	obj, err := s.client.GetObject(context.Background(), s.bucket, s.prefix+id, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.set(-d)
	defer f.clock.set(0)
	if _, err := s.client.PutObject(context.Background(), s.bucket, s.prefix+id, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	n := 0
	f := newFake(t, "mail")
	blobtest.Run(t, blobtest.Options{
		Open: func(t *testing.T) blob.Backend {
			// Each subtest its own prefix: an empty store.
			n++
			return f.open(t, "node/"+strings.Repeat("p", n), minPartSize)
		},
		Age:   f.age,
		Large: minPartSize*2 + 1000, // three parts
	})
}

// TestMultipartStreams: a body larger than the part size goes up as a
// multipart upload whose parts are never larger than the part size (the
// body is never held in memory as a whole), and a small one as one PUT.
func TestMultipartStreams(t *testing.T) {
	f := newFake(t, "mail")
	s := f.open(t, "", minPartSize)
	f.reqs.take()

	body := bytes.Repeat([]byte("0123456789abcdef"), (3*minPartSize+500)/16)
	id, size, err := s.PutTee(context.Background(), bytes.NewReader(body), 0, nil)
	if err != nil || size != int64(len(body)) {
		t.Fatalf("put: %d, %v", size, err)
	}
	parts := 0
	for _, r := range f.reqs.take() {
		if r.method == http.MethodPut && strings.Contains(r.query, "partNumber=") {
			parts++
			if r.size > minPartSize {
				t.Errorf("part of %d bytes, more than the part size %d", r.size, minPartSize)
			}
		}
		if r.method == http.MethodPut && !strings.Contains(r.query, "uploadId=") {
			t.Errorf("a single PUT for a body larger than a part: %+v", r)
		}
	}
	if parts != 4 {
		t.Fatalf("%d parts uploaded, want 4", parts)
	}
	r, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, body) {
		t.Fatal("multipart body read back differs")
	}

	f.reqs.take()
	if _, _, err := s.PutTee(context.Background(), strings.NewReader("Subject: small\r\n\r\nhi\r\n"), 0, nil); err != nil {
		t.Fatal(err)
	}
	reqs := f.reqs.take()
	if len(reqs) != 1 || reqs[0].method != http.MethodPut || reqs[0].query != "" {
		t.Fatalf("small body: requests %+v, want one plain PUT", reqs)
	}
}

// TestReadAtWindow: Open costs one ranged GET, which also gives the size;
// reads inside the window it fetched cost no request; a ReadAt outside
// it costs one ranged GET, and nearby ReadAts then none.
func TestReadAtWindow(t *testing.T) {
	f := newFake(t, "mail")
	s := f.open(t, "", minPartSize) // window 4096
	body := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), 1000)
	id, _, err := s.PutTee(context.Background(), bytes.NewReader(body), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.reqs.take()
	r, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if reqs := f.reqs.take(); len(reqs) != 1 || reqs[0].method != http.MethodGet {
		t.Fatalf("Open: requests %+v, want one GET", reqs)
	}
	if r.Size() != int64(len(body)) {
		t.Fatalf("Size %d, want %d (from Content-Range)", r.Size(), len(body))
	}
	p := make([]byte, 10)
	for _, off := range []int64{0, 100, 4000} {
		if _, err := r.ReadAt(p, off); err != nil || !bytes.Equal(p, body[off:off+10]) {
			t.Fatalf("ReadAt %d: %q, %v", off, p, err)
		}
	}
	if reqs := f.reqs.take(); len(reqs) != 0 {
		t.Fatalf("ReadAts inside the first window: requests %+v, want none", reqs)
	}
	for _, off := range []int64{20000, 20500, 24000} {
		if _, err := r.ReadAt(p, off); err != nil || !bytes.Equal(p, body[off:off+10]) {
			t.Fatalf("ReadAt %d: %q, %v", off, p, err)
		}
	}
	if reqs := f.reqs.take(); len(reqs) != 1 {
		t.Fatalf("ReadAts in one window outside the first: %d requests, want 1", len(reqs))
	}
	// A small body is read whole by Open alone.
	small := []byte("Subject: small\r\n\r\nhi\r\n")
	id, _, _ = s.PutTee(context.Background(), bytes.NewReader(small), 0, nil)
	f.reqs.take()
	r2, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r2)
	r2.Close()
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("small body: %q, %v", got, err)
	}
	if reqs := f.reqs.take(); len(reqs) != 1 {
		t.Fatalf("Open and read of a small body: %d requests, want 1", len(reqs))
	}
}

// TestSweepAbortsStaleUploads: a multipart upload left by a killed node
// is aborted by Sweep once older than minAge.
func TestSweepAbortsStaleUploads(t *testing.T) {
	f := newFake(t, "mail")
	s := f.open(t, "p/", minPartSize)
	f.clock.set(-2 * time.Hour)
	key := s.prefix + "0123456789abcdef0123456789abcdef"
	up, err := s.core.NewMultipartUpload(context.Background(), s.bucket, key, minio.PutObjectOptions{})
	f.clock.set(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.core.PutObjectPart(context.Background(), s.bucket, key, up, 1, strings.NewReader("half a message"), 14, minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(context.Background(), time.Hour, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	for u := range s.client.ListIncompleteUploads(context.Background(), s.bucket, s.prefix, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Fatalf("stale upload %s of %s still there after Sweep", u.UploadID, u.Key)
	}
}

func TestParseLocation(t *testing.T) {
	o, err := ParseLocation("s3://mail/roost/blobs?endpoint=127.0.0.1:9000&region=eu-1&secure=false")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Endpoint: "127.0.0.1:9000", Bucket: "mail", Prefix: "roost/blobs/", Region: "eu-1", Secure: false, PathStyle: true}
	if o != want {
		t.Fatalf("got %+v, want %+v", o, want)
	}
	o, err = ParseLocation("s3://mail")
	if err != nil || o != (Options{Bucket: "mail", Secure: true}) {
		t.Fatalf("bare bucket: %+v, %v", o, err)
	}
	for _, bad := range []string{
		"s3://key:p4ssw0rd@mail/x", // credentials in the URL
		"http://mail/x",
		"s3:///prefix",
		"s3://mail?secure=maybe",
		"s3://mail?endpoint=x&acl=public-read",
	} {
		if _, err := ParseLocation(bad); err == nil {
			t.Errorf("ParseLocation(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "p4ssw0rd") {
			t.Errorf("ParseLocation(%q) error shows the secret: %v", bad, err)
		}
	}
}

// TestCredentials: static keys, else the AWS_* environment; a missing
// bucket is an error at Open that names the bucket but no secret.
func TestCredentials(t *testing.T) {
	f := newFake(t, "mail")
	var auth []string
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		auth = append(auth, r.Header.Get("Authorization"))
		return http.DefaultTransport.RoundTrip(r)
	})
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	o := Options{Endpoint: f.url.Host, Bucket: "mail", PathStyle: true, Region: "us-east-1", Transport: tr}
	if _, err := Open(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(auth) == 0 || !strings.Contains(auth[0], "Credential=ENVKEY/") {
		t.Fatalf("environment credentials not used: %q", auth)
	}
	auth = nil
	o.AccessKey, o.SecretKey = "STATIC", "staticsecret"
	if _, err := Open(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(auth) == 0 || !strings.Contains(auth[0], "Credential=STATIC/") {
		t.Fatalf("static credentials not used: %q", auth)
	}
	o.Bucket = "nosuchbucket"
	_, err := Open(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "nosuchbucket") || strings.Contains(err.Error(), "staticsecret") {
		t.Fatalf("missing bucket: %v", err)
	}
	o.SecretKey = ""
	if _, err := Open(context.Background(), o); err == nil {
		t.Fatal("access key without secret key accepted")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestUnreachable: a store that does not answer fails Open and Ping with
// an error, not a hang.
func TestUnreachable(t *testing.T) {
	f := newFake(t, "mail")
	s := f.open(t, "", minPartSize)
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := ln.Listener.Addr().String()
	ln.Close()
	o := Options{Endpoint: addr, Bucket: "mail", PathStyle: true, Region: "us-east-1", AccessKey: "a", SecretKey: "b"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := Open(ctx, o); err == nil {
		t.Fatal("Open of a closed endpoint succeeded")
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping of a live store: %v", err)
	}
}

// TestSmallPutMemory: a small message does not cost a part-sized buffer
// (8 MiB by default): deliveries of ordinary mail allocate about what they
// store. Measured over the client and the in-process fake server together.
func TestSmallPutMemory(t *testing.T) {
	f := newFake(t, "mail")
	s := f.open(t, "", DefaultPartSize)
	msg := bytes.Repeat([]byte("x"), 10_000)
	put := func() {
		if _, _, err := s.PutTee(context.Background(), bytes.NewReader(msg), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	put()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 20
	for range n {
		put()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > DefaultPartSize/4 {
		t.Fatalf("a 10 KB Put allocates %d bytes, want well under the %d-byte part size", per, DefaultPartSize)
	} else {
		t.Logf("a 10 KB Put allocates %d bytes (client and fake server)", per)
	}
}
