package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// maxErrors bounds how many errors one decode reports.
const maxErrors = 20

// decoder turns a tree into a Config. It collects errors instead of
// stopping at the first, so that one run of `roost config check` shows
// them all.
type decoder struct {
	readFile func(string) ([]byte, error)
	errs     []error
}

func (d *decoder) errorf(e *Entry, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		return
	}
	d.errs = append(d.errs, &LineError{File: e.File, Line: e.Line, Msg: fmt.Sprintf(format, args...)})
}

// Default returns the configuration used when a file sets nothing:
// Dovecot's defaults (with Roost's login_greeting), no mail_location, no
// passdb, and Dovecot's default listeners (imap 143, imaps 993, pop3 110,
// pop3s 995; none for lmtp). It is not valid as is: Validate reports the
// missing mail_location, passdb and certificate.
func Default() *Config {
	c := &Config{origin: map[string]pos{}}
	d := &decoder{}
	for i := range settings {
		s := &settings[i]
		if err := s.set(d, c, &Entry{Key: s.name, Value: s.def}); err != nil {
			// The table is constant; TestDefaultsDecode keeps this unreachable.
			panic(fmt.Sprintf("config: built-in default %s = %q: %v", s.name, s.def, err))
		}
	}
	c.Services = []Service{
		{Name: "imap-login", Listeners: []InetListener{
			{Name: "imap", Port: 143},
			{Name: "imaps", Port: 993, SSL: true},
		}},
		{Name: "pop3-login", Listeners: []InetListener{
			{Name: "pop3", Port: 110},
			{Name: "pop3s", Port: 995, SSL: true},
		}},
		{Name: "lmtp"},
	}
	return c
}

// decode applies the tree's entries to c, in order; later settings
// override earlier ones, sections accumulate.
func (d *decoder) decode(c *Config, tree []*Entry) {
	for _, e := range tree {
		if !e.Section {
			d.setting(c, e)
			continue
		}
		switch {
		case e.Key == "passdb":
			if db, ok := d.db(e, passdbDrivers); ok {
				c.Passdbs = append(c.Passdbs, db)
			}
		case e.Key == "userdb":
			if db, ok := d.db(e, userdbDrivers); ok {
				c.Userdbs = append(c.Userdbs, db)
			}
		case e.Key == "service":
			d.service(c, e)
		case e.Key == "plugin":
			d.plugin(c, e)
		case ignoredSections[e.Key] != "":
			d.ignoreSection(c, nil, e, ignoredSections[e.Key], nil)
		case slices.Contains(filterSections, e.Key):
			if len(e.Children) > 0 {
				d.errorf(e, "%s filter sections (%s %s { ... }) are not supported; move the settings to the top level", e.Key, e.Key, e.Value)
			}
		default:
			d.errorf(e, "unknown section %q", e.Key)
		}
	}
}

func (d *decoder) setting(c *Config, e *Entry) {
	if s := lookupSetting(e.Key); s != nil {
		v := *e
		if s.list && !e.Quoted && !e.IsFile && strings.Contains(e.Value, "$") {
			expanded, err := expandSelf(s, c, e.Value)
			if err != nil {
				d.errorf(e, "%s: %v", e.Key, err)
				return
			}
			v.Value = expanded
		}
		if e.IsFile && !s.file {
			d.errorf(e, "%s: a <file value is not allowed here", e.Key)
			return
		}
		if err := s.set(d, c, &v); err != nil {
			d.errorf(e, "%s: %v", e.Key, err)
			return
		}
		c.origin[e.Key] = pos{e.File, e.Line}
		return
	}
	if reason, ok := ignoredSettings[e.Key]; ok {
		d.ignore(c, nil, e, reason)
		return
	}
	d.errorf(e, "unknown setting %q", e.Key)
}

// expandSelf replaces the word "$name" in a list setting's value by the
// setting's current value, as Dovecot does for "protocols = $protocols imap".
// Other variables are not supported.
func expandSelf(s *setting, c *Config, value string) (string, error) {
	words := strings.Fields(value)
	for i, w := range words {
		if !strings.HasPrefix(w, "$") {
			continue
		}
		if w != "$"+s.name {
			return "", fmt.Errorf("variable %s is not supported (only $%s)", w, s.name)
		}
		cur := s.get(c)
		if s.name == "protocols" && cur == "none" {
			cur = ""
		}
		words[i] = cur
	}
	return strings.Join(words, " "), nil
}

