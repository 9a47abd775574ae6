package app

import (
	"log/slog"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore"
)

// QuotaFunc returns the store's quota limits per user: the configured
// quota_rule settings, replaced per user by quota_rule fields in the
// passwd-file (userdb_quota_rule=*:storage=2G in the 7th column) or in a
// userdb passwd-file (quota_rule=...), as Dovecot's userdb fields override
// plugin settings. The files are re-read
// when they change, so a changed user quota applies to the next delivery
// or APPEND without a restart. A passwd-file that cannot be read or a
// user rule that does not parse is logged and the default limits apply.
func QuotaFunc(cfg *config.Config, log *slog.Logger) mailstore.QuotaFunc {
	def := cfg.DefaultQuota()
	var dbs []auth.PassdbConfig
	for _, p := range cfg.Passdbs {
		dbs = append(dbs, auth.PassdbConfig{Driver: p.Driver, Path: p.Path, Options: p.Options})
	}
	var udbs []auth.PassdbConfig
	for _, u := range cfg.Userdbs {
		if u.Driver == "passwd-file" {
			udbs = append(udbs, auth.PassdbConfig{Driver: u.Driver, Path: u.Path, Options: u.Options})
		}
	}
	udb, err := auth.NewUserdb(dbs, udbs)
	if err != nil {
		log.Warn("quota: per-user quota rules unavailable, default limits apply to everyone", "err", err)
		return func(string) mailstore.Quota { return def }
	}
	return func(user string) mailstore.Quota {
		fields, ok, err := udb.Fields(user)
		if err != nil {
			log.Warn("quota: userdb lookup failed, default limits apply", "user", user, "err", err)
			return def
		}
		if !ok || len(fields) == 0 {
			return def
		}
		q, err := cfg.QuotaLimits(fields)
		if err != nil {
			log.Warn("quota: invalid quota rule in the user's extra fields, default limits apply", "user", user, "err", err)
			return def
		}
		return q
	}
}
