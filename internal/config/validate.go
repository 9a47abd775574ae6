package config

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Validate checks that the configuration is usable as a whole and audits
// dangerous settings. It returns errors (Roost must not start) and
// warnings (including those of Warnings), errors first, each naming the
// file and line of the setting concerned when it was set in a file.
// Warnings about settings that weaken security have Dangerous set. A nil
// result means no findings. Validate does not touch the network; of the
// disk it only stats the passwd-files and ssl_key to audit their
// permissions (a file it cannot stat is not reported here: Roost reports
// it when it starts).
func (c *Config) Validate() []Problem {
	v := &validator{c: c, stat: os.Stat}
	v.mailLocation()
	v.scaleOut()
	v.tls()
	v.auth()
	v.listeners()
	v.haproxy()
	v.mailFsync()
	v.dangerous()
	if _, err := CheckUIDLFormat(c.POP3UIDLFormat); err != nil {
		v.add(Error, "pop3_uidl_format", "%v", err)
	}
	ps := append(v.errs, v.warns...)
	return append(ps, c.Warnings()...)
}

// Warnings lists the settings accepted for compatibility that have no
// effect in Roost: one warning per top-level setting, per service setting,
// and per plugin/namespace/dict section.
func (c *Config) Warnings() []Problem {
	var ps []Problem
	seenSection := map[SectionRef]bool{}
	for _, ig := range c.Ignored {
		if len(ig.Sections) > 0 && ignoredSections[ig.Sections[0].Type] != "" {
			top := ig.Sections[0]
			if seenSection[top] {
				continue
			}
			seenSection[top] = true
			name := strings.TrimSpace(top.Type + " " + top.Name)
			ps = append(ps, Problem{Severity: Warning, File: ig.File, Line: ig.Line, Setting: name,
				Msg: "section accepted but has no effect in Roost: " + ig.Reason})
			continue
		}
		ps = append(ps, Problem{Severity: Warning, File: ig.File, Line: ig.Line, Setting: ignoredName(ig),
			Msg: "accepted but has no effect in Roost: " + ig.Reason})
	}
	return ps
}

// ignoredName gives a setting's path, e.g. "service imap/process_limit".
func ignoredName(ig IgnoredSetting) string {
	var parts []string
	for _, s := range ig.Sections {
		parts = append(parts, strings.TrimSpace(s.Type+" "+s.Name))
	}
	return strings.Join(append(parts, ig.Key), "/")
}

type validator struct {
	c     *Config
	errs  []Problem
	warns []Problem
	stat  func(string) (fs.FileInfo, error)
}

// add records a problem about a top-level setting, at the place it was set
// (or at the main file, line 0, for a default).
func (v *validator) add(sev Severity, setting, format string, args ...any) {
	p, ok := v.c.origin[setting]
	if !ok {
		p = pos{file: v.c.File}
	}
	v.addAt(sev, p.file, p.line, setting, format, args...)
}

func (v *validator) addAt(sev Severity, file string, line int, setting, format string, args ...any) {
	v.addProblem(Problem{Severity: sev, File: file, Line: line, Setting: setting, Msg: fmt.Sprintf(format, args...)})
}

// danger records a dangerous-setting warning about a top-level setting.
func (v *validator) danger(setting, format string, args ...any) {
	p, ok := v.c.origin[setting]
	if !ok {
		p = pos{file: v.c.File}
	}
	v.dangerAt(p.file, p.line, setting, format, args...)
}