// pemFile decodes a `<path` value: resolves the path against the directory
// of the file it is written in and reads it. An empty plain value unsets.
func (d *decoder) pemFile(dst *PEMFile, e *Entry) error {
	if !e.IsFile {
		if e.Value == "" {
			*dst = PEMFile{}
			return nil
		}
		return errNotFile
	}
	path := resolvePath(e.File, e.Value)
	if d.readFile == nil {
		return fmt.Errorf("cannot read %s: file access is not available here", path)
	}
	data, err := d.readFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	*dst = PEMFile{Path: path, Data: data}
	return nil
}

// resolvePath makes p relative to the directory of file unless absolute.
func resolvePath(file, p string) string {
	if filepath.IsAbs(p) || file == "" {
		return p
	}
	return filepath.Join(filepath.Dir(file), p)
}

// parseMailLocation parses "sqlite:DIR" or "postgres:CONNINFO". dir is
// the directory relative paths are resolved against. Errors never quote a
// connection string (it may hold a password).
func parseMailLocation(v, dir string) (MailLocation, error) {
	if v == "" {
		return MailLocation{}, nil
	}
	driver, rest, ok := strings.Cut(v, ":")
	if !ok {
		return MailLocation{}, fmt.Errorf("invalid value %q (use sqlite:DIR or postgres:postgres://user@host/db)", v)
	}
	switch driver {
	case "sqlite":
	case "postgres":
		return parsePostgresLocation(rest)
	default:
		return MailLocation{}, fmt.Errorf("driver %q is not supported by Roost (use sqlite:DIR)", driver)
	}
	switch {
	case rest == "":
		return MailLocation{}, errors.New("sqlite: missing directory (use sqlite:DIR)")
	case strings.Contains(rest, ":"):
		return MailLocation{}, fmt.Errorf("options after the directory (%q) are not supported", rest)
	case strings.ContainsAny(rest, "%~"):
		return MailLocation{}, fmt.Errorf("%q: variables and ~ are not supported; sqlite:DIR is one directory for all users", rest)
	}
	if !filepath.IsAbs(rest) {
		rest = filepath.Join(dir, rest)
	}
	return MailLocation{Driver: driver, Path: filepath.Clean(rest)}, nil
}

// ignore records a setting accepted without effect.
func (d *decoder) ignore(c *Config, path []SectionRef, e *Entry, reason string) {
	c.Ignored = append(c.Ignored, IgnoredSetting{
		Sections: slices.Clone(path), Key: e.Key, Value: e.Value, IsFile: e.IsFile,
		Reason: reason, File: e.File, Line: e.Line,
	})
}

// ignoreSection records every setting inside section e (recursively).
// allowed, when non-nil, limits the setting names (nested sections are
// then errors).
func (d *decoder) ignoreSection(c *Config, path []SectionRef, e *Entry, reason string, allowed []string) {
	path = append(slices.Clone(path), SectionRef{Type: e.Key, Name: e.Value})
	for _, ch := range e.Children {
		switch {
		case ch.Section && allowed != nil:
			d.errorf(ch, "unknown section %q in %s", ch.Key, e.Key)
		case ch.Section:
			d.ignoreSection(c, path, ch, reason, nil)
		case allowed != nil && !slices.Contains(allowed, ch.Key):
			d.errorf(ch, "unknown setting %q in %s", ch.Key, e.Key)
		default:
			d.ignore(c, path, ch, reason)
		}
	}
}

// plugin applies the plugin { } settings Roost implements (pluginSettings)
// and ignores the rest with a warning, as ignoreSection does.
func (d *decoder) plugin(c *Config, e *Entry) {
	rest := *e
	rest.Children = nil
	for _, ch := range e.Children {
		if !ch.Section && slices.Contains(pluginSettings, ch.Key) {
			d.setting(c, ch)
			continue
		}
		rest.Children = append(rest.Children, ch)
	}
	d.ignoreSection(c, nil, &rest, ignoredSections["plugin"], nil)
}

