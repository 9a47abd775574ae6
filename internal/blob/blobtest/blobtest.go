// Package blobtest is the conformance suite of blob.Backend: every backend
// (files, PostgreSQL, S3) runs Run from its own tests, so they keep one
// contract (internal/blob/backend.go).
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/mailstore"
)

// Options describes the backend under test.
type Options struct {
	// Open returns a new, empty backend for one subtest.
	Open func(t *testing.T) blob.Backend
	// Age makes the stored blob id appear d older to Sweep than it is (for
	// files: set its mtime; for S3: rewrite it with the store's clock set
	// back). nil skips the sweep test, which then must be covered by the
	// backend's own tests.
	Age func(t *testing.T, b blob.Backend, id string, d time.Duration)
	// Large is the size of the big-body test (multipart for S3); 0 means
	// 1 MiB.
	Large int
}

// Run runs the conformance suite.
func Run(t *testing.T, o Options) {
	if o.Large == 0 {
		o.Large = 1 << 20
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, o) })
	t.Run("Large", func(t *testing.T) { testLarge(t, o) })
	t.Run("UniqueIDs", func(t *testing.T) { testUniqueIDs(t, o) })
	t.Run("TooBig", func(t *testing.T) { testTooBig(t, o) })
	t.Run("ReadErrorLeavesNothing", func(t *testing.T) { testReadError(t, o) })
	t.Run("Tee", func(t *testing.T) { testTee(t, o) })
	t.Run("InvalidIDs", func(t *testing.T) { testInvalidIDs(t, o) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, o) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, o) })
	if o.Age != nil {
		t.Run("Sweep", func(t *testing.T) { testSweep(t, o) })
	}
}

func put(t *testing.T, b blob.Backend, data []byte) string {
	t.Helper()
	id, size, err := b.PutTee(context.Background(), bytes.NewReader(data), 0, nil)
	if err != nil {
		t.Fatalf("PutTee: %v", err)
	}
	if size != int64(len(data)) {
		t.Fatalf("PutTee size %d, want %d", size, len(data))
	}
	if !blob.ValidID(id) {
		t.Fatalf("PutTee id %q is not a valid blob id", id)
	}
	return id
}

// readBack checks every way of reading blob id against want.
func readBack(t *testing.T, b blob.Backend, id string, want []byte) {
	t.Helper()
	r, err := b.Open(context.Background(), id)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	defer r.Close()
	if r.Size() != int64(len(want)) {
		t.Fatalf("Size %d, want %d", r.Size(), len(want))
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes differing from the %d written", len(got), len(want))
	}
	// ReadAt at a few places, including across the end.
	for _, off := range []int64{0, 1, int64(len(want)) / 3, int64(len(want)) / 2, int64(len(want)) - 7} {
		if off < 0 || off >= int64(len(want)) {
			continue
		}
		p := make([]byte, 100)
		n, err := r.ReadAt(p, off)
		end := min(off+100, int64(len(want)))
		if n != int(end-off) || !bytes.Equal(p[:n], want[off:end]) {
			t.Fatalf("ReadAt(100, %d) = %d bytes %q, want %q", off, n, p[:n], want[off:end])
		}
		if n < 100 && err != io.EOF {
			t.Fatalf("short ReadAt at %d: err %v, want io.EOF", off, err)
		}
		if n == 100 && err != nil && err != io.EOF {
			t.Fatalf("ReadAt at %d: %v", off, err)
		}
	}
	// Seek then Read.
	if len(want) > 10 {
		mid := int64(len(want) / 2)
		if pos, err := r.Seek(mid, io.SeekStart); err != nil || pos != mid {
			t.Fatalf("Seek(%d): %d, %v", mid, pos, err)
		}
		rest, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(rest, want[mid:]) {
			t.Fatalf("Read after Seek: %d bytes, %v", len(rest), err)
		}
		if pos, err := r.Seek(-5, io.SeekEnd); err != nil || pos != int64(len(want))-5 {
			t.Fatalf("Seek(-5, end): %d, %v", pos, err)
		}
		tail, _ := io.ReadAll(r)
		if !bytes.Equal(tail, want[len(want)-5:]) {
			t.Fatalf("tail %q, want %q", tail, want[len(want)-5:])
		}
	}
}

func testRoundTrip(t *testing.T, o Options) {
	b := o.Open(t)
	for _, data := range [][]byte{
		[]byte("Subject: hi\r\n\r\nbody\r\n"),
		{},
		bytes.Repeat([]byte("0123456789abcdef"), 5000),
	} {
		id := put(t, b, data)
		readBack(t, b, id, data)
	}
	id := put(t, b, []byte("short-lived"))
	if err := b.Delete(context.Background(), id); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Open(context.Background(), id); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after Delete: %v, want fs.ErrNotExist", err)
	}
	// Deleting a missing blob is not an error.
	if err := b.Delete(context.Background(), id); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

// pattern is a body whose every region differs, so a misplaced range shows.
func pattern(n int) []byte {
	p := make([]byte, n)
	x := uint32(2463534242)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}

func testLarge(t *testing.T, o Options) {
	b := o.Open(t)
	data := pattern(o.Large + 12345)
	id := put(t, b, data)
	readBack(t, b, id, data)
}

