package sqlite

import (
	"context"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderFieldsReader = (*account)(nil)

// HeaderFields implements mailstore.HeaderFieldsReader from the
// header_fields column of message_cache (migration 7), filled at append
// and import (sqlstore.CacheData), through readKept: one read transaction
// and one query answer the whole batch, and fn runs on each row as it is
// read, the lines aliasing the row's bytes: no message file is opened.
//
// Rows stored before migration 7 (NULL) are filled lazily, as
// SearchFields fills its column: the message's header is read from its
// file, its kept lines given to fn and written to the row after the read
// transaction. Headers over sqlstore.SearchHeaderMax, kept lines over
// mailstore.KeptLinesMax and rows kept under another field list are
// reported as not kept (nil).
func (a *account) HeaderFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, kept []byte) error) error {
	return readKept(ctx, a, &headerFieldsColumn, sqlstore.KeptLinesCodec{}, mbox, uids, fn)
}

var headerFieldsColumn = newKeptColumn(&sqlstore.HeaderFieldsColumn)