// service decodes a service section. Roost's own services get their
// inet_listeners merged by name into the defaults, as in Dovecot; the
// process settings of every service are accepted without effect.
func (d *decoder) service(c *Config, e *Entry) {
	name := e.Value
	var svc *Service
	for i := range c.Services {
		if c.Services[i].Name == name {
			svc = &c.Services[i]
		}
	}
	switch {
	case name == "":
		d.errorf(e, "service section needs a name (service imap-login { ... })")
		return
	case svc == nil && !slices.Contains(dovecotServices, name):
		d.errorf(e, "unknown service %q", name)
		return
	}
	path := []SectionRef{{Type: "service", Name: name}}
	for _, ch := range e.Children {
		if !ch.Section {
			check, ok := serviceSettings[ch.Key]
			if !ok {
				d.errorf(ch, "unknown service setting %q", ch.Key)
				continue
			}
			if check != nil {
				if err := check(ch.Value); err != nil {
					d.errorf(ch, "%s: %v", ch.Key, err)
					continue
				}
			}
			d.ignore(c, path, ch, serviceIgnoreReason)
			continue
		}
		switch ch.Key {
		case "inet_listener":
			if svc == nil {
				d.ignoreSection(c, path, ch, fmt.Sprintf("Roost does not implement service %s", name), inetListenerSettings)
				continue
			}
			d.inetListener(c, svc, path, ch)
		case "unix_listener":
			if name != "lmtp" {
				d.ignoreSection(c, path, ch, "Roost has Unix sockets only for the lmtp service", unixListenerSettings)
				continue
			}
			d.unixListener(svc, ch)
		case "fifo_listener":
			d.ignoreSection(c, path, ch, "Roost listens only on TCP (inet_listener)", unixListenerSettings)
		default:
			d.errorf(ch, "unknown section %q in service", ch.Key)
		}
	}
}

var inetListenerSettings = []string{"address", "port", "ssl", "haproxy", "reuse_port", "type"}

// inetListener merges an inet_listener section into svc: a listener of
// the same name is changed, a new name is appended with Dovecot's defaults
// (port 0, so it listens only once a port is set).
func (d *decoder) inetListener(c *Config, svc *Service, path []SectionRef, e *Entry) {
	idx := slices.IndexFunc(svc.Listeners, func(l InetListener) bool { return l.Name == e.Value })
	if idx < 0 {
		svc.Listeners = append(svc.Listeners, InetListener{Name: e.Value})
		idx = len(svc.Listeners) - 1
	}
	l := svc.Listeners[idx]
	l.File, l.Line = e.File, e.Line
	lpath := append(slices.Clone(path), SectionRef{Type: "inet_listener", Name: e.Value})
	for _, ch := range e.Children {
		if ch.Section {
			d.errorf(ch, "unknown section %q in inet_listener", ch.Key)
			continue
		}
		var err error
		switch ch.Key {
		case "address":
			for _, w := range splitList(ch.Value) {
				if strings.ContainsAny(w, "\"'<>{}") {
					err = fmt.Errorf("invalid address %q", w)
				}
			}
			if err == nil {
				l.Address = ch.Value
			}
		case "port":
			l.Port, err = parseUint(ch.Value, 65535)
		case "ssl":
			l.SSL, err = parseBool(ch.Value)
		case "haproxy":
			l.HAProxy, err = parseBool(ch.Value)
		case "reuse_port", "type":
			d.ignore(c, lpath, ch, "Roost binds each address once")
		default:
			d.errorf(ch, "unknown setting %q in inet_listener", ch.Key)
			continue
		}
		if err != nil {
			d.errorf(ch, "%s: %v", ch.Key, err)
		}
	}
	svc.Listeners[idx] = l
}

