package config

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/roost-mail/roost/internal/tlsutil"
)

// setting describes one top-level setting Roost implements.
type setting struct {
	name string
	// def is the default in configuration syntax; Default decodes it, and
	// Dump -n compares against it.
	def string
	// list settings may refer to their own previous value with $name
	// (Dovecot: "protocols = $protocols imap").
	list bool
	// file settings are written `<path`; get returns the path.
	file bool
	// set decodes e.Value into c. e.File is "" for defaults.
	set func(d *decoder, c *Config, e *Entry) error
	// get returns the current value in configuration syntax (unquoted).
	get func(c *Config) string
}

// settings is the table of implemented top-level settings, in Dump order.
// Defaults are Dovecot's unless the comment says otherwise.
var settings = []setting{
	{name: "protocols", def: "imap pop3 lmtp", list: true,
		set: func(_ *decoder, c *Config, e *Entry) error {
			words := splitList(e.Value)
			if len(words) == 1 && words[0] == "none" {
				c.Protocols = nil
				return nil
			}
			var out []string
			for _, w := range words {
				switch w {
				case "imap", "pop3", "lmtp":
					if !slices.Contains(out, w) {
						out = append(out, w)
					}
				default:
					return fmt.Errorf("protocol %q is not supported (use imap, pop3, lmtp or none)", w)
				}
			}
			c.Protocols = out
			return nil
		},
		get: func(c *Config) string {
			if len(c.Protocols) == 0 {
				return "none"
			}
			return strings.Join(c.Protocols, " ")
		}},
	{name: "listen", def: "*, ::", list: true,
		set: func(_ *decoder, c *Config, e *Entry) error {
			words := splitList(e.Value)
			for _, w := range words {
				if strings.ContainsAny(w, "\"'<>{}") {
					return fmt.Errorf("invalid address %q", w)
				}
			}
			c.Listen = words
			return nil
		},
		get: func(c *Config) string { return strings.Join(c.Listen, ", ") }},
	// Roost default: unset (Dovecot autodetects mail; Roost must be told).
	{name: "mail_location", def: "",
		set: func(_ *decoder, c *Config, e *Entry) error {
			ml, err := parseMailLocation(e.Value, filepath.Dir(e.File))
			if err != nil {
				return err
			}
			c.MailLocation = ml
			return nil
		},
		get: func(c *Config) string { return c.MailLocation.String() }},
	{name: "ssl", def: "yes",
		set: func(_ *decoder, c *Config, e *Entry) error {
			switch e.Value {
			case "no", "yes", "required":
				c.SSL = e.Value
				return nil
			}
			return fmt.Errorf("invalid value %q (use no, yes or required)", e.Value)
		},
		get: func(c *Config) string { return c.SSL }},
	{name: "ssl_cert", def: "", file: true,
		set: func(d *decoder, c *Config, e *Entry) error { return d.pemFile(&c.SSLCert, e) },
		get: func(c *Config) string { return c.SSLCert.Path }},
	{name: "ssl_key", def: "", file: true,
		set: func(d *decoder, c *Config, e *Entry) error { return d.pemFile(&c.SSLKey, e) },
		get: func(c *Config) string { return c.SSLKey.Path }},
	{name: "ssl_min_protocol", def: "TLSv1.2",
		set: func(_ *decoder, c *Config, e *Entry) error {
			for _, p := range tlsVersions {
				if p.name == e.Value {
					c.SSLMinProtocol = p.version
					return nil
				}
			}
			if e.Value == "SSLv3" || e.Value == "ANY" {
				return fmt.Errorf("%s is not supported (use TLSv1.2 or TLSv1.3)", e.Value)
			}
			return fmt.Errorf("invalid value %q (use TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)", e.Value)
		},
		get: func(c *Config) string {
			for _, p := range tlsVersions {
				if p.version == c.SSLMinProtocol {
					return p.name
				}
			}
			return fmt.Sprintf("unknown-0x%04x", c.SSLMinProtocol)
		}},
	{name: "ssl_curve_list", def: "",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.SSLCurveList, err = tlsutil.ParseCurveList(e.Value)
			return err
		},
		get: func(c *Config) string { return tlsutil.FormatCurveList(c.SSLCurveList) }},
	{name: "ssl_cipher_list", def: "",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.SSLCipherList, err = tlsutil.ParseCipherList(e.Value)
			return err
		},
		get: func(c *Config) string { return tlsutil.FormatCipherList(c.SSLCipherList) }},
	{name: "disable_plaintext_auth", def: "yes",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.DisablePlaintextAuth, err = parseBool(e.Value)
			return err
		},
		get: func(c *Config) string { return formatBool(c.DisablePlaintextAuth) }},
	{name: "auth_mechanisms", def: "plain", list: true,
		set: func(_ *decoder, c *Config, e *Entry) error {
			var out []string
			for _, w := range splitList(e.Value) {
				w = strings.ToLower(w)
				if !slices.Contains(dovecotMechanisms, w) {
					return fmt.Errorf("unknown auth mechanism %q", w)
				}
				if !slices.Contains(out, w) {
					out = append(out, w)
				}
			}
			c.AuthMechanisms = out
			return nil
		},
		get: func(c *Config) string { return strings.Join(c.AuthMechanisms, " ") }},
	{name: "auth_failure_delay", def: "2 secs",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.AuthFailureDelay, err = parseDuration(e.Value)
			return err
		},
		get: func(c *Config) string { return formatDuration(c.AuthFailureDelay) }},
	// Roost's own: the per-address login penalty (Dovecot's anvil auth
	// penalty, always on there except for login_trusted_networks).
	// docs/SECURITY.md "Password guessing".
	{name: "auth_penalty", def: "yes",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.AuthPenalty, err = parseBool(e.Value)
			return err
		},
		get: func(c *Config) string { return formatBool(c.AuthPenalty) }},
	{name: "auth_verbose", def: "no",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.AuthVerbose, err = parseBool(e.Value)
			return err
		},
		get: func(c *Config) string { return formatBool(c.AuthVerbose) }},
	{name: "auth_verbose_passwords", def: "no",
		set: func(_ *decoder, c *Config, e *Entry) error {
			v, err := parseVerbosePasswords(e.Value)
			c.AuthVerbosePasswords = v
			return err
		},
		get: func(c *Config) string { return c.AuthVerbosePasswords }},
	{name: "auth_debug", def: "no",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.AuthDebug, err = parseBool(e.Value)
			return err
		},
		get: func(c *Config) string { return formatBool(c.AuthDebug) }},
	{name: "auth_debug_passwords", def: "no",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.AuthDebugPasswords, err = parseBool(e.Value)
			return err
		},
		get: func(c *Config) string { return formatBool(c.AuthDebugPasswords) }},
	{name: "auth_anonymous_username", def: "anonymous",
		set: func(_ *decoder, c *Config, e *Entry) error {
			if e.Value == "" {
				return fmt.Errorf("must not be empty (default anonymous)")
			}
			c.AuthAnonymousUsername = e.Value
			return nil
		},
		get: func(c *Config) string { return c.AuthAnonymousUsername }},
	// Applied to every login name and LMTP/deliver recipient before the
	// passdb lookup; the result is the account name (Dovecot's default).
	{name: "auth_username_format", def: "%Lu",
		set: func(_ *decoder, c *Config, e *Entry) error {
			if e.Value == "" {
				return fmt.Errorf("must not be empty (default %%Lu)")
			}
			c.AuthUsernameFormat = e.Value
			return nil
		},
		get: func(c *Config) string { return c.AuthUsernameFormat }},
	// Roost default; Dovecot's is "Dovecot ready.".
	{name: "login_greeting", def: "Roost ready.",
		set: func(_ *decoder, c *Config, e *Entry) error {
			c.LoginGreeting = e.Value
			return nil
		},
		get: func(c *Config) string { return c.LoginGreeting }},
	{name: "pop3_uidl_format", def: "%08Xu%08Xv",
		set: func(_ *decoder, c *Config, e *Entry) error {
			if _, err := CheckUIDLFormat(e.Value); err != nil {
				return err
			}
			c.POP3UIDLFormat = e.Value
			return nil
		},
		get: func(c *Config) string { return c.POP3UIDLFormat }},
	{name: "mail_max_userip_connections", def: "10",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.MailMaxUserIPConnections, err = parseUint(e.Value, 1<<20)
			return err
		},
		get: func(c *Config) string { return fmt.Sprint(c.MailMaxUserIPConnections) }},
	// Roost's own (Dovecot has no per-IP cap on connections that have not
	// logged in; its service client_limit/process_limit are totals): IMAP
	// and POP3 connections not logged in yet, per IPv4 address or IPv6
	// /64, and in total. 0 means no cap. docs/SECURITY.md.
	{name: "login_max_preauth_per_ip", def: "10",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.LoginMaxPreauthPerIP, err = parseUint(e.Value, 1<<20)
			return err
		},
		get: func(c *Config) string { return fmt.Sprint(c.LoginMaxPreauthPerIP) }},
	{name: "login_max_preauth", def: "1000",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.LoginMaxPreauth, err = parseUint(e.Value, 1<<20)
			return err
		},
		get: func(c *Config) string { return fmt.Sprint(c.LoginMaxPreauth) }},
	// Dovecot's quota plugin setting (unlimited by default there): the
	// mailboxes one account may have; IMAP CREATE beyond it is NO [LIMIT].
	// Roost defaults to 10000; 0 means no limit.
	{name: "quota_mailbox_count", def: "10000",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.QuotaMailboxCount, err = parseUint(e.Value, 1<<30)
			return err
		},
		get: func(c *Config) string { return fmt.Sprint(c.QuotaMailboxCount) }},
	// Dovecot 2.3 keeps this in plugin { } for its quota plugin, with 0
	// (unlimited) as default; Roost reads it at the top level or in
	// plugin { }, and defaults to 100M so that no client can make the
	// server spool an endless message. It caps APPEND (APPENDLIMIT,
	// RFC 7889), roost deliver and later LMTP.
	{name: "quota_max_mail_size", def: "100M",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.MaxMailSize, err = parseSize(e.Value)
			return err
		},
		get: func(c *Config) string { return formatSize(c.MaxMailSize) }},
	// LMTP: "user+detail@domain" is delivered to user; each character of
	// the value separates a detail ("" disables).
	{name: "recipient_delimiter", def: "+",
		set: func(_ *decoder, c *Config, e *Entry) error {
			c.RecipientDelimiter = e.Value
			return nil
		},
		get: func(c *Config) string { return c.RecipientDelimiter }},
	{name: "lmtp_save_to_detail_mailbox", def: "no",
		set: func(_ *decoder, c *Config, e *Entry) (err error) {
			c.LMTPSaveToDetailMailbox, err = parseBool(e.Value)
			return err
		},
		get: func(c *Config) string { return formatBool(c.LMTPSaveToDetailMailbox) }},
	// Directory of unix_listener sockets written as relative paths. Roost
	// default /run/roost; Dovecot's is /var/run/dovecot.
	{name: "base_dir", def: "/run/roost",
		set: func(_ *decoder, c *Config, e *Entry) error {
			if e.Value == "" || !filepath.IsAbs(e.Value) {
				return fmt.Errorf("%q: must be an absolute path", e.Value)
			}
			c.BaseDir = filepath.Clean(e.Value)
			return nil
		},
		get: func(c *Config) string { return c.BaseDir }},
	// Privileges: started as root, Roost binds its ports and then runs as
	// mail_uid (with mail_gid) if set, else default_internal_user. Roost
	// default "roost"; Dovecot's is "dovecot".
	{name: "default_internal_user", def: "roost",
		set: func(_ *decoder, c *Config, e *Entry) error {
			c.DefaultInternalUser = e.Value
			return nil
		},
		get: func(c *Config) string { return c.DefaultInternalUser }},
	{name: "mail_uid", def: "",
		set: func(_ *decoder, c *Config, e *Entry) error {
			c.MailUID = e.Value
			return nil
		},
		get: func(c *Config) string { return c.MailUID }},
	{name: "mail_gid", def: "",
		set: func(_ *decoder, c *Config, e *Entry) error {
			c.MailGID = e.Value
			return nil
		},
		get: func(c *Config) string { return c.MailGID }},
}

