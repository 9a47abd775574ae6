package config

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Dump writes the configuration in Dovecot syntax, like doveconf: every
// setting, or with nonDefaultOnly only those that differ from Default
// (like doveconf -n). The output parses back (with Parse or Load) to an
// equal Config, apart from source positions. <file values are printed as
// "<path", never with the file's contents. Settings accepted without
// effect are printed last, in their original order. Dump writes once and
// returns the writer's error.
func (c *Config) Dump(w io.Writer, nonDefaultOnly bool) error {
	var b strings.Builder
	what := "effective configuration"
	if nonDefaultOnly {
		what = "non-default settings"
	}
	fmt.Fprintf(&b, "# Roost %s", what)
	if c.File != "" {
		fmt.Fprintf(&b, " from %s", c.File)
	}
	b.WriteString("\n")

	for i := range settings {
		s := &settings[i]
		v := s.get(c)
		if nonDefaultOnly && v == s.def {
			continue
		}
		if s.file && v != "" {
			fmt.Fprintf(&b, "%s = <%s\n", s.name, v)
			continue
		}
		fmt.Fprintf(&b, "%s = %s\n", s.name, quoteValue(v))
	}
	dumpDBs(&b, "passdb", c.Passdbs)
	dumpDBs(&b, "userdb", c.Userdbs)
	c.dumpServices(&b, nonDefaultOnly)
	if len(c.Ignored) > 0 {
		b.WriteString("# accepted for compatibility, no effect in Roost:\n")
		dumpIgnored(&b, c.Ignored)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("dump config: %w", err)
	}
	return nil
}

func dumpDBs(b *strings.Builder, kind string, dbs []DB) {
	for _, db := range dbs {
		fmt.Fprintf(b, "%s {\n  driver = %s\n", kind, quoteValue(db.Driver))
		if db.Args != "" {
			fmt.Fprintf(b, "  args = %s\n", quoteValue(db.Args))
		}
		b.WriteString("}\n")
	}
}

func (c *Config) dumpServices(b *strings.Builder, nonDefaultOnly bool) {
	def := Default()
	for _, s := range c.Services {
		var body strings.Builder
		for _, l := range s.Listeners {
			if nonDefaultOnly && isDefaultListener(def, s.Name, l) {
				continue
			}
			fmt.Fprintf(&body, "  inet_listener %s{\n", sectionName(l.Name))
			if l.Address != "" {
				fmt.Fprintf(&body, "    address = %s\n", quoteValue(l.Address))
			}
			fmt.Fprintf(&body, "    port = %d\n    ssl = %s\n", l.Port, formatBool(l.SSL))
			if l.HAProxy {
				body.WriteString("    haproxy = yes\n")
			}
			body.WriteString("  }\n")
		}
		for _, l := range s.UnixListeners {
			fmt.Fprintf(&body, "  unix_listener %s{\n    mode = %04o\n", sectionName(l.Name), l.Mode)
			if l.User != "" {
				fmt.Fprintf(&body, "    user = %s\n", quoteValue(l.User))
			}
			if l.Group != "" {
				fmt.Fprintf(&body, "    group = %s\n", quoteValue(l.Group))
			}
			body.WriteString("  }\n")
		}
		if body.Len() > 0 {
			fmt.Fprintf(b, "service %s {\n%s}\n", s.Name, body.String())
		}
	}
}

func isDefaultListener(def *Config, service string, l InetListener) bool {
	for _, s := range def.Services {
		if s.Name != service {
			continue
		}
		for _, d := range s.Listeners {
			if d.Name == l.Name {
				return d.Address == l.Address && d.Port == l.Port && d.SSL == l.SSL && d.HAProxy == l.HAProxy
			}
		}
	}
	return false
}

// dumpIgnored prints settings with their enclosing sections, reopening
// sections only when the path changes.
func dumpIgnored(b *strings.Builder, ig []IgnoredSetting) {
	var cur []SectionRef
	indent := func(n int) string { return strings.Repeat("  ", n) }
	for _, s := range ig {
		common := 0
		for common < len(cur) && common < len(s.Sections) && cur[common] == s.Sections[common] {
			common++
		}
		for i := len(cur) - 1; i >= common; i-- {
			fmt.Fprintf(b, "%s}\n", indent(i))
		}
		for i := common; i < len(s.Sections); i++ {
			fmt.Fprintf(b, "%s%s %s{\n", indent(i), s.Sections[i].Type, sectionName(s.Sections[i].Name))
		}
		cur = slices.Clone(s.Sections)
		if s.IsFile {
			fmt.Fprintf(b, "%s%s = <%s\n", indent(len(cur)), s.Key, s.Value)
		} else {
			fmt.Fprintf(b, "%s%s = %s\n", indent(len(cur)), s.Key, quoteValue(s.Value))
		}
	}
	for i := len(cur) - 1; i >= 0; i-- {
		fmt.Fprintf(b, "%s}\n", indent(i))
	}
}

// sectionName returns a section name followed by a space, quoted when it
// would not parse back as one word; "" for an unnamed section.
func sectionName(name string) string {
	if name == "" {
		return ""
	}
	if strings.ContainsAny(name, " \t{}\"'#\\") {
		return quote(name) + " "
	}
	return name + " "
}

// quoteValue returns v as written in a configuration file: unchanged when
// it parses back as itself, else in double quotes with backslash escapes.
func quoteValue(v string) string {
	if v == "" || strings.TrimSpace(v) != v || strings.ContainsAny(v, "#\"'\\{}$") || strings.HasPrefix(v, "<") {
		return quote(v)
	}
	return v
}

func quote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}