func (v *validator) dangerAt(file string, line int, setting, format string, args ...any) {
	if file == "" {
		file = v.c.File
	}
	v.addProblem(Problem{Severity: Warning, Dangerous: true, File: file, Line: line, Setting: setting, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) addProblem(pr Problem) {
	if pr.Severity == Error {
		v.errs = append(v.errs, pr)
	} else {
		v.warns = append(v.warns, pr)
	}
}

func (v *validator) mailLocation() {
	if v.c.MailLocation.Driver == "" {
		v.add(Error, "mail_location", "not set; Roost needs a data directory (mail_location = sqlite:/var/lib/roost)")
	}
	if v.c.MailLocation.Driver == "postgres" {
		v.postgresLocation()
	}
}

// enabledListeners returns the effective listeners of all enabled
// protocols, with their protocol.
func (c *Config) enabledListeners() (ls []InetListener, protos []string) {
	for _, p := range c.Protocols {
		for _, l := range c.Listeners(p) {
			ls = append(ls, l)
			protos = append(protos, p)
		}
	}
	return ls, protos
}

func (v *validator) tls() {
	c := v.c
	ls, _ := c.enabledListeners()
	if c.SSL == "no" {
		for _, s := range c.Services {
			for _, l := range s.Listeners {
				if l.SSL && l.Port != 0 && l.File != "" && slices.Contains(c.Protocols, protocolOf(s.Name)) {
					v.addAt(Warning, l.File, l.Line, "ssl", "inet_listener %s has ssl = yes but ssl = no, so it is not started", l.Name)
				}
			}
		}
		for _, l := range ls {
			if !allLoopback(l.Addresses) {
				v.danger("ssl", "ssl = no: passwords and mail cross the network unencrypted (listener %s on %s); "+
					"anyone on the path can read and change them. Use ssl = yes with ssl_cert and ssl_key (STARTTLS, imaps, pop3s), or ssl = required",
					l.Name, strings.Join(l.Addresses, ", "))
				break
			}
		}
		return
	}
	if len(ls) == 0 {
		return
	}
	// ssl = yes/required: STARTTLS is offered on every plain listener and
	// implicit TLS listeners need it, so a certificate is required.
	file, line := v.tlsOrigin(ls)
	missing := false
	for _, s := range []struct {
		name string
		f    PEMFile
	}{{"ssl_cert", c.SSLCert}, {"ssl_key", c.SSLKey}} {
		if len(s.f.Data) == 0 {
			missing = true
			what := "not set"
			if s.f.Path != "" {
				what = s.f.Path + " is empty"
			}
			v.addAt(Error, file, line, s.name, "ssl = %s needs %s = </path/to/file.pem (%s), or set ssl = no", c.SSL, s.name, what)
		}
	}
	if !missing {
		if _, err := tls.X509KeyPair(c.SSLCert.Data, c.SSLKey.Data); err != nil {
			v.add(Error, "ssl_cert", "%s and %s do not form a usable certificate and key: %v", c.SSLCert.Path, c.SSLKey.Path, err)
		}
	}
	if c.SSLMinProtocol < tls.VersionTLS12 {
		v.danger("ssl_min_protocol", "TLS versions below 1.2 are deprecated (RFC 8996): they have known weaknesses, and clients that "+
			"still speak them can be attacked on the path. Use ssl_min_protocol = TLSv1.2 (the default) or TLSv1.3")
	}
}

// tlsOrigin picks the place that makes TLS required: the ssl setting if
// written, else the first listener written with ssl = yes, else the file.
func (v *validator) tlsOrigin(ls []InetListener) (string, int) {
	if p, ok := v.c.origin["ssl"]; ok {
		return p.file, p.line
	}
	for _, l := range ls {
		if l.SSL && l.File != "" {
			return l.File, l.Line
		}
	}
	return v.c.File, 0
}

func protocolOf(service string) string {
	for _, p := range []string{"imap", "pop3", "lmtp"} {
		if serviceFor(p) == service {
			return p
		}
	}
	return ""
}

func allLoopback(hosts []string) bool {
	for _, h := range hosts {
		ip := net.ParseIP(h)
		if h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

func (v *validator) auth() {
	c := v.c
	if len(c.AuthMechanisms) == 0 {
		v.add(Error, "auth_mechanisms", "no mechanisms; nobody can log in (auth_mechanisms = plain login)")
	}
	for _, m := range c.AuthMechanisms {
		if !slices.Contains(implementedMechanisms, m) {
			v.add(Error, "auth_mechanisms", "auth mechanism %s is not supported (supported: %s)", m, strings.Join(implementedMechanisms, " "))
		}
	}
	if !c.DisablePlaintextAuth {
		v.danger("disable_plaintext_auth", "no: passwords are accepted on unencrypted connections, where anyone on the path "+
			"can read them. Use disable_plaintext_auth = yes (the default): clients then log in after STARTTLS or on imaps/pop3s")
	}
	if c.AuthFailureDelay < 100*time.Millisecond {
		v.danger("auth_failure_delay", "%s makes password guessing fast. Use the default, 2 secs", formatDuration(c.AuthFailureDelay))
	}
	if !c.AuthPenalty {
		v.danger("auth_penalty", "no: repeated failed logins from one address are not slowed down beyond auth_failure_delay. "+
			"Use the default, yes (see docs/SECURITY.md, Password guessing)")
	}
	if len(c.Passdbs) == 0 {
		v.add(Error, "passdb", "no passdb section; nobody can log in (passdb { driver = passwd-file  args = /etc/roost/users })")
	}
	for _, db := range c.Passdbs {
		if !slices.Contains(implementedPassdbDrivers, db.Driver) {
			v.addAt(Error, db.File, db.Line, "passdb", "driver %s is not supported (supported: %s)", db.Driver, strings.Join(implementedPassdbDrivers, " "))
			continue
		}
		for k := range db.Options {
			if !slices.Contains(passwdFileOptions, k) {
				v.addAt(Error, db.File, db.Line, "passdb", "args option %s= makes no sense for passwd-file (known: %s)", k, strings.Join(passwdFileOptions, ", "))
			}
		}
	}
	for _, db := range c.Userdbs {
		if !slices.Contains(implementedUserdbDrivers, db.Driver) {
			v.addAt(Warning, db.File, db.Line, "userdb", "driver %s is not supported; the section has no effect", db.Driver)
		}
	}
}

func (v *validator) listeners() {
	c := v.c
	if len(c.Protocols) == 0 {
		v.add(Warning, "protocols", "none: Roost serves no protocol")
	}
	if slices.Contains(c.Protocols, "lmtp") && len(c.Listeners("lmtp")) == 0 && len(c.UnixListeners("lmtp")) == 0 {
		v.add(Warning, "protocols", "lmtp is enabled but has no listener; add service lmtp { unix_listener lmtp { } } or { inet_listener lmtp { port = 24 } }")
	}
	for _, l := range c.UnixListeners("lmtp") {
		if l.Mode&0o002 != 0 {
			v.dangerAt(l.File, l.Line, "unix_listener", "%s has mode %04o: any local user can deliver mail to any account through it. "+
				"Use mode = 0600 with user = postfix (or mode = 0660 with the MTA's group)", l.Path, l.Mode)
		}
	}
	ls, protos := c.enabledListeners()
	seen := map[string]string{}
	for i, l := range ls {
		for _, a := range l.ListenAddrs() {
			what := protos[i] + " " + l.Name
			if prev, dup := seen[a]; dup {
				file, line := l.File, l.Line
				if file == "" {
					file = c.File
				}
				v.addAt(Error, file, line, "inet_listener", "%s listens on %s, already used by %s", what, a, prev)
				continue
			}
			seen[a] = what
		}
	}
}