// pluginSettings are the settings Roost implements that Dovecot 2.3 writes
// inside plugin { }; there they mean the same as at the top level.
var pluginSettings = []string{"quota_max_mail_size", "quota_mailbox_count"}

func lookupSetting(name string) *setting {
	for i := range settings {
		if settings[i].name == name {
			return &settings[i]
		}
	}
	return nil
}

var tlsVersions = []struct {
	name    string
	version uint16
}{
	{"TLSv1", tls.VersionTLS10},
	{"TLSv1.1", tls.VersionTLS11},
	{"TLSv1.2", tls.VersionTLS12},
	{"TLSv1.3", tls.VersionTLS13},
}

// dovecotMechanisms are the SASL mechanism names Dovecot knows; Validate
// accepts only implementedMechanisms.
var dovecotMechanisms = []string{
	"plain", "login", "anonymous", "cram-md5", "digest-md5", "apop",
	"scram-sha-1", "scram-sha-256", "external", "oauthbearer", "xoauth2",
	"ntlm", "gssapi", "gss-spnego", "otp", "rpa", "winbind",
}

// implementedMechanisms are the mechanisms Roost's auth package serves.
var implementedMechanisms = []string{"plain", "login", "anonymous"}

// parseVerbosePasswords checks an auth_verbose_passwords value as Dovecot
// does and normalizes it: lower case, "yes" as "plain".
func parseVerbosePasswords(v string) (string, error) {
	form, num, hasNum := strings.Cut(strings.ToLower(v), ":")
	switch form {
	case "no":
		if hasNum {
			return "", fmt.Errorf("invalid value %q (no takes no :N)", v)
		}
		return form, nil
	case "yes":
		form = "plain"
	case "plain", "sha1":
	default:
		return "", fmt.Errorf("invalid value %q (use no, plain or sha1, optionally with :N as in sha1:8)", v)
	}
	if hasNum {
		n, err := parseUint(num, 1<<20)
		if err != nil || n == 0 {
			return "", fmt.Errorf("invalid value %q (the length after : must be a number above 0)", v)
		}
		return fmt.Sprintf("%s:%d", form, n), nil
	}
	return form, nil
}

