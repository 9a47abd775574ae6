package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// ctx is the context of the tests: none of them cancels.
var ctx = context.Background()

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "msg"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutOpenDelete(t *testing.T) {
	s := openStore(t)
	data := []byte("Subject: hi\r\n\r\nbody\r\n")
	id, size, err := s.Put(ctx, bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(data)) {
		t.Fatalf("size %d, want %d", size, len(data))
	}
	if !ValidID(id) {
		t.Fatalf("id %q not valid", id)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), id[:2], id)); err != nil {
		t.Fatalf("blob not at its sharded path: %v", err)
	}
	f, err := s.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %q, want %q", got, data)
	}
	// Deleting keeps an open file readable.
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, io.SeekStart)
	got2, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got2, data) {
		t.Fatalf("open file after delete read %q", got2)
	}
	if _, err := s.Open(ctx, id); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open after delete: %v, want not exist", err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(s.Dir(), tmpDir))
	if len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

func TestUniqueIDs(t *testing.T) {
	s := openStore(t)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		id, _, err := s.Put(ctx, strings.NewReader("x"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

// countingReader counts how many bytes were read from it.
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

func TestTooBig(t *testing.T) {
	s := openStore(t)
	cr := &countingReader{r: endless{}}
	_, _, err := s.Put(ctx, cr, 1000)
	if mailstore.KindOf(err) != mailstore.KindTooBig {
		t.Fatalf("err %v, want KindTooBig", err)
	}
	if cr.n > 1001 {
		t.Fatalf("read %d bytes, want at most 1001", cr.n)
	}
	tmp, _ := os.ReadDir(filepath.Join(s.Dir(), tmpDir))
	if len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
	// Exactly maxSize is fine.
	if _, n, err := s.Put(ctx, strings.NewReader(strings.Repeat("b", 1000)), 1000); err != nil || n != 1000 {
		t.Fatalf("put of exactly max: %d, %v", n, err)
	}
}

type failReader struct{}

func (failReader) Read(p []byte) (int, error) { return 0, errors.New("boom") }

func TestPutReadErrorLeavesNothing(t *testing.T) {
	s := openStore(t)
	if _, _, err := s.Put(ctx, io.MultiReader(strings.NewReader("abc"), failReader{}), 0); err == nil {
		t.Fatal("no error from failing reader")
	}
	ents, _ := os.ReadDir(s.Dir())
	for _, e := range ents {
		if e.Name() != tmpDir {
			t.Fatalf("unexpected entry %s", e.Name())
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(s.Dir(), tmpDir))
	if len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

func TestPutTee(t *testing.T) {
	s := openStore(t)
	data := strings.Repeat("line of text\r\n", 10000)
	var tee bytes.Buffer
	id, _, err := s.PutTee(ctx, strings.NewReader(data), 0, &tee)
	if err != nil {
		t.Fatal(err)
	}
	if tee.String() != data {
		t.Fatalf("tee saw %d bytes, want %d", tee.Len(), len(data))
	}
	// Parsing in the same pass through a pipe.
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		b, _ := io.ReadAll(pr)
		done <- len(b)
	}()
	_, _, err = s.PutTee(ctx, strings.NewReader(data), 0, pw)
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n := <-done; n != len(data) {
		t.Fatalf("pipe reader saw %d bytes", n)
	}
	_ = id
}

func TestInvalidIDs(t *testing.T) {
	s := openStore(t)
	for _, id := range []string{"", "..", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789",
		"0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789abcdef/123456789abcdef",
		"0123456789abcdef0123456789abcdeg"} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
		if _, err := s.Open(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Open(%q): %v, want ErrInvalidID", id, err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Delete(%q): %v, want ErrInvalidID", id, err)
		}
	}
}

func TestSweep(t *testing.T) {
	s := openStore(t)
	keep, _, _ := s.Put(ctx, strings.NewReader("keep"), 0)
	drop, _, _ := s.Put(ctx, strings.NewReader("drop"), 0)
	young, _, _ := s.Put(ctx, strings.NewReader("young"), 0)
	tmpFile := filepath.Join(s.Dir(), tmpDir, "leftover")
	os.WriteFile(tmpFile, []byte("x"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{filepath.Join(s.Dir(), keep[:2], keep), filepath.Join(s.Dir(), drop[:2], drop), tmpFile} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Sweep(ctx, time.Hour, func(id string) bool { return id == keep })
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("removed %d, want 2", n)
	}
	for id, want := range map[string]bool{keep: true, drop: false, young: true} {
		_, err := s.Open(ctx, id)
		if (err == nil) != want {
			t.Errorf("blob %s present=%v, want %v", id, err == nil, want)
		}
	}
	if _, err := os.Stat(tmpFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old temp file not swept: %v", err)
	}
}
