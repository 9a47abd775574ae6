package imapserver

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestGoIMAPClient drives the server with an independent client
// implementation (go-imap v2): its parser must accept every response.
func TestGoIMAPClient(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.AppendLimit = 1 << 20 }))
	c, err := imapclient.DialInsecure(ts.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if err := c.Login("alice", alicePass).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	caps := c.Caps()
	if caps.Has(imap.CapIMAP4rev2) {
		// go-imap sends UTF-8 mailbox names as soon as the server
		// advertises IMAP4rev2; the server reads them as UTF-8 only after
		// ENABLE IMAP4rev2 (RFC 9051 6.3.1), so a well-behaved client
		// enables it.
		if _, err := c.Enable(imap.CapIMAP4rev2).Wait(); err != nil {
			t.Fatalf("enable: %v", err)
		}
	}
	for _, cp := range []imap.Cap{imap.CapIMAP4rev1, imap.CapNamespace, imap.CapSpecialUse, imap.CapListStatus} {
		if !caps.Has(cp) {
			t.Errorf("capability %s missing after login: %v", cp, caps)
		}
	}
	if err := c.Create("Reports/2026", nil).Wait(); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := c.Create("Entwürfe", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrDrafts}}).Wait(); err != nil {
		t.Fatalf("create special-use: %v", err)
	}

	msg := testMsg("from go-imap")
	ac := c.Append("Reports/2026", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
	if _, err := ac.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := ac.Close(); err != nil {
		t.Fatal(err)
	}
	ad, err := ac.Wait()
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if ad.UID != 1 || ad.UIDValidity == 0 {
		t.Errorf("APPENDUID: %+v", ad)
	}

	list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	byName := map[string]*imap.ListData{}
	for _, l := range list {
		byName[l.Mailbox] = l
		if l.Delim != '/' {
			t.Errorf("delimiter %q", l.Delim)
		}
	}
	if l := byName["Reports/2026"]; l == nil || l.Status == nil || l.Status.NumMessages == nil || *l.Status.NumMessages != 1 {
		t.Errorf("Reports/2026 in LIST-STATUS: %+v", l)
	}
	if l := byName["Entwürfe"]; l == nil || !slices.Contains(l.Attrs, imap.MailboxAttrDrafts) {
		t.Errorf("Entwürfe (modified UTF-7 decoded by the client): %+v", l)
	}
	if l := byName["Reports"]; l == nil || !slices.Contains(l.Attrs, imap.MailboxAttrHasChildren) {
		t.Errorf("Reports: %+v", l)
	}

	st, err := c.Status("Reports/2026", &imap.StatusOptions{NumMessages: true, UIDNext: true, NumUnseen: true, Size: true, AppendLimit: true}).Wait()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if *st.NumMessages != 1 || st.UIDNext != 2 || *st.NumUnseen != 0 || *st.Size != int64(len(msg)) || st.AppendLimit == nil || *st.AppendLimit != 1<<20 {
		t.Errorf("status: messages %d uidnext %d unseen %d size %d", *st.NumMessages, st.UIDNext, *st.NumUnseen, *st.Size)
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' {
		t.Errorf("namespace: %+v %v", ns, err)
	}
	if err := c.Delete("Reports/2026").Wait(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatalf("logout: %v", err)
	}
}
