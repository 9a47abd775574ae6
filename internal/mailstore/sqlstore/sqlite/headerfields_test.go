package sqlite

import (
	"context"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// TestHeaderFieldsMigration: an account whose messages were stored before
// migration 7 keeps working: the migration adds the column, an old
// message's kept lines are made from its header at its first
// HeaderFields read and kept, messages stored afterwards have them from
// the start, and a header over SearchHeaderMax is reported as not kept
// (and never read for it) (testKeptMigration).
func TestHeaderFieldsMigration(t *testing.T) {
	testKeptMigration(t, sqlstore.HeaderFieldsColumn,
		[]string{`ALTER TABLE message_cache DROP COLUMN header_fields`, `UPDATE schema_version SET version = 6`},
		"Received: x\r\nSubject: old\r\n folded\r\nFrom: a@example.org\r\n\r\nx\r\n",
		"Subject: old\r\n folded\r\nFrom: a@example.org\r\n\r\n", "Subject: New\r\n\r\n",
		func(ctx context.Context, acct mailstore.Account, mbox mailstore.MailboxID, uids []mailstore.UID, got map[mailstore.UID]string) error {
			return acct.(mailstore.HeaderFieldsReader).HeaderFields(ctx, mbox, uids, func(uid mailstore.UID, kept []byte) error {
				if kept == nil {
					got[uid] = "not kept"
				} else {
					got[uid] = string(kept)
				}
				return nil
			})
		})
}
