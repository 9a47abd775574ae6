package sqlstore

import (
	"errors"
	"io/fs"

	"github.com/roost-mail/roost/internal/mailstore"
)

// KeptColumn names a per-message column of the content table that keeps
// something made from the message's top-level header (header_fields,
// search_fields), NULL for a row stored before the column existed. Both
// backends read such a column for a batch of UIDs, fill the NULL rows from
// the message's header and write those fills after the read transaction;
// KeptColumn and KeptCodec are the driver-independent half of that.
type KeptColumn struct {
	Name   string // the column, as written in SQL
	What   string // what it keeps, in logs ("header fields")
	ReadOp string // the operation name of a read ("read header fields")
	FillOp string // the operation name of writing fills
}

func keptColumn(name, what string) KeptColumn {
	return KeptColumn{Name: name, What: what, ReadOp: "read " + what, FillOp: "fill " + what}
}

var (
	// HeaderFieldsColumn keeps the stored form of MarshalKeptLines
	// (mailstore.HeaderFieldsReader).
	HeaderFieldsColumn = keptColumn("header_fields", "header fields")
	// SearchFieldsColumn keeps the stored form of MarshalSearchFields
	// (mailstore.HeaderSearcher).
	SearchFieldsColumn = keptColumn("search_fields", "search fields")
)

// KeptCodec turns a KeptColumn's stored bytes into the value given to a
// reader's callback (T), and makes that value and its stored form from a
// message's header.
type KeptCodec[T any] interface {
	// Decode returns the value of stored bytes raw (nil when NULL). ok
	// false means the row holds nothing usable and is filled from the
	// header if it can be; v is then what the reader reports when it
	// cannot be filled.
	Decode(raw []byte) (v T, ok bool, err error)
	// FromHeader returns the value of header hdr and its stored form.
	FromHeader(hdr []byte) (v T, stored []byte)
}

// KeptLinesCodec is the KeptCodec of HeaderFieldsColumn: the value is the
// kept lines, nil when not kept. Only a NULL row is filled; a row kept
// under another field list reads as not kept.
type KeptLinesCodec struct{}

// Decode implements KeptCodec.
func (KeptLinesCodec) Decode(raw []byte) ([]byte, bool, error) {
	return UnmarshalKeptLines(raw), raw != nil, nil
}

// FromHeader implements KeptCodec.
func (KeptLinesCodec) FromHeader(hdr []byte) ([]byte, []byte) {
	stored := MarshalKeptLines(hdr)
	return UnmarshalKeptLines(stored), stored
}

// SearchFieldsCodec is the KeptCodec of SearchFieldsColumn: the value is
// a pointer to the codec's own SearchFields (reused from row to row, so
// valid until the next Decode or FromHeader), nil when not kept.
type SearchFieldsCodec struct {
	sf mailstore.SearchFields
}

// Decode implements KeptCodec.
func (c *SearchFieldsCodec) Decode(raw []byte) (*mailstore.SearchFields, bool, error) {
	ok, err := UnmarshalSearchFields(raw, &c.sf)
	if !ok || err != nil {
		return nil, ok, err
	}
	return &c.sf, true, nil
}

// FromHeader implements KeptCodec.
func (c *SearchFieldsCodec) FromHeader(hdr []byte) (*mailstore.SearchFields, []byte) {
	c.sf = mailstore.SearchFieldsOf(hdr)
	return &c.sf, MarshalSearchFields(&c.sf)
}

// KeptReader turns the wanted rows of a batch read of Col into values,
// filling NULL rows from the message's header and collecting those fills
// for the caller to write after its read transaction.
type KeptReader[T any] struct {
	Col   *KeptColumn
	Codec KeptCodec[T]
	// ReadHeader reads the top-level header of the row Value was called
	// for (fs.ErrNotExist when its message is gone).
	ReadHeader func() ([]byte, error)
	Fills      []KeptFill
}

// Value returns the value of a row whose column holds raw (nil when NULL)
// and whose content row is content. A row that decodes as not kept, is
// fillable (the caller selected its blob id, which it does only when the
// column is NULL) and has a header of at most SearchHeaderMax octets is
// given Codec's value of its header, and the stored form is added to
// Fills. skip is true when that message is gone (expunged by a commit
// after the caller's snapshot): the row is not reported.
func (k *KeptReader[T]) Value(raw []byte, fillable bool, content, headerSize int64) (v T, skip bool, err error) {
	v, ok, err := k.Codec.Decode(raw)
	if err != nil {
		return v, false, mailstore.Internal(k.Col.ReadOp, err)
	}
	if ok || !fillable || headerSize > SearchHeaderMax {
		return v, false, nil
	}
	hdr, err := k.ReadHeader()
	if errors.Is(err, fs.ErrNotExist) {
		return v, true, nil
	}
	if err != nil {
		return v, false, mailstore.Internal("read message header", err)
	}
	v, stored := k.Codec.FromHeader(hdr)
	k.Fills = append(k.Fills, KeptFill{Content: content, Data: stored})
	return v, false, nil
}

// KeptFill is the stored form made for a content row whose column was
// NULL, to be written after the read.
type KeptFill struct {
	Content int64 // the content row's id
	Data    []byte
}

// UIDCursor walks the wanted UIDs (ascending) alongside rows ordered by
// UID, which may hold UIDs that were not asked for (a query over the span
// of a dense set).
type UIDCursor struct {
	uids []mailstore.UID
	j    int // uids[j] is the next wanted UID
}

// NewUIDCursor returns a cursor over uids, which must be ascending.
func NewUIDCursor(uids []mailstore.UID) UIDCursor { return UIDCursor{uids: uids} }

// Next reports whether the row of uid was asked for, and done when no
// later row can be (the caller stops reading rows).
func (c *UIDCursor) Next(uid mailstore.UID) (wanted, done bool) {
	for c.j < len(c.uids) && c.uids[c.j] < uid {
		c.j++
	}
	if c.j == len(c.uids) {
		return false, true
	}
	return c.uids[c.j] == uid, false
}
