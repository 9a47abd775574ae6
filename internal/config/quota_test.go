package config

import (
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

func TestQuotaRules(t *testing.T) {
	const G, M, K = 1 << 30, 1 << 20, 1 << 10
	for _, tc := range []struct {
		conf string
		want mailstore.Quota
	}{
		{"", mailstore.Quota{}},
		{"quota_rule = *:storage=1G\n", mailstore.Quota{Storage: G}},
		{"quota_rule = *:storage=1024\n", mailstore.Quota{Storage: M}}, // no unit: KiB, as Dovecot
		{"quota_rule = *:bytes=1024\n", mailstore.Quota{Storage: K}},   // no unit: bytes
		{"quota_rule = *:storage=10b\n", mailstore.Quota{Storage: 10}},
		{"quota_rule = *:storage=3t\n", mailstore.Quota{Storage: 3 << 40}},
		{"quota_rule = *:messages=10000\n", mailstore.Quota{Messages: 10000}},
		{"quota_rule = *:storage=500M:messages=20\n", mailstore.Quota{Storage: 500 * M, Messages: 20}},
		{"quota_rule = *:storage=1G\nquota_rule2 = *:messages=100\n", mailstore.Quota{Storage: G, Messages: 100}},
		// Dovecot 2.3 writes them in plugin { }.
		{"plugin {\n  quota = maildir:User quota\n  quota_rule = *:storage=2G\n  quota_rule2 = *:messages=5\n}\n", mailstore.Quota{Storage: 2 * G, Messages: 5}},
		// A later rule changes only the limits it names; ignore lifts all,
		// also those of later rules.
		{"quota_rule = *:storage=1G:messages=9\nquota_rule3 = *:storage=2G\n", mailstore.Quota{Storage: 2 * G, Messages: 9}},
		{"quota_rule = *:storage=1G\nquota_rule2 = *:ignore\n", mailstore.Quota{}},
		{"quota_rule = *:ignore\nquota_rule2 = *:messages=5\n", mailstore.Quota{}},
		// Mailbox rules are accepted without effect.
		{"quota_rule = *:storage=1G\nquota_rule2 = Trash:storage=+100M\n", mailstore.Quota{Storage: G}},
	} {
		c, err := Parse("roost.conf", []byte(tc.conf), nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.conf, err)
		}
		if got := c.DefaultQuota(); got != tc.want {
			t.Errorf("%q: default quota %+v, want %+v", tc.conf, got, tc.want)
		}
		// Dump -n writes settings that parse back to the same limits.
		var b strings.Builder
		if err := c.Dump(&b, true); err != nil {
			t.Fatal(err)
		}
		again, err := Parse("dump.conf", []byte(b.String()), nil)
		if err != nil || again.DefaultQuota() != tc.want {
			t.Errorf("%q: dump %q parses back to %+v, %v", tc.conf, b.String(), again.DefaultQuota(), err)
		}
	}
	c, err := Parse("roost.conf", []byte("quota_rule2 = Trash:storage=+100M\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0].String(), "mailbox-specific") {
		t.Errorf("warnings %v, want one about the mailbox rule", w)
	}
	for _, bad := range []string{
		"quota_rule = storage=1G\n",
		"quota_rule = *:storage=lots\n",
		"quota_rule = *:storage=1Q\n",
		"quota_rule = *:storage=50%\n",
		"quota_rule = *:size=1G\n",
		"quota_rule = *:storage=99999999999T\n",
		"quota_full_tempfail = maybe\n",
	} {
		if _, err := Parse("roost.conf", []byte(bad), nil); err == nil || !strings.Contains(err.Error(), "roost.conf:1") {
			t.Errorf("%q: err = %v, want an error at roost.conf:1", bad, err)
		}
	}
}

func TestQuotaSettings(t *testing.T) {
	c := Default()
	if c.Quota.RootName != "User quota" || c.Quota.FullTempfail {
		t.Fatalf("defaults: %+v", c.Quota)
	}
	c, err := Parse("roost.conf", []byte("lmtp_rcpt_check_quota = yes\nplugin {\n  quota = count:Mail space\n  quota_full_tempfail = yes\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Quota.RootName != "Mail space" || !c.Quota.FullTempfail || !c.Quota.LMTPRcptCheck {
		t.Fatalf("parsed: %+v", c.Quota)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings %v, want none", w)
	}
}

func TestQuotaLimitsPerUser(t *testing.T) {
	c, err := Parse("roost.conf", []byte("quota_rule = *:storage=1G\nquota_rule2 = *:messages=1000\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	const G = 1 << 30
	for _, tc := range []struct {
		fields map[string]string
		want   mailstore.Quota
	}{
		{nil, mailstore.Quota{Storage: G, Messages: 1000}},
		{map[string]string{"home": "/x"}, mailstore.Quota{Storage: G, Messages: 1000}},
		{map[string]string{"quota_rule": "*:storage=2G"}, mailstore.Quota{Storage: 2 * G, Messages: 1000}},
		{map[string]string{"plugin/quota_rule2": "*:messages=5"}, mailstore.Quota{Storage: G, Messages: 5}},
		{map[string]string{"quota_rule": "*:storage=50%", "quota_rule2": "*:messages=200%"}, mailstore.Quota{Storage: G / 2, Messages: 2000}},
		{map[string]string{"quota_rule": "*:ignore"}, mailstore.Quota{}}, // no limits, rule 2 included (as Dovecot)
		{map[string]string{"quota_rule3": "*:storage=0"}, mailstore.Quota{Messages: 1000}},
	} {
		got, err := c.QuotaLimits(tc.fields)
		if err != nil || got != tc.want {
			t.Errorf("%v: %+v, %v; want %+v", tc.fields, got, err, tc.want)
		}
	}
	if _, err := c.QuotaLimits(map[string]string{"quota_rule": "*:storage=big"}); err == nil {
		t.Error("bad user rule: no error")
	}
}