// unixListener merges a unix_listener section of the lmtp service into
// svc, by name as inet listeners are.
func (d *decoder) unixListener(svc *Service, e *Entry) {
	if e.Value == "" {
		d.errorf(e, "unix_listener needs a name: the socket path, absolute or relative to base_dir (unix_listener lmtp { ... })")
		return
	}
	idx := slices.IndexFunc(svc.UnixListeners, func(l UnixListener) bool { return l.Name == e.Value })
	if idx < 0 {
		svc.UnixListeners = append(svc.UnixListeners, UnixListener{Name: e.Value, Mode: 0o600})
		idx = len(svc.UnixListeners) - 1
	}
	l := svc.UnixListeners[idx]
	l.File, l.Line = e.File, e.Line
	for _, ch := range e.Children {
		if ch.Section {
			d.errorf(ch, "unknown section %q in unix_listener", ch.Key)
			continue
		}
		switch ch.Key {
		case "mode":
			m, err := strconv.ParseUint(ch.Value, 8, 32)
			if err != nil || m > 0o777 {
				d.errorf(ch, "mode: invalid value %q (use octal permission bits, such as 0600)", ch.Value)
				continue
			}
			l.Mode = uint32(m)
		case "user":
			l.User = ch.Value
		case "group":
			l.Group = ch.Value
		case "type":
		default:
			d.errorf(ch, "unknown setting %q in unix_listener", ch.Key)
		}
	}
	svc.UnixListeners[idx] = l
}

// db decodes a passdb or userdb section. ok is false after an error.
func (d *decoder) db(e *Entry, drivers []string) (DB, bool) {
	db := DB{File: e.File, Line: e.Line}
	var argsEntry *Entry
	nerr := len(d.errs)
	for _, ch := range e.Children {
		switch {
		case ch.Section:
			d.errorf(ch, "unknown section %q in %s", ch.Key, e.Key)
		case ch.Key == "driver":
			if !slices.Contains(drivers, ch.Value) {
				d.errorf(ch, "unknown %s driver %q", e.Key, ch.Value)
				continue
			}
			db.Driver = ch.Value
		case ch.Key == "args":
			if ch.IsFile {
				d.errorf(ch, "args: a <file value is not allowed here")
				continue
			}
			db.Args, argsEntry = ch.Value, ch
		case slices.Contains(dbUnsupported, ch.Key):
			d.errorf(ch, "%s: not supported by Roost in %s sections", ch.Key, e.Key)
		default:
			d.errorf(ch, "unknown setting %q in %s", ch.Key, e.Key)
		}
	}
	if len(d.errs) > nerr {
		return DB{}, false
	}
	if db.Driver == "" {
		d.errorf(e, "%s section without driver", e.Key)
		return DB{}, false
	}
	if argsEntry == nil {
		argsEntry = e
	}
	if err := parseDBArgs(&db, argsEntry.File); err != nil {
		d.errorf(argsEntry, "args: %v", err)
		return DB{}, false
	}
	return db, true
}

// parseDBArgs fills Path and Options from Args. passwd-file takes
// "[key=value ...] PATH"; static takes "key=value ..."; other drivers' args
// are kept as written.
func parseDBArgs(db *DB, file string) error {
	words := strings.Fields(db.Args)
	switch db.Driver {
	case "passwd-file":
		var path string
		for _, w := range words {
			k, v, isOpt := strings.Cut(w, "=")
			switch {
			case path != "":
				return fmt.Errorf("unexpected %q after the file name", w)
			case isOpt && k != "":
				if db.Options == nil {
					db.Options = map[string]string{}
				}
				db.Options[k] = v
			default:
				path = w
			}
		}
		if path == "" {
			return errors.New("passwd-file needs a file name (args = /etc/roost/users)")
		}
		db.Path = filepath.Clean(resolvePath(file, path))
		db.Args = normalizedArgs(db.Options, db.Path)
	case "sql":
		// args is Dovecot's sql.conf (driver, connect, password_query).
		if len(words) != 1 {
			return errors.New("sql needs the file name of its sql.conf (args = /etc/roost/sql.conf)")
		}
		db.Path = filepath.Clean(resolvePath(file, words[0]))
		db.Args = db.Path
	case "static":
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok || k == "" {
				return fmt.Errorf("%q is not key=value", w)
			}
			if db.Options == nil {
				db.Options = map[string]string{}
			}
			db.Options[k] = v
		}
	}
	return nil
}

func normalizedArgs(opts map[string]string, path string) string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, k+"="+opts[k])
	}
	return strings.Join(append(parts, path), " ")
}
