package sqlstore

import (
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// MaxUID is the largest UID (RFC 9051 section 2.3.1.1: a UID is an
// nz-number, 32 bits).
const MaxUID = 1<<32 - 1

// InternalDate returns the internal date of an appended message (RFC 9051
// section 2.3.3): d, or now if the client gave none, and its zone offset
// in seconds east of UTC, which the stores keep beside the Unix time.
func InternalDate(d time.Time) (time.Time, int) {
	if d.IsZero() {
		d = time.Now()
	}
	_, tz := d.Zone()
	return d, tz
}

// ImportUID chooses the UID of an imported message: the source's UID want
// when it is not below uidNext (so that repeated imports keep the source's
// UIDs), otherwise uidNext. KindLimit when the mailbox has no UID left.
func ImportUID(want, uidNext mailstore.UID) (mailstore.UID, error) {
	if uidNext >= MaxUID {
		return 0, mailstore.Errorf(mailstore.KindLimit, "mailbox has run out of UIDs")
	}
	if want >= uidNext && want < MaxUID {
		return want, nil
	}
	return uidNext, nil
}

// ImportedBefore is the KindExists error for a source key already in the
// import ledger.
func ImportedBefore(key string) error {
	return mailstore.Errorf(mailstore.KindExists, "imported before: %s", key)
}
