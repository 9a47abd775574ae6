package config

import "fmt"

// MailFsync is the mail_fsync setting (Dovecot's name and values): when
// the mail store fsyncs its commits. The zero value is optimized, the
// default, as in Dovecot. What each value means in Roost is documented on
// sqlstore.Fsync and in README.md (Durability).
type MailFsync int

const (
	// FsyncOptimized: what adds or removes mail is fsynced before it is
	// acknowledged; flag-only changes are not.
	FsyncOptimized MailFsync = iota
	// FsyncAlways: every commit is fsynced.
	FsyncAlways
	// FsyncNever: nothing is fsynced (tests and benchmarks only).
	FsyncNever
)

var mailFsyncNames = [...]string{FsyncOptimized: "optimized", FsyncAlways: "always", FsyncNever: "never"}

func (m MailFsync) String() string {
	if m >= 0 && int(m) < len(mailFsyncNames) {
		return mailFsyncNames[m]
	}
	return fmt.Sprintf("MailFsync(%d)", int(m))
}

// parseMailFsync reads a mail_fsync value; Dovecot accepts only these
// three, in lower case.
func parseMailFsync(s string) (MailFsync, error) {
	for i, n := range mailFsyncNames {
		if s == n {
			return MailFsync(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not optimized, always or never", s)
}

func init() {
	settings = append(settings,
		setting{name: "mail_fsync", def: "optimized",
			set: func(_ *decoder, c *Config, e *Entry) (err error) {
				c.MailFsync, err = parseMailFsync(e.Value)
				return err
			},
			get: func(c *Config) string { return c.MailFsync.String() }},
	)
}

// mailFsync warns about mail_fsync = never, which can lose mail the
// server has acknowledged (APPEND OK, LMTP 250) if the machine loses power
// or the OS crashes.
func (v *validator) mailFsync() {
	if v.c.MailFsync == FsyncNever {
		v.danger("mail_fsync", "never: nothing is fsynced, so a power loss or OS crash can lose mail that was "+
			"already acknowledged (APPEND OK, LMTP 250) and recent changes. Use the default mail_fsync = optimized "+
			"outside tests and benchmarks")
	}
}
