package mailstore

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestKeptLinesFilterLikeHeader: over random headers made of kept and
// other fields, folding, lines that are no field, bare LF, CR alone and
// missing line ends, filtering the kept lines with any list KeptCovers
// gives the bytes filtering the header gives; a list with one other
// field is not covered.
func TestKeptLinesFilterLikeHeader(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	names := append([]string{"Received", "X-Other", "DKIM-Signature", "subject ", "FROM", "x-tuid"}, KeptHeaderFields...)
	pieces := []string{"\r\n", "\n", " folded\r\n", "\tfolded\n", "no colon\r\n", ":empty name\r\n", " \r\n", "\r"}
	for i := range 3000 {
		var b strings.Builder
		for range r.IntN(12) {
			if r.IntN(4) == 0 {
				b.WriteString(pieces[r.IntN(len(pieces))])
				continue
			}
			b.WriteString(names[r.IntN(len(names))] + ": v" + strings.Repeat("x", r.IntN(20)))
			b.WriteString([]string{"\r\n", "\n", "\r\n\tcont\r\n"}[r.IntN(3)])
		}
		if r.IntN(3) == 0 {
			b.WriteString("\r\nbody: not header\r\n")
		}
		hdr := []byte(b.String())
		kept := KeptLinesOf(hdr)
		if kept == nil {
			t.Fatalf("case %d: nothing kept for %d octets", i, len(hdr))
		}
		var list []string
		for _, n := range KeptHeaderFields {
			if r.IntN(3) == 0 {
				list = append(list, strings.ToLower(n))
			}
		}
		if !KeptCovers(list) {
			t.Fatalf("KeptCovers(%q) = false", list)
		}
		if got, want := FilterHeaderFields(kept, list, false), FilterHeaderFields(hdr, list, false); string(got) != string(want) {
			t.Fatalf("case %d: header %q, list %q: from kept lines %q, from header %q", i, hdr, list, got, want)
		}
	}
	if KeptCovers([]string{"Subject", "Received"}) || !KeptCovers([]string{"sUBJECT", "x-tuid"}) || !KeptCovers(nil) {
		t.Error("KeptCovers: wrong answer")
	}
	long := []byte("To: " + strings.Repeat("a", KeptLinesMax) + "\r\n\r\n")
	if KeptLinesOf(long) != nil {
		t.Error("kept lines over KeptLinesMax were kept")
	}
}

// TestContainsFoldBytes: the byte comparison FilterHeaderFields uses
// answers as strings.EqualFold, also for names that fold to ASCII from
// other characters (Kelvin sign, long s) and invalid UTF-8.
func TestContainsFoldBytes(t *testing.T) {
	words := []string{"Subject", "SUBJECT", "subjecT", "X-K9mail-Identity", "X-\u212a9mail-Identity", "x-k9MAIL-identity",
		"Li\u017Ft-Id", "List-Id", "LIST-ID", "Lis-Id", "\xffSubject", "\xfeSubject", "Sübject", "SÜBJECT", "", "a", "A", "@", "`", "[", "{"}
	for _, a := range words {
		for _, b := range words {
			if got, want := containsFoldBytes([]string{a}, []byte(b)), strings.EqualFold(a, b); got != want {
				t.Errorf("containsFoldBytes(%q, %q) = %v, strings.EqualFold %v", a, b, got, want)
			}
		}
	}
}
