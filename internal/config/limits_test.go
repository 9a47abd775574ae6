package config

import "testing"

func TestLoginLimitSettings(t *testing.T) {
	c, err := Parse("roost.conf", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.AuthPenalty {
		t.Error("auth_penalty off by default")
	}
	if c.LoginMaxPreauthPerIP != 10 || c.LoginMaxPreauth != 1000 || c.QuotaMailboxCount != 10000 {
		t.Errorf("defaults: %d %d %d", c.LoginMaxPreauthPerIP, c.LoginMaxPreauth, c.QuotaMailboxCount)
	}
	in := "auth_penalty = no\nlogin_max_preauth_per_ip = 3\nlogin_max_preauth = 0\nplugin {\n  quota_mailbox_count = 50\n}\n"
	if c, err = Parse("roost.conf", []byte(in), nil); err != nil {
		t.Fatal(err)
	}
	if c.AuthPenalty || c.LoginMaxPreauthPerIP != 3 || c.LoginMaxPreauth != 0 || c.QuotaMailboxCount != 50 {
		t.Errorf("set: %d %d %d", c.LoginMaxPreauthPerIP, c.LoginMaxPreauth, c.QuotaMailboxCount)
	}
	for _, bad := range []string{"login_max_preauth_per_ip = -1\n", "login_max_preauth = many\n", "quota_mailbox_count = 1.5\n"} {
		if _, err := Parse("roost.conf", []byte(bad), nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
