package config

import "testing"

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