// ignoredSettings are Dovecot top-level settings that real configurations
// (Debian's among them) set and that have no effect in Roost, with the
// reason shown in warnings. Keep this list small and honest: a setting
// whose absence of effect could surprise an administrator belongs in the
// unknown (error) category instead.
var ignoredSettings = map[string]string{
	"state_dir":                 "Roost keeps its state in mail_location",
	"instance_name":             "Roost runs as one process",
	"log_path":                  "Roost logs to stderr",
	"info_log_path":             "Roost logs to stderr",
	"first_valid_uid":           "Roost does not switch to system users",
	"default_login_user":        "Roost runs as one process, as default_internal_user (or mail_uid)",
	"mail_privileged_group":     "Roost runs as one user (default_internal_user or mail_uid) for every account",
	"ssl_dh":                    "Go's TLS uses ECDHE, not DH parameters",
	"ssl_prefer_server_ciphers": "Go's TLS picks the cipher suite itself (AES-GCM or ChaCha20-Poly1305 by the hardware of both sides)",
	"ssl_client_ca_dir":         "Roost makes no outgoing TLS connections",
	"ssl_client_ca_file":        "Roost makes no outgoing TLS connections",
}

// Dovecot section types that Roost accepts without effect. Their contents
// are kept in Config.Ignored.
var ignoredSections = map[string]string{
	"plugin":    "Roost implements no Dovecot plugins; of their settings only quota, quota_rule*, quota_full_tempfail, quota_max_mail_size and quota_mailbox_count apply",
	"namespace": "Roost has one fixed namespace (INBOX and the special-use folders)",
	"dict":      "Roost has no dict service",
}

