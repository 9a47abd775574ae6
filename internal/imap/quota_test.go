package imap

import (
	"reflect"
	"testing"

	"github.com/roost-mail/roost/internal/imapwire"
)

func TestQuotaGrammar(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want *Command
	}{
		{"a GETQUOTAROOT INBOX\r\n", cmd("a", "GETQUOTAROOT", &GetQuotaRootCmd{Mailbox: "INBOX"})},
		{"a getquotaroot inbox\r\n", cmd("a", "GETQUOTAROOT", &GetQuotaRootCmd{Mailbox: "INBOX"})},
		{"a GETQUOTAROOT \"Sent Items\"\r\n", cmd("a", "GETQUOTAROOT", &GetQuotaRootCmd{Mailbox: "Sent Items"})},
		{"a GETQUOTA \"User quota\"\r\n", cmd("a", "GETQUOTA", &GetQuotaCmd{Root: "User quota"})},
		{"a GETQUOTA \"\"\r\n", cmd("a", "GETQUOTA", &GetQuotaCmd{})},
		{"a SETQUOTA \"\" (storage 512)\r\n", cmd("a", "SETQUOTA", &SetQuotaCmd{Limits: []QuotaLimit{{"STORAGE", 512}}})},
		{"a SETQUOTA \"User quota\" (STORAGE 512 MESSAGE 100)\r\n", cmd("a", "SETQUOTA", &SetQuotaCmd{Root: "User quota",
			Limits: []QuotaLimit{{"STORAGE", 512}, {"MESSAGE", 100}}})},
		{"a SETQUOTA x ()\r\n", cmd("a", "SETQUOTA", &SetQuotaCmd{Root: "x"})},
		{"a STATUS INBOX (DELETED DELETED-STORAGE SIZE)\r\n", cmd("a", "STATUS", &StatusCmd{Mailbox: "INBOX", Items: []string{"DELETED", "DELETED-STORAGE", "SIZE"}})},
	} {
		h := newHarness(tt.in, imapwire.DecoderOptions{})
		got, err := h.read()
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, dump(got), dump(tt.want))
		}
	}
	for _, in := range []string{
		"a GETQUOTAROOT\r\n",
		"a GETQUOTA\r\n",
		"a GETQUOTA a b\r\n",
		"a SETQUOTA root\r\n",
		"a SETQUOTA root (STORAGE)\r\n",
		"a SETQUOTA root (STORAGE -1)\r\n",
		"a SETQUOTA root STORAGE 1\r\n",
	} {
		h := newHarness(in, imapwire.DecoderOptions{})
		if _, err := h.read(); err == nil {
			t.Errorf("%q: parsed, want a syntax error", in)
		}
	}
}
