package admin

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// domainless maps "name@domain" to the account "name", as
// auth_username_format = %Ln does; it knows "alice".
type domainless struct{}

func (domainless) UserExists(ctx context.Context, user string) (bool, error) {
	_, ok, err := domainless{}.LookupUser(ctx, user)
	return ok, err
}

func (domainless) LookupUser(_ context.Context, user string) (string, bool, error) {
	name, _, _ := strings.Cut(strings.ToLower(user), "@")
	return name, name == "alice", nil
}

// TestAccountNames: the account commands work on the account a login
// opens: mailbox create -u Alice@Example.org creates the mailbox in alice,
// and no account named after the address appears.
func TestAccountNames(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(sqlite.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := &Service{Store: st, Users: domainless{}}
	ctx := context.Background()
	if err := Local(ctx, svc, Request{Cmd: "mailbox.create", User: "Alice@Example.org", Mailbox: "Projects"}, nil); err != nil {
		t.Fatal(err)
	}
	var status MailboxStatus
	if err := Local(ctx, svc, Request{Cmd: "mailbox.status", User: "alice", Mailbox: "Projects"}, &status); err != nil {
		t.Fatalf("Projects in alice: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "accounts"))
	if len(ents) != 1 || ents[0].Name() != "alice" {
		t.Errorf("accounts %v, want only alice", ents)
	}
	wantCode(t, Local(ctx, svc, Request{Cmd: "mailbox.list", User: "bob@example.org"}, nil), CodeUnknownUser)
}
