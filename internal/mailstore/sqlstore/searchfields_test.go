package sqlstore

import (
	"encoding/binary"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestSearchFieldsRoundTrip: the stored form gives back every value of
// every field, empty values and absent fields kept apart.
func TestSearchFieldsRoundTrip(t *testing.T) {
	in := mailstore.SearchFieldsOf([]byte("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nTo: a\r\nTo: b\r\nCc:\r\n\r\n"))
	b := MarshalSearchFields(&in)
	var out mailstore.SearchFields
	out.Values[mailstore.SearchBcc] = [][]byte{[]byte("stale")} // reset by Unmarshal
	ok, err := UnmarshalSearchFields(b, &out)
	if !ok || err != nil {
		t.Fatalf("Unmarshal = %v, %v", ok, err)
	}
	for f := range mailstore.NumSearchFields {
		if !slices.EqualFunc(in.Values[f], out.Values[f], func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Errorf("%v: %q, want %q", f, out.Values[f], in.Values[f])
		}
	}
	if len(out.Values[mailstore.SearchCc]) != 1 || len(out.Values[mailstore.SearchBcc]) != 0 {
		t.Errorf("empty Cc / absent Bcc not kept apart: %q %q", out.Values[mailstore.SearchCc], out.Values[mailstore.SearchBcc])
	}
}

// TestSearchFieldsNotUsed: rows that must not answer a search: NULL (stored
// before the column existed), another format, text lower-cased under
// other Unicode tables. Malformed rows are errors.
func TestSearchFieldsNotUsed(t *testing.T) {
	var sf mailstore.SearchFields
	sf0 := mailstore.SearchFieldsOf([]byte("Subject: x\r\n\r\n"))
	good := MarshalSearchFields(&sf0)
	otherFormat := append([]byte{searchFieldsFormat + 1}, good[1:]...)
	otherTables := []byte{searchFieldsFormat}
	otherTables = binary.AppendUvarint(otherTables, uint64(len("9.0.0")))
	otherTables = append(otherTables, "9.0.0"...)
	otherTables = append(otherTables, good[2+len(unicode.Version):]...)
	for name, b := range map[string][]byte{"nil": nil, "format": otherFormat, "unicode": otherTables} {
		if ok, err := UnmarshalSearchFields(b, &sf); ok || err != nil {
			t.Errorf("%s: Unmarshal = %v, %v; want not kept", name, ok, err)
		}
	}
	for name, b := range map[string][]byte{
		"truncated": good[:len(good)-1],
		"trailing":  append(slices.Clone(good), 0),
		"short":     good[:3],
	} {
		if _, err := UnmarshalSearchFields(b, &sf); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestParserSearchFields: the parser keeps the search fields of a message
// whose header fits in SearchHeaderMax, equal to SearchFieldsOf of the
// header, and none for a bigger header.
func TestParserSearchFields(t *testing.T) {
	parse := func(msg string) CacheData {
		p := StartParser()
		_, err := io.Copy(p.W(), strings.NewReader(msg))
		c, perr := p.Finish(err)
		if err != nil || perr != nil {
			t.Fatal(err, perr)
		}
		return c
	}
	small := "Subject: Hello\r\nTo: a@example.org\r\n\r\n" + strings.Repeat("body\r\n", 20000)
	c := parse(small)
	want := mailstore.SearchFieldsOf([]byte(small[:c.HeaderSize]))
	if string(c.SearchFields) != string(MarshalSearchFields(&want)) {
		t.Errorf("small header: stored %q", c.SearchFields)
	}
	big := "Subject: Hello\r\n" + strings.Repeat("Received: from somewhere by elsewhere\r\n", SearchHeaderMax/30) + "\r\nbody\r\n"
	if c := parse(big); c.HeaderSize <= SearchHeaderMax || c.SearchFields != nil {
		t.Errorf("header of %d octets: kept %d octets of fields", c.HeaderSize, len(c.SearchFields))
	}
}
