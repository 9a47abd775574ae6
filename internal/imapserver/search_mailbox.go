package imapserver

import (
	"context"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// SearchMailbox evaluates a search key over the current messages of a
// mailbox, as SEARCH does in a session that has just selected it read-only
// with IMAP4rev2 semantics: RECENT and NEW match nothing, "$" (SEARCHRES)
// matches nothing, sequence numbers are those of the current messages.
// charset is SEARCH's CHARSET ("" for none). It returns the matching UIDs
// in order. The admin CLI uses it (roost expunge).
func SearchMailbox(ctx context.Context, acct mailstore.Account, mbox mailstore.Mailbox, charset string, key *imap.SearchKey) ([]mailstore.UID, error) {
	if err := checkCharset(charset); err != nil {
		return nil, err
	}
	mv, err := acct.View(ctx, mbox.ID)
	if err != nil {
		return nil, err
	}
	v := newSelectedView(mbox, true, mv, false, 0)
	env := &searchEnv{v: v, now: time.Now()}
	return env.search(ctx, acct, mbox.ID, key)
}
