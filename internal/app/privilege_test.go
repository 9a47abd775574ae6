package app

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeAccounts is a passwd/group database: roost 120:130 in groups 130
// and 44; mailer 200:200.
type fakeAccounts struct{}

var fakeUsers = []*user.User{
	{Username: "roost", Uid: "120", Gid: "130"},
	{Username: "mailer", Uid: "200", Gid: "200"},
	{Username: "root", Uid: "0", Gid: "0"},
}

func (fakeAccounts) Lookup(name string) (*user.User, error) {
	for _, u := range fakeUsers {
		if u.Username == name {
			return u, nil
		}
	}
	return nil, user.UnknownUserError(name)
}

func (fakeAccounts) LookupID(uid string) (*user.User, error) {
	for _, u := range fakeUsers {
		if u.Uid == uid {
			return u, nil
		}
	}
	return nil, user.UnknownUserIdError(0)
}

func (fakeAccounts) LookupGroup(name string) (*user.Group, error) {
	switch name {
	case "mail":
		return &user.Group{Name: "mail", Gid: "8"}, nil
	}
	return nil, user.UnknownGroupError(name)
}

func (fakeAccounts) GroupIDs(u *user.User) ([]string, error) {
	if u.Username == "roost" {
		return []string{"130", "44"}, nil
	}
	return []string{u.Gid}, nil
}

func TestResolveIdentity(t *testing.T) {
	tests := []struct {
		uid, gid, internal string
		want               Identity // Groups compared as written
		err                string
	}{
		{internal: "roost", want: Identity{User: "roost", UID: 120, GID: 130, Groups: []int{130, 44}, Setting: "default_internal_user"}},
		{internal: "120", want: Identity{User: "roost", UID: 120, GID: 130, Groups: []int{130, 44}, Setting: "default_internal_user"}},
		{uid: "mailer", internal: "roost", want: Identity{User: "mailer", UID: 200, GID: 200, Groups: []int{200}, Setting: "mail_uid"}},
		{uid: "mailer", gid: "mail", internal: "roost", want: Identity{User: "mailer", UID: 200, GID: 8, Groups: []int{8}, Setting: "mail_uid"}},
		{uid: "5000", gid: "5000", internal: "roost", want: Identity{User: "uid 5000", UID: 5000, GID: 5000, Groups: []int{5000}, Setting: "mail_uid"}},
		{internal: "root", want: Identity{User: "root", UID: 0, GID: 0, Groups: []int{0}, Setting: "default_internal_user"}},
		{internal: "dovecot", err: "default_internal_user = dovecot: no such user"},
		{uid: "vmail", internal: "roost", err: "mail_uid = vmail: no such user"},
		{uid: "5000", internal: "roost", err: "mail_uid = 5000: no such user"},
		{uid: "mailer", gid: "nogroup", internal: "roost", err: "mail_gid = nogroup: no such group"},
		{internal: "", err: "default_internal_user is empty"},
	}
	for _, tt := range tests {
		got, err := resolveIdentity(tt.uid, tt.gid, tt.internal, fakeAccounts{})
		name := tt.uid + "/" + tt.gid + "/" + tt.internal
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.User != tt.want.User || got.UID != tt.want.UID || got.GID != tt.want.GID ||
			got.Setting != tt.want.Setting || !equalInts(got.Groups, tt.want.Groups) {
			t.Errorf("%s: got %+v, want %+v", name, got, tt.want)
		}
	}
	// The error tells the admin what to do.
	_, err := resolveIdentity("", "", "roost2", fakeAccounts{})
	if err == nil || !strings.Contains(err.Error(), "useradd") || !strings.Contains(err.Error(), "set default_internal_user") {
		t.Errorf("missing user: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPrepareDataDir(t *testing.T) {
	id := Identity{User: "nobody", UID: os.Getuid(), GID: os.Getgid(), Setting: "default_internal_user"}
	dir := filepath.Join(t.TempDir(), "a", "mail")
	if err := PrepareDataDir(dir, id); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 || int(st.Sys().(*syscall.Stat_t).Uid) != id.UID {
		t.Errorf("created %v uid %d", st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
	}
	// Existing and owned by id: fine. Owned by someone else: refused with advice.
	if err := PrepareDataDir(dir, id); err != nil {
		t.Errorf("existing own dir: %v", err)
	}
	other := id
	other.UID = id.UID + 4242
	err = PrepareDataDir(dir, other)
	if err == nil || !strings.Contains(err.Error(), "chown -R") {
		t.Errorf("foreign dir: %v", err)
	}
}
