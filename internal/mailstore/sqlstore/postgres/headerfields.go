package postgres

import (
	"context"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderFieldsReader = (*account)(nil)

// HeaderFields implements mailstore.HeaderFieldsReader from the
// header_fields column of contents (migration 4), filled at append and
// import (sqlstore.CacheData), through readKept: one query answers the
// whole batch and no body is read from the blob store. Rows stored before
// migration 4 (NULL) are filled lazily, as SearchFields fills its column:
// the header is read from the body once, its kept lines given to fn and
// written to the row. Headers over sqlstore.SearchHeaderMax, kept lines
// over mailstore.KeptLinesMax and rows kept under another field list are
// reported as not kept (nil).
func (a *account) HeaderFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, kept []byte) error) error {
	return readKept(ctx, a, &headerFieldsColumn, sqlstore.KeptLinesCodec{}, mbox, uids, fn)
}

var headerFieldsColumn = newKeptColumn(&sqlstore.HeaderFieldsColumn)
