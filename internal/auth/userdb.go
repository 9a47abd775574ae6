package auth

import (
	"cmp"
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
	userdbs []*passdb // userdb { driver = passwd-file } files
}

// NewUserdb opens the passwd-files of the passdbs and of the userdbs
// (userdb sections with driver passwd-file; only Path and the
// username_format option are used).
func NewUserdb(passdbs, userdbs []PassdbConfig) (*Userdb, error) {
	u := &Userdb{}
	for i, pc := range passdbs {
		db, err := newPassdb(pc)
		if err != nil {
			return nil, fmt.Errorf("auth: passdb %d: %w", i+1, err)
		}
		u.passdbs = append(u.passdbs, db)
	}
	for i, pc := range userdbs {
		pc.Options = map[string]string{"username_format": cmp.Or(pc.Options["username_format"], "%u")}
		db, err := newPassdb(pc)
		if err != nil {
			return nil, fmt.Errorf("auth: userdb %d: %w", i+1, err)
		}
		u.userdbs = append(u.userdbs, db)
	}
	return u, nil
}

// ErrUserdbTempFail is returned by Fields when a passwd-file cannot be
// read and no other one has the user.
var ErrUserdbTempFail = errors.New("userdb lookup failed temporarily")

// Fields returns the userdb fields of account user, and whether a file
// has the user. From the first passdb file that has it (looked up with
// that file's username_format, as a login would): the extra fields of the
// 7th column, "userdb_quota_rule=*:storage=2G" giving "quota_rule"; a
// field without the prefix counts too (a passwd-file serving as passdb and
// userdb, as in Dovecot), the prefixed spelling wins. Then the first
// userdb file that has the user: its extra fields replace those of the
// same name, as Dovecot's userdb lookup result does. An account whose
// name came from a "user" extra field is found only under that name if a
// file has an entry for it.
func (u *Userdb) Fields(user string) (map[string]string, bool, error) {
	fields, found, err := lookupFields(u.passdbs, user)
	if err != nil {
		return nil, false, err
	}
	more, ok, err := lookupFields(u.userdbs, user)
	if err != nil {
		return nil, false, err
	}
	if ok {
		if fields == nil {
			fields = map[string]string{}
		}
		for k, v := range more {
			fields[k] = v
		}
		found = true
	}
	return fields, found, nil
}

// lookupFields is Fields for one list of files.
func lookupFields(dbs []*passdb, user string) (map[string]string, bool, error) {
	tempfail := false
	for _, db := range dbs {
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
