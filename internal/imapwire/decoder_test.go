package imapwire

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func newDec(s string) *Decoder {
	return NewDecoder(bufio.NewReader(strings.NewReader(s)), DecoderOptions{Continue: func() error { return nil }})
}

func TestDecoderDateTime(t *testing.T) {
	for in, want := range map[string]string{
		`"17-Jul-1996 02:44:25 -0700"`: "1996-07-17T02:44:25-07:00",
		`" 7-Jul-1996 02:44:25 +0000"`: "1996-07-07T02:44:25Z",
		`"7-jul-1996 23:59:60 +1345"`:  "1996-07-07T23:59:59+13:45",
		`"29-Feb-2024 00:00:00 -1200"`: "2024-02-29T00:00:00-12:00",
	} {
		var got time.Time
		d := newDec(in)
		if !d.ExpectDateTime(&got) {
			t.Errorf("%s: %v", in, d.Err())
			continue
		}
		if got.Format(time.RFC3339) != want {
			t.Errorf("%s: got %s, want %s", in, got.Format(time.RFC3339), want)
		}
	}
	for _, in := range []string{
		`"17-Jul-1996 02:44:25"`, `"17-Jul-96 02:44:25 -0700"`, `"29-Feb-2023 00:00:00 +0000"`,
		`"17-Jul-1996 2:44:25 -0700"`, `17-Jul-1996`, `"17-Jux-1996 02:44:25 -0700"`, `"17-Jul-1996 02:44:25 0700"`,
	} {
		var got time.Time
		d := newDec(in)
		if d.ExpectDateTime(&got) {
			t.Errorf("%s: accepted as %v", in, got)
		}
	}
}

func TestDecoderDate(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1-Feb-1994 ":     time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC),
		`"01-FEB-1994"`:   time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC),
		"31-Dec-9999 ":    time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		"29-Feb-2000\r\n": time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
	} {
		var got time.Time
		d := newDec(in)
		if !d.ExpectDate(&got) || !got.Equal(want) {
			t.Errorf("%q: %v %v", in, got, d.Err())
		}
	}
	for _, in := range []string{"0-Feb-1994", "100-Feb-1994", "1-Feb-94", "1-February-1994", "29-Feb-1900", "1-Feb-19940"} {
		var got time.Time
		d := newDec(in + " ")
		if d.ExpectDate(&got) && d.ExpectSP() {
			t.Errorf("%q: accepted as %v", in, got)
		}
	}
}

func TestDecoderNumSet(t *testing.T) {
	for in, want := range map[string][]NumRange{
		"1 ":             {{1, 1}},
		"* ":             {{0, 0}},
		"1:*)":           {{1, 0}},
		"5:2,7,9:*,*:3 ": {{5, 2}, {7, 7}, {9, 0}, {0, 3}},
		"4294967295 ":    {{4294967295, 4294967295}},
		"00001:2\r\n":    {{1, 2}},
	} {
		var got []NumRange
		var res bool
		d := newDec(in)
		if !d.ExpectNumSet(&got, &res) || res || len(got) != len(want) {
			t.Errorf("%q: %v %v", in, got, d.Err())
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: %v, want %v", in, got, want)
			}
		}
	}
	var got []NumRange
	var res bool
	if d := newDec("$ "); !d.ExpectNumSet(&got, &res) || !res || got != nil {
		t.Errorf("$: %v %v", got, res)
	}
	for _, in := range []string{"0", "1:0", "4294967296", ",1", "1,,2", "1::2", "a"} {
		d := newDec(in + " ")
		if d.ExpectNumSet(&got, &res) && d.ExpectSP() {
			t.Errorf("%q accepted: %v", in, got)
		}
	}
}

func TestDecoderNumbers(t *testing.T) {
	var n uint32
	var n64 uint64
	if d := newDec("4294967295 "); !d.ExpectNumber(&n) || n != 4294967295 {
		t.Error("max uint32")
	}
	if d := newDec("4294967296 "); d.ExpectNumber(&n) || !strings.Contains(d.Err().Error(), "out of range") {
		t.Error("uint32 overflow accepted")
	}
	if d := newDec("9223372036854775807 "); !d.ExpectNumber64(&n64) || n64 != 1<<63-1 {
		t.Error("max 63-bit")
	}
	if d := newDec("9223372036854775808 "); d.ExpectNumber64(&n64) {
		t.Error("64-bit accepted as mod-sequence")
	}
	if d := newDec("99999999999999999999999 "); d.ExpectNumber64(&n64) {
		t.Error("huge accepted")
	}
	if d := newDec("0 "); d.ExpectNZNumber(&n) {
		t.Error("zero accepted as nz-number")
	}
}

