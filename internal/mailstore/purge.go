package mailstore

import "context"

// AccountPurger is an optional Store capability for `roost user del
// --purge`: removing all mail of an account. Callers check for it with a
// type assertion.
type AccountPurger interface {
	// PurgeAccount removes every mailbox, message and piece of state the
	// store holds for user. It fails with KindInUse while the account is
	// open in this process (a session or a delivery holds it), so that
	// nothing is removed under a running transaction; an account that is
	// open only because it lingers after its last use is closed first.
	// KindNotFound if the store has nothing for user. Once it returns
	// nil, a later Store.Account(user) starts a new, empty account.
	PurgeAccount(ctx context.Context, user string) error
}
