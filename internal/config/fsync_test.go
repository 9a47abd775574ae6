package config

import (
	"bytes"
	"strings"
	"testing"
)

// mail_fsync takes Dovecot's three values, defaults to optimized, shows in
// doveconf -n style dumps only when changed, and never is reported as a
// dangerous setting.
func TestMailFsync(t *testing.T) {
	fsys, base := validBase(t)
	for _, tc := range []struct {
		line    string
		want    MailFsync
		err     string // substring of the parse error
		dump    string // line in Dump(nonDefaultOnly); "" for none
		warning bool
	}{
		{line: "", want: FsyncOptimized},
		{line: "mail_fsync = optimized\n", want: FsyncOptimized},
		{line: "mail_fsync = always\n", want: FsyncAlways, dump: "mail_fsync = always"},
		{line: "mail_fsync = never\n", want: FsyncNever, dump: "mail_fsync = never", warning: true},
		{line: "mail_fsync = yes\n", err: `mail_fsync: "yes" is not optimized, always or never`},
		{line: "mail_fsync = Always\n", err: `"Always" is not optimized`},
		{line: "mail_fsync =\n", err: `"" is not optimized`},
	} {
		t.Run(strings.TrimSpace(tc.line), func(t *testing.T) {
			c, err := Parse("/etc/roost/roost.conf", []byte(base+tc.line), fsys.read)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse: %v, want error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MailFsync != tc.want {
				t.Errorf("MailFsync = %v, want %v", c.MailFsync, tc.want)
			}
			var buf bytes.Buffer
			if err := c.Dump(&buf, true); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(buf.String(), "mail_fsync"); got != (tc.dump != "") || !strings.Contains(buf.String(), tc.dump) {
				t.Errorf("dump -n:\n%s\nwant line %q", buf.String(), tc.dump)
			}
			warned := false
			for _, p := range c.Validate() {
				if p.Setting == "mail_fsync" {
					warned = true
					if !p.Dangerous || p.Severity != Warning || !strings.Contains(p.Msg, "acknowledged") {
						t.Errorf("unexpected problem: %s", p)
					}
				}
			}
			if warned != tc.warning {
				t.Errorf("mail_fsync warning = %v, want %v", warned, tc.warning)
			}
		})
	}
}
