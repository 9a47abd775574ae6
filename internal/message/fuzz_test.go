package message

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzParse checks that Parse never panics, that offsets are consistent,
// that the renderings work and that the serialized tree round-trips.
// Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(nestedMsg))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if m.Size != int64(len(b)) {
			t.Fatalf("size %d, want %d", m.Size, len(b))
		}
		checkTree(t, m)
		bs := m.BodyStructure(true)
		_ = m.BodyStructure(false)
		_ = m.Envelope()
		if strings.Count(bs, "(") < 1 {
			t.Fatalf("bad BODYSTRUCTURE %q", bs)
		}
		u, err := UnmarshalParts(MarshalParts(m.Root))
		if err != nil {
			t.Fatal(err)
		}
		um := &Message{Root: u, Size: m.Size}
		if um.BodyStructure(true) != bs {
			t.Fatalf("serialized tree renders differently")
		}
		// Every section number that exists resolves to a part within the message.
		var walk func(p *Part, sec []int, depth int)
		walk = func(p *Part, sec []int, depth int) {
			if depth > 8 {
				return
			}
			for i := 1; i <= 3; i++ {
				s := append(append([]int(nil), sec...), i)
				if q, ok := m.Root.Find(s); ok {
					if q.End > m.Size {
						t.Fatalf("part out of range")
					}
					walk(q, s, depth+1)
				}
			}
		}
		walk(m.Root, nil, 0)
		_, _ = UnmarshalParts(b) // arbitrary input must not panic either
	})
}

// FuzzCRLF checks NewCRLFReader: no bare LF in the output, the text
// between line ends is unchanged, it is idempotent and independent of read
// sizes.
func FuzzCRLF(f *testing.F) {
	f.Add([]byte("a\nb\r\nc\rd\r"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := io.ReadAll(NewCRLFReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range out {
			if c == '\n' && (i == 0 || out[i-1] != '\r') {
				t.Fatalf("bare LF at %d in %q", i, out)
			}
		}
		norm := func(s []byte) string {
			return strings.ReplaceAll(string(s), "\r\n", "\n")
		}
		if norm(out) != norm(b) {
			t.Fatalf("content changed: %q -> %q", b, out)
		}
		again, _ := io.ReadAll(NewCRLFReader(bytes.NewReader(out)))
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent")
		}
		one, _ := io.ReadAll(NewCRLFReader(iotest.OneByteReader(bytes.NewReader(b))))
		if !bytes.Equal(one, out) {
			t.Fatalf("depends on read sizes")
		}
	})
}

// FuzzDecode checks the lenient decoders and DecodeHeader never panic and
// do not depend on read sizes.
func FuzzDecode(f *testing.F) {
	f.Add("base64", []byte("aGVsbG8=\r\n"))
	f.Add("quoted-printable", []byte("a=3D=\r\nb =ZZ"))
	f.Fuzz(func(t *testing.T, enc string, b []byte) {
		x, err := io.ReadAll(NewDecoder(enc, bytes.NewReader(b)))
		if err != nil {
			t.Fatal(err)
		}
		y, _ := io.ReadAll(NewDecoder(enc, iotest.OneByteReader(bytes.NewReader(b))))
		if !bytes.Equal(x, y) {
			t.Fatalf("depends on read sizes: %q vs %q", x, y)
		}
		_ = DecodeHeader(string(b))
		_ = ParseAddressList(string(b))
	})
}
