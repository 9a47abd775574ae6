package auth

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUserdbFields(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "first")
	second := filepath.Join(dir, "second")
	os.WriteFile(first, []byte("alice:{PLAIN}x::::::userdb_quota_rule=*:storage=2G nopassword quota_rule=*:storage=1M\n"), 0o600)
	os.WriteFile(second, []byte("alice:{PLAIN}y::::::quota_rule=*:storage=9G\nbob:{PLAIN}y::::::userdb_plugin/quota_rule2=*:messages=7\n"), 0o600)
	u, err := NewUserdb([]PassdbConfig{{Driver: "passwd-file", Path: first}, {Driver: "passwd-file", Path: second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, ok, err := u.Fields("alice")
	if err != nil || !ok || f["quota_rule"] != "*:storage=2G" || f["userdb_quota_rule"] != "" {
		t.Fatalf("alice (first file wins, prefixed field wins): %v %v %v", f, ok, err)
	}
	if _, there := f["nopassword"]; !there {
		t.Errorf("alice: unprefixed fields missing: %v", f)
	}
	f, ok, err = u.Fields("bob")
	if err != nil || !ok || f["plugin/quota_rule2"] != "*:messages=7" {
		t.Fatalf("bob: %v %v %v", f, ok, err)
	}
	if _, ok, err := u.Fields("carol"); ok || err != nil {
		t.Fatalf("carol: %v %v", ok, err)
	}
	// The file is re-read when it changes (here its size).
	os.WriteFile(first, []byte("alice:{PLAIN}x::::::userdb_quota_rule=*:storage=3G\n"), 0o600)
	if f, _, _ := u.Fields("alice"); f["quota_rule"] != "*:storage=3G" {
		t.Fatalf("after change: %v", f)
	}
}

// TestUserdbFiles: a userdb passwd-file of its own (userdb { driver =
// passwd-file }) adds its fields and overrides the passdb's.
func TestUserdbFiles(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "passwd")
	users := filepath.Join(dir, "userdb")
	os.WriteFile(pass, []byte("alice:{PLAIN}x::::::userdb_quota_rule=*:storage=1G userdb_quota_rule2=*:messages=5\nbob:{PLAIN}y::::::\n"), 0o600)
	os.WriteFile(users, []byte("alice:::::::quota_rule=*:storage=3G\ncarol:::::::quota_rule=*:storage=1M\n"), 0o600)
	u, err := NewUserdb([]PassdbConfig{{Driver: "passwd-file", Path: pass}}, []PassdbConfig{{Driver: "passwd-file", Path: users}})
	if err != nil {
		t.Fatal(err)
	}
	f, ok, err := u.Fields("alice")
	if err != nil || !ok || f["quota_rule"] != "*:storage=3G" || f["quota_rule2"] != "*:messages=5" {
		t.Fatalf("alice: %v %v %v", f, ok, err)
	}
	if f, ok, _ := u.Fields("bob"); !ok || len(f) != 0 {
		t.Fatalf("bob: %v %v", f, ok)
	}
	if f, ok, _ := u.Fields("carol"); !ok || f["quota_rule"] != "*:storage=1M" {
		t.Fatalf("carol (userdb only): %v %v", f, ok)
	}
	if _, err := NewUserdb(nil, []PassdbConfig{{Driver: "passwd-file", Path: filepath.Join(dir, "missing")}}); err == nil {
		t.Error("missing userdb file: no error")
	}
}