func testUniqueIDs(t *testing.T, o Options) {
	b := o.Open(t)
	seen := map[string]bool{}
	for range 30 {
		id := put(t, b, []byte("x"))
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless is an infinite stream of 'a'.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// stored lists the ids Sweep sees (minAge 0, nothing removed).
func stored(t *testing.T, b blob.Backend) []string {
	t.Helper()
	var ids []string
	if _, err := b.Sweep(context.Background(), 0, func(id string) bool { ids = append(ids, id); return true }); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return ids
}

func testTooBig(t *testing.T, o Options) {
	b := o.Open(t)
	for _, max := range []int64{1000, int64(o.Large)} {
		cr := &countingReader{r: endless{}}
		_, _, err := b.PutTee(context.Background(), cr, max, nil)
		if mailstore.KindOf(err) != mailstore.KindTooBig {
			t.Fatalf("max %d: err %v, want KindTooBig", max, err)
		}
		if cr.n > max+1 {
			t.Fatalf("max %d: read %d bytes, want at most %d", max, cr.n, max+1)
		}
	}
	if ids := stored(t, b); len(ids) != 0 {
		t.Fatalf("refused bodies left blobs: %v", ids)
	}
	// Exactly maxSize is fine.
	if _, n, err := b.PutTee(context.Background(), strings.NewReader(strings.Repeat("b", 1000)), 1000, nil); err != nil || n != 1000 {
		t.Fatalf("put of exactly max: %d, %v", n, err)
	}
}

type failReader struct{}

func (failReader) Read(p []byte) (int, error) { return 0, errors.New("boom") }

func testReadError(t *testing.T, o Options) {
	b := o.Open(t)
	for _, head := range [][]byte{[]byte("abc"), pattern(o.Large + 1)} {
		if _, _, err := b.PutTee(context.Background(), io.MultiReader(bytes.NewReader(head), failReader{}), 0, nil); err == nil {
			t.Fatalf("no error from a reader failing after %d bytes", len(head))
		}
	}
	if ids := stored(t, b); len(ids) != 0 {
		t.Fatalf("failed Puts left blobs: %v", ids)
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("tee full")
	}
	w.n -= len(p)
	return len(p), nil
}

func testTee(t *testing.T, o Options) {
	b := o.Open(t)
	for _, data := range []string{strings.Repeat("line of text\r\n", 10000), string(pattern(o.Large + 99))} {
		// Parsing in the same pass through a pipe, as delivery does.
		pr, pw := io.Pipe()
		done := make(chan []byte)
		go func() {
			got, _ := io.ReadAll(pr)
			done <- got
		}()
		id, _, err := b.PutTee(context.Background(), strings.NewReader(data), 0, pw)
		pw.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := <-done; string(got) != data {
			t.Fatalf("tee saw %d bytes, want the %d stored", len(got), len(data))
		}
		readBack(t, b, id, []byte(data))
	}
	// A failing tee fails the Put.
	if _, _, err := b.PutTee(context.Background(), strings.NewReader("0123456789"), 0, &failWriter{n: 3}); err == nil {
		t.Fatal("Put succeeded although its tee failed")
	}
}

func testInvalidIDs(t *testing.T, o Options) {
	b := o.Open(t)
	for _, id := range []string{"", "..", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789",
		"0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789abcdef/123456789abcdef",
		"0123456789abcdef0123456789abcdeg", "?x=1"} {
		if _, err := b.Open(context.Background(), id); !errors.Is(err, blob.ErrInvalidID) {
			t.Errorf("Open(%q): %v, want ErrInvalidID", id, err)
		}
		if err := b.Delete(context.Background(), id); !errors.Is(err, blob.ErrInvalidID) {
			t.Errorf("Delete(%q): %v, want ErrInvalidID", id, err)
		}
	}
}

func testMissing(t *testing.T, o Options) {
	b := o.Open(t)
	const id = "0123456789abcdef0123456789abcdef"
	if _, err := b.Open(context.Background(), id); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of an unknown id: %v, want fs.ErrNotExist", err)
	}
	if err := b.Delete(context.Background(), id); err != nil {
		t.Fatalf("Delete of an unknown id: %v", err)
	}
}

func testConcurrent(t *testing.T, o Options) {
	b := o.Open(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Go(func() {
			ids[i], _, errs[i] = b.PutTee(context.Background(), bytes.NewReader(pattern(1000+i)), 0, nil)
		})
	}
	wg.Wait()
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("put %d: %v", i, errs[i])
		}
		readBack(t, b, id, pattern(1000+i))
	}
}

func testSweep(t *testing.T, o Options) {
	b := o.Open(t)
	keep := put(t, b, []byte("keep"))
	drop := put(t, b, []byte("drop"))
	young := put(t, b, []byte("young"))
	o.Age(t, b, keep, 2*time.Hour)
	o.Age(t, b, drop, 2*time.Hour)
	n, err := b.Sweep(context.Background(), time.Hour, func(id string) bool { return id == keep })
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("removed %d, want 1", n)
	}
	for id, want := range map[string]bool{keep: true, drop: false, young: true} {
		r, err := b.Open(context.Background(), id)
		if (err == nil) != want {
			t.Errorf("blob %s present=%v, want %v (%v)", id, err == nil, want, err)
		}
		if r != nil {
			r.Close()
		}
	}
}
