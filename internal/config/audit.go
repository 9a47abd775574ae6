package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// dangerous audits the settings that expose passwords, mail or the server
// itself, beyond those tls and auth already check. Each finding says what
// the setting exposes, to whom, and what to use instead.
func (v *validator) dangerous() {
	c := v.c
	v.authLogging()
	if slices.Contains(c.AuthMechanisms, "anonymous") {
		v.danger("auth_mechanisms", "anonymous: anyone can log in without a password, as auth_anonymous_username = %s, "+
			"and read and change that user's mail. Remove anonymous from auth_mechanisms unless that is meant",
			c.AuthAnonymousUsername)
	}
	v.cleartextListeners()
	if g := c.LoginGreeting; greetingRevealsVersion.MatchString(g) {
		v.danger("login_greeting", "%q tells every client, before login, which server (and version) runs here, "+
			"which helps attackers pick exploits. Use a greeting without product or version, such as the default \"Roost ready.\"", g)
	}
	v.filePermissions()
	v.runAsRoot()
}

// runAsRoot reports a configuration that keeps root privileges.
func (v *validator) runAsRoot() {
	c := v.c
	setting, name := "default_internal_user", c.DefaultInternalUser
	if c.MailUID != "" {
		setting, name = "mail_uid", c.MailUID
	}
	if name == "root" || name == "0" {
		v.danger(setting, "%s: started as root, Roost keeps running as root, so a flaw in any protocol parser gives "+
			"an attacker the whole machine. Set %s to an unprivileged user that owns the data directory (default roost)", name, setting)
	}
}

// greetingRevealsVersion matches greetings that name a server product or
// carry a version number ("Dovecot ready.", "Roost 1.2", "v2").
var greetingRevealsVersion = regexp.MustCompile(`(?i)dovecot|courier|cyrus|\d+\.\d+|\bv\d`)

func (v *validator) authLogging() {
	c := v.c
	if c.AuthVerbose {
		v.danger("auth_verbose", "yes: every failed login is logged with its user name, mechanism and client IP; "+
			"users who type their password into the user name field leave it in the log, readable by whoever can read the log. "+
			"Use auth_verbose = no outside of troubleshooting")
	}
	if form, _, _ := strings.Cut(c.AuthVerbosePasswords, ":"); form != "no" {
		what := "the passwords of failed logins are written to the log in the clear"
		if form == "sha1" {
			what = "the unsalted SHA-1 of the passwords of failed logins is written to the log; short or common passwords are recovered from it in seconds"
		}
		v.danger("auth_verbose_passwords", "%s: %s (often the user's real password with a typo, or the password of another account), "+
			"readable by whoever can read the log. Use auth_verbose_passwords = no, or a short truncated hash (sha1:6) to spot password guessing",
			c.AuthVerbosePasswords, what)
	}
	if c.AuthDebugPasswords {
		v.danger("auth_debug_passwords", "yes: every submitted password, of successful logins too, is written to the log in the clear, "+
			"readable by whoever can read the log. Turn it off as soon as the problem is found; auth_debug alone hides passwords")
	}
	if c.AuthDebug {
		v.danger("auth_debug", "yes: every authentication step is logged (user names, passdb files and lines, password schemes); "+
			"passwords are not. Meant for troubleshooting only. Use auth_debug = no when done")
	}
}

// cleartextListeners reports IMAP and POP3 listeners without implicit TLS
// on addresses other than loopback where a password can cross the network
// unencrypted (ssl = no, or STARTTLS offered but disable_plaintext_auth =
// no), and LMTP listeners reachable from other hosts.
func (v *validator) cleartextListeners() {
	c := v.c
	ls, protos := c.enabledListeners()
	for i, l := range ls {
		if allLoopback(l.Addresses) {
			continue
		}
		name := l.Name
		if name != protos[i] {
			name += " (" + protos[i] + ")"
		}
		where := fmt.Sprintf("inet_listener %s on %s port %d", name, strings.Join(l.Addresses, ", "), l.Port)
		switch {
		case protos[i] == "lmtp":
			v.dangerAt(l.File, l.Line, "inet_listener", "%s: anyone who can reach it can deliver mail to any user, "+
				"bypassing the spam and virus checks of your MTA, and LMTP has no authentication. "+
				"Set address = 127.0.0.1 in the listener (or listen = 127.0.0.1) or firewall the port", where)
		case l.SSL:
		case c.SSL == "no":
			v.dangerAt(l.File, l.Line, "inet_listener", "%s has no TLS (ssl = no): passwords and mail cross the network unencrypted. "+
				"Set ssl = yes so STARTTLS is offered, and prefer the implicit-TLS listener (imaps, pop3s)", where)
		case !c.DisablePlaintextAuth && c.SSL != "required":
			v.dangerAt(l.File, l.Line, "inet_listener", "%s offers STARTTLS, but disable_plaintext_auth = no lets clients send "+
				"passwords before it, unencrypted. Use disable_plaintext_auth = yes or ssl = required", where)
		}
	}
}

// filePermissions reports passwd-files and the TLS key that other local
// users can read (or, for passwd-files, write).
func (v *validator) filePermissions() {
	c := v.c
	for _, db := range c.Passdbs {
		if db.Driver != "passwd-file" || db.Path == "" {
			continue
		}
		fi, err := v.stat(db.Path)
		if err != nil {
			continue
		}
		switch mode := fi.Mode().Perm(); {
		case mode&0o002 != 0:
			v.dangerAt(db.File, db.Line, "passdb", "%s is writable by every local user (mode %04o): anyone with a shell can add "+
				"a user or change a password. chmod 0640 (owner root, group of the roost user) or 0600", db.Path, mode)
		case mode&0o004 != 0:
			v.dangerAt(db.File, db.Line, "passdb", "%s is readable by every local user (mode %04o): anyone with a shell can copy "+
				"the password hashes and guess passwords offline. chmod 0640 (owner root, group of the roost user) or 0600", db.Path, mode)
		}
	}
	if c.SSL != "no" && c.SSLKey.Path != "" {
		if fi, err := v.stat(c.SSLKey.Path); err == nil && fi.Mode().Perm()&0o004 != 0 {
			v.danger("ssl_key", "%s is readable by every local user (mode %04o): anyone with a shell can copy the private key "+
				"and impersonate this server or decrypt recorded sessions. chmod 0600 (or 0640 with the roost group)",
				c.SSLKey.Path, fi.Mode().Perm())
		}
	}
}
