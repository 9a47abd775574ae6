package config

import (
	"strings"
	"testing"
)

func TestPrivilegeSettings(t *testing.T) {
	c := Default()
	if c.DefaultInternalUser != "roost" || c.MailUID != "" || c.MailGID != "" {
		t.Errorf("defaults: %q %q %q", c.DefaultInternalUser, c.MailUID, c.MailGID)
	}
	fsys, base := validBase(t)
	cases := []struct{ in, want string }{
		{"default_internal_user = mail\n", ""},
		{"default_internal_user = root\n", "roost.conf:9: default_internal_user: root: started as root, Roost keeps running as root"},
		{"mail_uid = 0\nmail_gid = 0\n", "roost.conf:9: mail_uid: 0: started as root"},
		{"default_internal_user = root\nmail_uid = vmail\n", ""},
		{"default_login_user = dovenull\n", ""},
	}
	for _, tc := range cases {
		c, err := Parse("/etc/roost/roost.conf", []byte(base+"protocols = imap pop3\n"+tc.in), fsys.read)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		var got []string
		for _, p := range c.Validate() {
			if p.Dangerous {
				got = append(got, p.String())
			}
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%q: unexpected %q", tc.in, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}