// Dovecot filter sections: accepted only when empty (Debian's stock
// configuration has empty ones).
var filterSections = []string{"protocol", "local", "remote"}

// serviceNames are Dovecot's service names that Roost accepts without
// effect; roostServices are the ones it implements.
var (
	roostServices   = []string{"imap-login", "pop3-login", "lmtp"}
	dovecotServices = []string{
		"imap", "pop3", "submission", "submission-login", "auth", "auth-worker",
		"dict", "dict-async", "director", "doveadm", "indexer", "indexer-worker",
		"ipc", "log", "config", "anvil", "stats", "old-stats", "replicator",
		"aggregator", "managesieve", "managesieve-login", "quota-status",
		"imap-urlauth", "imap-urlauth-login", "imap-urlauth-worker",
		"imap-hibernate", "health-check", "dns-client", "tcpwrap",
	}
)

// serviceSettings are Dovecot's per-service process settings, with a check
// of their value. Roost is one process, so they have no effect.
var serviceSettings = map[string]func(string) error{
	"process_limit":         checkUint,
	"client_limit":          checkUint,
	"service_count":         checkUint,
	"process_min_avail":     checkUint,
	"vsz_limit":             checkSize,
	"idle_kill":             func(s string) error { _, err := parseDuration(s); return err },
	"drop_priv_before_exec": func(s string) error { _, err := parseBool(s); return err },
	"user":                  nil,
	"group":                 nil,
	"privileged_group":      nil,
	"extra_groups":          nil,
	"chroot":                nil,
	"executable":            nil,
	"protocol":              nil,
	"type":                  nil,
}

const serviceIgnoreReason = "Roost runs all services in one process"

func checkUint(s string) error { _, err := parseUint(s, 1<<30); return err }

// Unix and FIFO listener settings (accepted, no effect).
var unixListenerSettings = []string{"mode", "user", "group", "type"}

// Drivers Dovecot knows, by section type. Validate reports the ones Roost
// does not implement.
var (
	passdbDrivers = []string{
		"passwd-file", "pam", "passwd", "shadow", "bsdauth", "checkpassword",
		"sql", "ldap", "static", "imap", "oauth2", "lua", "dict", "vpopmail",
	}
	userdbDrivers = []string{
		"passwd-file", "passwd", "static", "sql", "ldap", "prefetch",
		"checkpassword", "lua", "dict", "vpopmail", "nss",
	}
	implementedPassdbDrivers = []string{"passwd-file", "sql"}
	implementedUserdbDrivers = []string{"passwd-file", "static"}
)

// dbUnsupported are Dovecot passdb/userdb settings that change who may log
// in or what a lookup returns; ignoring them would be unsafe, so they are
// errors.
var dbUnsupported = []string{
	"default_fields", "override_fields", "deny", "pass", "master", "skip",
	"result_success", "result_failure", "result_internalfail", "mechanisms",
	"username_filter", "auth_verbose",
}

// passwdFileOptions are the args options of Dovecot's passwd-file driver.
var passwdFileOptions = []string{"scheme", "username_format"}
