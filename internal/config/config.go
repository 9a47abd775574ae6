// Package config reads Roost's configuration, which uses Dovecot's syntax
// and Dovecot's setting names.
//
// Reading happens in two steps: ParseTree turns text into a generic tree of
// entries (with !include resolved), and the decoder turns the tree into a
// typed Config, starting from Dovecot's defaults. Load and Parse do both.
// Neither step checks that the configuration is usable as a whole; that is
// Validate, which also audits dangerous settings.
//
// Invariants:
//   - Every error from Load and Parse names the file and line it is about
//     (a *LineError, possibly several joined with errors.Join).
//   - An unknown setting or section is an error. Settings that Dovecot has
//     but that have no effect in Roost are accepted only if listed in the
//     ignore table (settings.go); they are kept in Config.Ignored, reported
//     by Warnings and printed by Dump.
//   - Relative paths (includes, <file values, mail_location, passwd-file
//     paths) are relative to the directory of the file they are written in.
//   - Dump output parses back to an equal Config.
//   - The package has no mutable globals; a Config is not modified by any
//     method and is safe for concurrent reads.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Config is the typed configuration. Field comments give the Dovecot
// setting name. The zero value is not useful; start from Default, Load or
// Parse.
type Config struct {
	// File is the path of the main configuration file ("" for Default).
	File string

	Protocols []string // protocols: enabled protocols, subset of imap pop3 lmtp; empty for "none"
	Listen    []string // listen: addresses as written; "*" is all IPv4, "::" all IPv6

	MailLocation MailLocation // mail_location

	// Message bodies in an object store (scaleout.go): mail_blob_location is
	// "" (bodies stay with the mail store) or s3://bucket/prefix?...;
	// the secret key is only ever read from a file, so dumps never show it.
	MailBlobLocation    string  // mail_blob_location
	MailBlobS3AccessKey string  // mail_blob_s3_access_key
	MailBlobS3SecretKey PEMFile // mail_blob_s3_secret_key = <path (Data: the key, trimmed)

	// PROXY protocol (haproxy.go): who may send a header to a listener
	// with haproxy = yes, and how long to wait for it.
	HAProxyTrustedNetworks []netip.Prefix // haproxy_trusted_networks
	HAProxyTimeout         time.Duration  // haproxy_timeout

	SSL            string  // ssl: "no", "yes" or "required"
	SSLCert        PEMFile // ssl_cert = <path
	SSLKey         PEMFile // ssl_key = <path
	SSLMinProtocol uint16  // ssl_min_protocol, as a crypto/tls version (tls.VersionTLS12)
	// ssl_curve_list: the key exchange groups offered (OpenSSL names,
	// colon-separated); nil is Go's default, post-quantum hybrid
	// X25519MLKEM768 first.
	SSLCurveList []tls.CurveID
	// ssl_cipher_list: TLS 1.2 suites (OpenSSL names); nil is Go's default.
	SSLCipherList []uint16

	DisablePlaintextAuth bool          // disable_plaintext_auth
	AuthMechanisms       []string      // auth_mechanisms, lower case ("plain", "login")
	AuthFailureDelay     time.Duration // auth_failure_delay
	AuthPenalty          bool          // auth_penalty (Roost's own)

	AuthVerbose           bool   // auth_verbose
	AuthVerbosePasswords  string // auth_verbose_passwords: "no", "plain" or "sha1", optionally ":N" ("yes" is read as "plain")
	AuthDebug             bool   // auth_debug
	AuthDebugPasswords    bool   // auth_debug_passwords
	AuthAnonymousUsername string // auth_anonymous_username
	AuthUsernameFormat    string // auth_username_format; checked by auth.New

	Quota QuotaConfig // quota, quota_rule*, quota_full_tempfail (quota.go)

	Passdbs []DB // passdb sections, in file order (tried in this order)
	Userdbs []DB // userdb sections, in file order

	LoginGreeting            string // login_greeting
	POP3UIDLFormat           string // pop3_uidl_format; checked by CheckUIDLFormat when decoded
	MailMaxUserIPConnections int    // mail_max_userip_connections; 0 means no limit
	LoginMaxPreauthPerIP     int    // login_max_preauth_per_ip; 0 means no cap
	LoginMaxPreauth          int    // login_max_preauth; 0 means no cap
	QuotaMailboxCount        int    // quota_mailbox_count; 0 means no limit
	MaxMailSize              int64  // quota_max_mail_size in octets; 0 means no limit

	MailFsync MailFsync // mail_fsync (fsync.go)

	RecipientDelimiter      string // recipient_delimiter: each character separates an address's detail; "" for none
	LMTPSaveToDetailMailbox bool   // lmtp_save_to_detail_mailbox

	BaseDir             string // base_dir: directory of unix_listener sockets given as relative paths
	DefaultInternalUser string // default_internal_user: the user a root-started Roost runs as
	MailUID             string // mail_uid: overrides default_internal_user when set (name or number)
	MailGID             string // mail_gid: the group with mail_uid (name or number); "" for the user's own

	// Services holds imap-login, pop3-login and lmtp (always, in that
	// order) with their inet listeners after merging the configuration into
	// Dovecot's defaults. Use Listeners for the effective listeners.
	Services []Service

	// Ignored lists settings accepted for compatibility with Dovecot
	// configurations that have no effect in Roost, in file order.
	Ignored []IgnoredSetting

	origin map[string]pos // top-level setting name -> where it was last set
}