func TestDecoderStrings(t *testing.T) {
	d := newDec("atom \"q\\\"d\" {3}\r\nl\x00t NIL nil\r\n")
	var s string
	var isNil bool
	if !d.ExpectAString(&s) || s != "atom" || !d.ExpectSP() {
		t.Fatal(s, d.Err())
	}
	if !d.ExpectNString(&s, &isNil) || s != `q"d` || isNil || !d.ExpectSP() {
		t.Fatal(s, d.Err())
	}
	if d.ExpectString(&s) {
		t.Fatal("NUL in literal accepted")
	}
	// String8 accepts NUL in a literal8.
	d = newDec("~{3}\r\nl\x00t NIL NILX\r\n")
	if !d.String8(&s) || s != "l\x00t" || !d.ExpectSP() {
		t.Fatal(s, d.Err())
	}
	if !d.ExpectNString(&s, &isNil) || !isNil || !d.ExpectSP() {
		t.Fatal(d.Err())
	}
	if d.NString(&s, &isNil) {
		t.Fatal("NILX read as NIL")
	}
	// A literal8 is not a string.
	if d := newDec("~{1}\r\nx"); d.String(&s) {
		t.Fatal("literal8 accepted as string")
	}
}

func TestDecoderFlags(t *testing.T) {
	d := newDec("(\\seen \\ANSWERED \\Flagged \\deleted \\draft \\recent $Junk \\Custom)\r\n")
	var flags []string
	if !d.ExpectFlagList(&flags) {
		t.Fatal(d.Err())
	}
	want := `\Seen \Answered \Flagged \Deleted \Draft \Recent $Junk \Custom`
	if strings.Join(flags, " ") != want {
		t.Errorf("got %v", flags)
	}
}

func TestDecoderListErrors(t *testing.T) {
	var s string
	d := newDec("(a b\r\n")
	err := d.ExpectList(func() error {
		d.ExpectAtom(&s)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), `expected SP or ")" in list, got end of line`) {
		t.Errorf("got %v", err)
	}
	d = newDec("(a)")
	custom := errors.New("custom")
	if err := d.ExpectList(func() error { return custom }); err != custom {
		t.Errorf("got %v", err)
	}
}

func TestLiteralBodyStreams(t *testing.T) {
	var r io.Reader = strings.NewReader("{5}\r\nhello world\r\n")
	conts := 0
	d := NewDecoder(bufio.NewReader(r), DecoderOptions{Continue: func() error { conts++; return nil }})
	var got string
	ok := d.LiteralBody(false, nil, func(info LiteralInfo, r io.Reader) error {
		b := make([]byte, 2)
		_, err := io.ReadFull(r, b) // read only part; the rest is discarded
		got = string(b)
		if info.Size != 5 || info.NonSync || info.Binary {
			t.Errorf("info %+v", info)
		}
		return err
	})
	if !ok || got != "he" || conts != 1 {
		t.Fatalf("%v %q %d %v", ok, got, conts, d.Err())
	}
	var s string
	if !d.ExpectSP() || !d.ExpectAtom(&s) || s != "world" || !d.ExpectCRLF() {
		t.Fatalf("after literal: %q %v", s, d.Err())
	}
}

func TestLiteralAnnouncement(t *testing.T) {
	for in, want := range map[string]int64{
		"a {5}\r\n": 5, "{0+}\n": 0, "x {123-}\r\n": 123, "~{7}\r\n": 7,
	} {
		if n, _, ok := literalAnnouncement([]byte(in)); !ok || n != want {
			t.Errorf("%q: %d %v", in, n, ok)
		}
	}
	for _, in := range []string{"a\r\n", "{}\r\n", "5}\r\n", "{5\r\n", "{+}\r\n", "{1234567890123456789}\r\n"} {
		if _, _, ok := literalAnnouncement([]byte(in)); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestDecoderNumSetMaxRanges(t *testing.T) {
	set := func(n int) string { return strings.Repeat("7,", n-1) + "7 " }
	var got []NumRange
	var res bool
	if d := newDec(set(MaxNumSetRanges)); !d.ExpectNumSet(&got, &res) || len(got) != MaxNumSetRanges {
		t.Fatalf("%d ranges refused: %v", MaxNumSetRanges, d.Err())
	}
	d := newDec(set(MaxNumSetRanges + 1))
	if d.ExpectNumSet(&got, &res) {
		t.Fatalf("%d ranges accepted", MaxNumSetRanges+1)
	}
	var se *SyntaxError
	if !errors.As(d.Err(), &se) || !strings.Contains(se.Msg, "ranges") {
		t.Fatalf("error %v, want a syntax error about ranges", d.Err())
	}
}
