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

// TestTooBig: a refused body leaves no temporary file (the conformance
// suite checks the refusal itself, how much is read, and the limit).
func TestTooBig(t *testing.T) {
	s := openStore(t)
	if _, _, err := s.Put(ctx, strings.NewReader(strings.Repeat("a", 5000)), 1000); mailstore.KindOf(err) != mailstore.KindTooBig {
		t.Fatalf("err %v, want KindTooBig", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(s.Dir(), tmpDir))
	if len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
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

// TestInvalidIDs checks ValidID (the conformance suite checks that Open
// and Delete refuse such ids).
func TestInvalidIDs(t *testing.T) {
	for _, id := range []string{"", "..", "../../etc/passwd", "ABCDEF0123456789ABCDEF0123456789",
		"0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789abcdef/123456789abcdef",
		"0123456789abcdef0123456789abcdeg"} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
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

// TestLocalFile: a Store blob gives its file, which holds exactly the
// blob's bytes at offsets 0..Size, and stays readable after Delete until
// the Reader is closed (a FETCH streaming from it while another session
// expunges).
func TestLocalFile(t *testing.T) {
	s := openStore(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	id, _, err := s.Put(ctx, bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fr, ok := r.(FileReader)
	if !ok {
		t.Fatalf("%T does not implement FileReader", r)
	}
	f := fr.LocalFile()
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	if _, err := f.ReadAt(got, 1000); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[1000:1100]) {
		t.Fatalf("file bytes at 1000: %q, want %q", got, data[1000:1100])
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(len(data)) || r.Size() != fi.Size() {
		t.Fatalf("file size %d, reader size %d, want %d", fi.Size(), r.Size(), len(data))
	}
}
