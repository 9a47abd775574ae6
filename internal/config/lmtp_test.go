package config

import (
	"strings"
	"testing"
)

func TestLMTPSettings(t *testing.T) {
	c := Default()
	if c.RecipientDelimiter != "+" || c.LMTPSaveToDetailMailbox {
		t.Errorf("defaults: recipient_delimiter %q, lmtp_save_to_detail_mailbox %v", c.RecipientDelimiter, c.LMTPSaveToDetailMailbox)
	}
	c, err := Parse("t.conf", []byte("recipient_delimiter = -+\nlmtp_save_to_detail_mailbox = yes\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RecipientDelimiter != "-+" || !c.LMTPSaveToDetailMailbox {
		t.Errorf("got recipient_delimiter %q, lmtp_save_to_detail_mailbox %v", c.RecipientDelimiter, c.LMTPSaveToDetailMailbox)
	}
	c, err = Parse("t.conf", []byte("recipient_delimiter =\n"), nil)
	if err != nil || c.RecipientDelimiter != "" {
		t.Errorf("empty recipient_delimiter: %q, %v", c.RecipientDelimiter, err)
	}
	if _, err := Parse("t.conf", []byte("lmtp_save_to_detail_mailbox = maybe\n"), nil); err == nil {
		t.Error("lmtp_save_to_detail_mailbox = maybe accepted")
	}
}

func TestUnixListenerErrors(t *testing.T) {
	for in, want := range map[string]string{
		"service lmtp {\n unix_listener lmtp {\n  mode = 0999\n }\n}\n":  `t.conf:3: mode: invalid value "0999"`,
		"service lmtp {\n unix_listener lmtp {\n  mode = 01777\n }\n}\n": `t.conf:3: mode: invalid value "01777"`,
		"service lmtp {\n unix_listener lmtp {\n  owner = x\n }\n}\n":    `t.conf:3: unknown setting "owner" in unix_listener`,
		"base_dir = run\n": `t.conf:1: base_dir: "run": must be an absolute path`,
	} {
		_, err := Parse("t.conf", []byte(in), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", in, err, want)
		}
	}
	// A world-writable socket lets every local user deliver: dangerous.
	c, err := Parse("t.conf", []byte("protocols = lmtp\nservice lmtp {\n unix_listener lmtp {\n  mode = 0666\n }\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range c.Validate() {
		if p.Dangerous && strings.Contains(p.String(), "t.conf:3: unix_listener: /run/roost/lmtp has mode 0666") {
			found = true
		}
	}
	if !found {
		t.Errorf("mode 0666 not reported:\n%s", problemStrings(c.Validate()))
	}
}
