package postgres

import (
	"context"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// TestHeaderFieldsFill: messages stored before migration 4 (their
// header_fields NULL) get their kept lines from the header at their first
// HeaderFields read, equal to what an append keeps, and keep them; a
// header over SearchHeaderMax is reported as not kept (testKeptFill).
func TestHeaderFieldsFill(t *testing.T) {
	testKeptFill(t, sqlstore.HeaderFieldsColumn,
		[]string{"Received: x\r\nSubject: one\r\n folded\r\nTo: a@x\r\n\r\nx\r\n", "X-TUID: t\r\n\r\nx\r\n"},
		[]string{"Subject: one\r\n folded\r\nTo: a@x\r\n\r\n", "X-TUID: t\r\n\r\n"},
		func(ctx context.Context, acc mailstore.Account, mbox mailstore.MailboxID, uids []mailstore.UID, got map[mailstore.UID]string) error {
			return acc.(mailstore.HeaderFieldsReader).HeaderFields(ctx, mbox, uids, func(uid mailstore.UID, kept []byte) error {
				if kept == nil {
					got[uid] = "not kept"
				} else {
					got[uid] = string(kept)
				}
				return nil
			})
		})
}
