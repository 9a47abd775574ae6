package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore"
)

// TestQuotaFunc: the configured rules, replaced per user by the passdb
// file's userdb_ fields and a userdb file's fields; a bad user rule and an
// unreadable file fall back to the configured limits.
func TestQuotaFunc(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	userdb := filepath.Join(dir, "userdb")
	os.WriteFile(passwd, []byte("alice:{PLAIN}x::::::userdb_quota_rule=*:storage=2G\n"+
		"bob:{PLAIN}x::::::userdb_quota_rule=*:storage=lots\n"+
		"carol:{PLAIN}x::::::\n"+
		"dave:{PLAIN}x::::::userdb_quota_rule2=*:messages=200%\n"), 0o600)
	os.WriteFile(userdb, []byte("carol:::::::quota_rule=*:ignore\n"), 0o600)
	conf := "mail_location = sqlite:" + filepath.Join(dir, "mail") + "\n" +
		"passdb {\n  driver = passwd-file\n  args = " + passwd + "\n}\n" +
		"userdb {\n  driver = passwd-file\n  args = " + userdb + "\n}\n" +
		"plugin {\n  quota_rule = *:storage=1G\n  quota_rule2 = *:messages=1000\n}\n"
	cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	q := QuotaFunc(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	const G = 1 << 30
	for user, want := range map[string]mailstore.Quota{
		"alice":  {Storage: 2 * G, Messages: 1000},
		"bob":    {Storage: G, Messages: 1000}, // bad rule: the default, logged
		"carol":  {},                           // *:ignore in the userdb file: no limits
		"dave":   {Storage: G, Messages: 2000},
		"nobody": {Storage: G, Messages: 1000},
	} {
		if got := q(user); got != want {
			t.Errorf("%s: %+v, want %+v", user, got, want)
		}
	}
	if !strings.Contains(logs.String(), "user=bob") {
		t.Errorf("bad rule not logged: %s", logs.String())
	}
	// A changed users file applies at once; a missing one gives defaults.
	os.WriteFile(passwd, []byte("alice:{PLAIN}x::::::userdb_quota_rule=*:storage=3G  \n"), 0o600)
	if got := q("alice"); got.Storage != 3*G {
		t.Errorf("after the users file changed: %+v", got)
	}
	os.Remove(passwd)
	if got := q("alice"); got != (mailstore.Quota{Storage: G, Messages: 1000}) {
		t.Errorf("users file gone: %+v", got)
	}
}