// MailLocation is the parsed mail_location setting: "sqlite:DIR" or
// "postgres:CONNINFO" (a postgres:// URL or libpq key=value pairs).
type MailLocation struct {
	Driver string // "sqlite" or "postgres"; "" when mail_location is not set
	// Path is the node's local data directory (the admin socket; with
	// sqlite all mail too): sqlite's DIR, resolved against the config
	// file's directory, or base_dir with postgres.
	Path string
	DSN  string // postgres: the connection string; may hold a password, print String() instead
}

// String returns the setting's value with any password in the connection
// string replaced by "xxxxx", for dumps, logs and messages.
func (m MailLocation) String() string {
	switch m.Driver {
	case "":
		return ""
	case "postgres":
		return m.Driver + ":" + redactConnString(m.DSN)
	}
	return m.Driver + ":" + m.Path
}

// PEMFile is a value written as `<path`: the file's path (resolved against
// the config file's directory) and its contents, read at load time.
type PEMFile struct {
	Path string
	Data []byte
}

// DB is one passdb or userdb section.
type DB struct {
	Driver string // driver: "passwd-file", "static", ...
	// Args is the args setting. For passwd-file it is normalized to the
	// options sorted by name followed by the resolved Path, so that it
	// stays valid when printed by Dump; for other drivers it is as written.
	Args string
	// Path is the file of a passwd-file database, resolved against the
	// config file's directory; "" for other drivers.
	Path string
	// Options holds the key=value words of args (scheme, username_format
	// for passwd-file; uid, gid, home, ... for static). nil when none.
	Options map[string]string

	File string // where the section starts
	Line int
}

// Service is one Dovecot service block that Roost implements: imap-login,
// pop3-login or lmtp.
type Service struct {
	Name      string
	Listeners []InetListener // in definition order: defaults first, then new names
	// UnixListeners are the service's unix_listener sections, in
	// definition order; only the lmtp service has them (Roost has no
	// default one). Use Config.UnixListeners for the effective ones.
	UnixListeners []UnixListener
}

// UnixListener is a unix_listener of the lmtp service: a Unix socket.
type UnixListener struct {
	// Name is the socket path as written: absolute, or relative to
	// base_dir (Dovecot's rule: "lmtp" is base_dir/lmtp).
	Name string
	// Path is set only in results of Config.UnixListeners: Name resolved
	// against base_dir.
	Path  string
	Mode  uint32 // mode: permission bits of the socket; default 0600 (Dovecot's)
	User  string // user: owner of the socket ("" keeps it); applied when Roost runs as root
	Group string // group: group of the socket ("" keeps it); applied when Roost runs as root

	File string // where the unix_listener section starts
	Line int
}

