package sqlstore

import "github.com/roost-mail/roost/internal/mailstore"

// CheckQuota fails with KindOverQuota (RFC 9208 section 4.2) if adding
// storage octets in messages messages would take the account over the
// limits q. usage reads the account's usage counter; it is not called
// when q has no limits. The backends call it in the write transaction
// that then adds the messages, with the counter locked as their
// concurrency model requires, so that the check and the update cannot
// interleave with another delivery's.
func CheckQuota(q mailstore.Quota, storage, messages int64, usage func() (mailstore.Usage, error)) error {
	if q == (mailstore.Quota{}) {
		return nil
	}
	u, err := usage()
	if err != nil {
		return err
	}
	if q.Exceeds(u, storage, messages) {
		return mailstore.Errorf(mailstore.KindOverQuota, "Quota exceeded (mailbox for user is full)")
	}
	return nil
}
