package sqlstore

import (
	"slices"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// MetaColumns are the columns of a message row that make a
// mailstore.MessageMeta, in the order MetaScanner.Scan reads them. Both
// backends name them alike (internal_date in Unix seconds, internal_tz as
// the zone's offset in seconds east of UTC).
const MetaColumns = `uid, modseq, flags, keywords, internal_date, internal_tz, size`

// Row is one result row of either driver (*sql.Rows, pgx.Rows).
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set of either driver; its Close stays with the caller,
// as the two drivers' Close differ.
type Rows interface {
	Row
	Next() bool
	Err() error
}

// MetaScanner scans MessageMeta rows, sharing one *time.Location per
// zone offset between rows (a mailbox has few distinct offsets).
type MetaScanner struct {
	zones map[int]*time.Location
}

// Scan reads one row of MetaColumns. It also returns the stored flag bits
// and keyword list, which STORE needs to compute the new flags.
func (ms *MetaScanner) Scan(row Row) (m mailstore.MessageMeta, bits int64, kws string, err error) {
	var uid, modseq, date, tz int64
	if err := row.Scan(&uid, &modseq, &bits, &kws, &date, &tz, &m.Size); err != nil {
		return m, 0, "", err
	}
	m.UID = mailstore.UID(uid)
	m.ModSeq = mailstore.ModSeq(modseq)
	m.Flags = FlagList(bits, kws)
	m.InternalDate = time.Unix(date, 0).In(ms.zone(int(tz)))
	return m, bits, kws, nil
}

func (ms *MetaScanner) zone(offset int) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	if l, ok := ms.zones[offset]; ok {
		return l
	}
	if ms.zones == nil {
		ms.zones = map[int]*time.Location{}
	}
	l := time.FixedZone("", offset)
	ms.zones[offset] = l
	return l
}

// ScanMetas reads all rows of MetaColumns; sizeHint is the expected count.
// The caller closes rows.
func ScanMetas(rows Rows, sizeHint int) ([]mailstore.MessageMeta, error) {
	out := make([]mailstore.MessageMeta, 0, sizeHint)
	var ms MetaScanner
	for rows.Next() {
		m, _, _, err := ms.Scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UIDSpan returns the smallest and largest of uids, which must not be
// empty, and whether they are dense: fewer than twice as many UIDs lie
// between them as were asked for. For a dense set the stores read the
// range with one primary-key range scan and drop the rows not asked for
// (KeepAsked), which is cheaper than looking each UID up.
func UIDSpan(uids []mailstore.UID) (lo, hi mailstore.UID, dense bool) {
	lo, hi = uids[0], uids[0]
	for _, u := range uids[1:] {
		lo, hi = min(lo, u), max(hi, u)
	}
	return lo, hi, int64(hi)-int64(lo) < 2*int64(len(uids))
}

// KeepAsked returns ms, the rows of a range scan from lo to hi in UID
// order, without those whose UID is not in uids.
func KeepAsked(ms []mailstore.MessageMeta, uids []mailstore.UID, lo, hi mailstore.UID) []mailstore.MessageMeta {
	if int64(len(ms)) == int64(hi)-int64(lo)+1 && len(ms) == len(uids) {
		return ms // every UID of the range, each asked for once
	}
	want := slices.Clone(uids)
	slices.Sort(want)
	return slices.DeleteFunc(ms, func(m mailstore.MessageMeta) bool {
		_, found := slices.BinarySearch(want, m.UID)
		return !found
	})
}

// AddKeywords adds the keywords of a stored keyword list to set, each
// once; the caller sorts set when done (SELECT's FLAGS response lists the
// keywords in use in a mailbox).
func AddKeywords(set []string, stored string) []string {
	for _, k := range SplitKeywords(stored) {
		if !slices.Contains(set, k) {
			set = append(set, k)
		}
	}
	return set
}
