package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Userdb answers userdb lookups (a user's extra settings such as
// quota_rule) from the passdb passwd-files, which are Roost's userdb too.
// It needs no authentication state, so the store and the command-line
// tools can build one from the configuration alone. Safe for concurrent
// use; each file is re-read when it changes.
type Userdb struct {
	passdbs []*passdb
}

// NewUserdb opens the passwd-files of dbs (as New does).
func NewUserdb(dbs []PassdbConfig) (*Userdb, error) {
	u := &Userdb{}
	for i, pc := range dbs {
		db, err := newPassdb(pc)
		if err != nil {
			return nil, fmt.Errorf("auth: passdb %d: %w", i+1, err)
		}
		u.passdbs = append(u.passdbs, db)
	}
	return u, nil
}

// ErrUserdbTempFail is returned by Fields when a passwd-file cannot be
// read and no other one has the user.
var ErrUserdbTempFail = errors.New("userdb lookup failed temporarily")

// Fields returns the userdb fields of account user from the first
// passwd-file that has it (looked up with that file's username_format, as
// a login would), and whether one has it. Userdb fields are the extra
// fields of the 7th column: "userdb_quota_rule=*:storage=2G" gives
// "quota_rule"; a field without the prefix counts too (Dovecot's
// passwd-file userdb reads both), the prefixed spelling wins. An account
// whose name came from a "user" extra field is found only under that name
// if the file has an entry for it.
func (u *Userdb) Fields(user string) (map[string]string, bool, error) {
	tempfail := false
	for _, db := range u.passdbs {
		e, ok, err := db.file.Lookup(db.format.apply(user))
		if err != nil {
			tempfail = true
			continue
		}
		if !ok {
			continue
		}
		fields := map[string]string{}
		for k, v := range e.Extra {
			if _, prefixed := e.Extra["userdb_"+k]; !prefixed {
				fields[k] = v
			}
		}
		for k, v := range e.Extra {
			if name, ok := strings.CutPrefix(k, "userdb_"); ok && name != "" {
				fields[name] = v
				delete(fields, k)
			}
		}
		return fields, true, nil
	}
	if tempfail {
		return nil, false, ErrUserdbTempFail
	}
	return nil, false, nil
}
