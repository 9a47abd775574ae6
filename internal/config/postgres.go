package config

import (
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// parsePostgresLocation checks the connection string of
// "mail_location = postgres:CONNINFO": a postgres:// (or postgresql://) URL
// or libpq key=value pairs, as pgx reads them (environment variables such
// as PGPASSWORD and ~/.pgpass apply as with psql). Its errors never quote
// the string, which may hold a password.
func parsePostgresLocation(dsn string) (MailLocation, error) {
	const use = " (use postgres:postgres://user@host/dbname?sslmode=verify-full or postgres:host=... dbname=...)"
	if strings.TrimSpace(dsn) == "" {
		return MailLocation{}, errors.New("postgres: missing connection string" + use)
	}
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		return MailLocation{}, errors.New("postgres: invalid connection string" + use)
	}
	return MailLocation{Driver: "postgres", DSN: dsn}, nil
}

// kvPassword matches a password in key=value form: password=secret or
// password='quoted \' secret'.
var kvPassword = regexp.MustCompile(`(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactConnString replaces the password of a connection string by
// "xxxxx".
func redactConnString(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "(invalid URL)"
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// postgresLocation reports a postgres: mail_location that sends mail and
// the database password over the network without a verified TLS
// connection (sslmode other than verify-full/verify-ca to a host that is
// not local), and a password written in a configuration file that every
// local user can read.
func (v *validator) postgresLocation() {
	cfg, err := pgconn.ParseConfig(v.c.MailLocation.DSN)
	if err != nil {
		return // reported when parsed
	}
	if !localHost(cfg.Host) && !verifiedTLS(cfg) {
		v.danger("mail_location", "the connection to PostgreSQL at %s is not TLS with a verified certificate: "+
			"mail and the database password can be read or altered on the network; add sslmode=verify-full "+
			"(and sslrootcert=...) to the connection string", cfg.Host)
	}
	if cfg.Password != "" && strings.Contains(v.c.MailLocation.DSN, cfg.Password) {
		if p, ok := v.c.origin["mail_location"]; ok && p.file != "" {
			if fi, err := v.stat(p.file); err == nil && fi.Mode().Perm()&0o004 != 0 {
				v.danger("mail_location", "%s holds the database password and is readable by every local user (mode %04o): "+
					"chmod 0640 (group of the roost user), or put the password in ~/.pgpass or PGPASSWORD", p.file, fi.Mode().Perm())
			}
		}
	}
}

// localHost reports whether host is a Unix socket directory or loopback.
func localHost(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// verifiedTLS reports whether every way pgx may connect uses TLS that
// checks the server certificate (sslmode=verify-ca or verify-full).
func verifiedTLS(cfg *pgconn.Config) bool {
	ok := func(t *tls.Config) bool {
		return t != nil && (!t.InsecureSkipVerify || t.VerifyPeerCertificate != nil || t.VerifyConnection != nil)
	}
	if !ok(cfg.TLSConfig) {
		return false
	}
	for _, f := range cfg.Fallbacks {
		if !ok(f.TLSConfig) {
			return false
		}
	}
	return true
}
