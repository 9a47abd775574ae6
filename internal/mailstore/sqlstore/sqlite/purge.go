package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/roost-mail/roost/internal/mailstore"
)

var _ mailstore.AccountPurger = (*Store)(nil)

// PurgeAccount implements mailstore.AccountPurger. The account directory
// is first renamed to a hidden name under st.mu (Account registers an
// account under the same lock before it opens the directory, so no opener
// can see a half-removed directory), then removed. Names starting with
// "." are never account directories (SafeName escapes a leading dot).
// Another process with the account open (roost deliver while the server
// is stopped) is not seen: callers remove the user from the passdb first,
// so that no new delivery starts.
func (st *Store) PurgeAccount(ctx context.Context, user string) error {
	dir, err := st.AccountDir(user)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return mailstore.Errorf(mailstore.KindUnavailable, "purge account: %v", err)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	trash := filepath.Join(st.accountsDir, ".purge-"+filepath.Base(dir)+"-"+hex.EncodeToString(rnd[:]))

	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return mailstore.Errorf(mailstore.KindUnavailable, "store is closed")
	}
	a := st.accounts[user]
	if a != nil && a.refs > 0 {
		st.mu.Unlock()
		return mailstore.Errorf(mailstore.KindInUse, "account %s is in use", user)
	}
	if a != nil {
		// Lingering after its last use (Options.IdleClose): take it out,
		// so that closeIfIdle leaves it alone, and close it below.
		delete(st.accounts, user)
		if a.idle != nil {
			a.idle.Stop()
		}
	}
	err = os.Rename(dir, trash)
	st.mu.Unlock()
	if a != nil {
		a.closeNow()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return mailstore.Errorf(mailstore.KindNotFound, "no mail stored for %s", user)
	case err != nil:
		return mailstore.Internal("purge account: move aside", err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return mailstore.Internal("purge account: remove "+trash, err)
	}
	if d, err := os.Open(st.accountsDir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