// InetListener is an inet_listener of a service.
type InetListener struct {
	Name    string // "imap", "imaps", ...
	Address string // address setting as written; "" means use listen
	// Addresses is set only in results of Config.Listeners: the hosts to
	// bind, from Address or listen, with "*" as "0.0.0.0" and brackets
	// removed from IPv6 literals.
	Addresses []string
	Port      int  // 0 disables the listener
	SSL       bool // implicit TLS
	HAProxy   bool // haproxy: connections start with a PROXY header (haproxy.go)

	File string // where the inet_listener section starts ("" for a default)
	Line int
}

// IgnoredSetting is a Dovecot setting accepted with no effect in Roost.
type IgnoredSetting struct {
	Sections []SectionRef // enclosing sections, outermost first; nil at top level
	Key      string
	Value    string
	IsFile   bool   // written as `<path`; Value is the path
	Reason   string // why it has no effect
	File     string
	Line     int
}

// SectionRef names a section: its type and optional name.
type SectionRef struct {
	Type string
	Name string
}

type pos struct {
	file string
	line int
}

// LineError is an error about one line of a configuration file. Error()
// gives "file:line: msg".
type LineError struct {
	File string
	Line int
	Msg  string
}

// Error returns "file:line: msg".
func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Severity says whether a Problem stops Roost from starting.
type Severity int

// Severities of a Problem.
const (
	Error   Severity = iota // the configuration cannot be used
	Warning                 // usable, but probably not what was meant, or dangerous
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one finding of Validate or Warnings. File and Line say where
// the setting was written; Line is 0 when the problem is about a default
// or a missing setting.
type Problem struct {
	Severity Severity
	// Dangerous marks a warning about a setting that weakens security
	// (exposes passwords or mail, or lets strangers in); `roost config
	// check` lists these under their own heading.
	Dangerous bool
	File      string
	Line      int
	Setting   string
	Msg       string
}

// String returns "file:line: setting: msg", leaving out the parts that are
// empty (and the line when it is 0).
func (p Problem) String() string {
	s := ""
	switch {
	case p.File != "" && p.Line > 0:
		s = fmt.Sprintf("%s:%d: ", p.File, p.Line)
	case p.File != "":
		s = p.File + ": "
	}
	if p.Setting != "" {
		s += p.Setting + ": "
	}
	return s + p.Msg
}

// Load reads the configuration file at path (with its includes and <file
// values), decodes it over the defaults and returns it. It does not call
// Validate. Relative paths in the file are resolved against the absolute
// directory of path, and Config.File is the absolute path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return parse(abs, data, ParseOptions{ReadFile: os.ReadFile, Glob: filepath.Glob})
}

// Parse decodes configuration text named name (used in errors and as the
// base directory for relative paths). readFile serves !include and <file
// values; nil allows neither. !include with glob patterns is an error here
// (use Load). It does not call Validate.
func Parse(name string, data []byte, readFile func(string) ([]byte, error)) (*Config, error) {
	return parse(name, data, ParseOptions{ReadFile: readFile})
}

func parse(name string, data []byte, opts ParseOptions) (*Config, error) {
	tree, err := ParseTree(name, data, opts)
	if err != nil {
		return nil, err
	}
	c := Default()
	c.File = name
	d := &decoder{readFile: opts.ReadFile}
	d.decode(c, tree)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	if c.MailLocation.Driver == "postgres" {
		// The mail is in the database; the node keeps only its admin
		// socket, in base_dir (whichever line set it).
		c.MailLocation.Path = c.BaseDir
	}
	return c, nil
}

// Origin returns where a top-level setting (by Dovecot name) was last set,
// or ok=false when it has its default value.
func (c *Config) Origin(setting string) (file string, line int, ok bool) {
	p, ok := c.origin[setting]
	return p.file, p.line, ok
}
