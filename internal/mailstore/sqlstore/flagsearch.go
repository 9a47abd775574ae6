package sqlstore

import (
	"github.com/roost-mail/roost/internal/mailstore"
)

// SystemFlagMasks returns the flag bits of set and of clear for
// mailstore.SystemFlagSearcher: a message matches when (flags & set) =
// set and (flags & clear) = 0. KindInvalid for a keyword or an invalid
// flag.
func SystemFlagMasks(set, clear []string) (setBits, clearBits int64, err error) {
	for i, list := range [][]string{set, clear} {
		bits, kws, err := ParseFlags(list)
		if err != nil {
			return 0, 0, err
		}
		if len(kws) > 0 {
			return 0, 0, mailstore.Errorf(mailstore.KindInvalid, "not a system flag: %s", kws[0])
		}
		if i == 0 {
			setBits = bits
		} else {
			clearBits = bits
		}
	}
	return setBits, clearBits, nil
}
