package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore"

	_ "modernc.org/sqlite"
)

const quotaMsg = "From: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n"

// TestQuotaNoServer: limits from roost.conf and the users file apply to
// roost deliver (exit 77, or 75 with quota_full_tempfail), and quota
// get/recalc work on the store directly.
func TestQuotaNoServer(t *testing.T) {
	path, dir := testConfig(t, "plugin {\n  quota = count:Mail space\n  quota_rule = *:storage=1M\n  quota_rule2 = *:messages=100\n}\n")
	// alice's own rule replaces quota_rule2: three messages.
	os.WriteFile(filepath.Join(dir, "users"), []byte("alice:{PLAIN}secret::::::userdb_quota_rule2=*:messages=3\nbob:{PLAIN}x::::::\n"), 0o600)
	for i := range 3 {
		if code, _, stderr := run(t, quotaMsg, "deliver", "-c", path, "-d", "alice"); code != exitOK {
			t.Fatalf("delivery %d: exit %d: %s", i+1, code, stderr)
		}
	}
	code, _, stderr := run(t, quotaMsg, "deliver", "-c", path, "-d", "alice")
	if code != exitNoPerm || !strings.Contains(stderr, "Quota exceeded") {
		t.Fatalf("delivery over quota: exit %d %q, want 77", code, stderr)
	}
	var q admin.QuotaResult
	if err := json.Unmarshal([]byte(runOK(t, "quota", "get", "-c", path, "-u", "alice", "--json")), &q); err != nil {
		t.Fatal(err)
	}
	want := admin.QuotaResult{User: "alice", StorageUsed: 3 * int64(len(quotaMsg)), StorageLimit: 1 << 20, MessagesUsed: 3, MessagesLimit: 3}
	if q != want {
		t.Fatalf("quota get: %+v, want %+v", q, want)
	}
	out := runOK(t, "quota", "get", "-c", path, "-u", "alice")
	wantTable := "Quota name  Type     Value  Limit  %\n" +
		"Mail space  STORAGE  1      1024   0\n" +
		"Mail space  MESSAGE  3      3      100\n"
	if out != wantTable {
		t.Errorf("quota get table:\n%s\nwant\n%s", out, wantTable)
	}
	// bob has the configured limits.
	json.Unmarshal([]byte(runOK(t, "quota", "get", "-c", path, "-u", "bob", "--json")), &q)
	if q.MessagesLimit != 100 || q.StorageLimit != 1<<20 || q.MessagesUsed != 0 {
		t.Errorf("bob: %+v", q)
	}
	out = runOK(t, "quota", "recalc", "-c", path, "-u", "alice")
	if want := fmt.Sprintf("recalculated: storage %d -> %[1]d octets, messages 3 -> 3\n", 3*len(quotaMsg)); !strings.HasPrefix(out, want) {
		t.Errorf("recalc: %q", out)
	}
	// quota_full_tempfail = yes: the MTA keeps the message and retries.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, "quota_full_tempfail = yes\n"...), 0o600)
	if code, _, _ := run(t, quotaMsg, "deliver", "-c", path, "-d", "alice"); code != exitTempFail {
		t.Errorf("over quota with quota_full_tempfail: exit %d, want 75", code)
	}
	for _, args := range [][]string{{"quota", "get", "-c", path}, {"quota", "recalc", "-c", path, "-u", "alice", "extra"}} {
		if code, _, _ := run(t, "", args...); code != exitUsage {
			t.Errorf("roost %s: exit %d, want 64", strings.Join(args, " "), code)
		}
	}
	if code, _, _ := run(t, "", "quota", "get", "-c", path, "-u", "nobody"); code != exitNoUser {
		t.Errorf("unknown user: exit %d, want 67", code)
	}
}

// TestQuotaRunningServer: quota get and recalc go through the admin socket
// of a running server and see its deliveries at once; recalc repairs a
// counter that went wrong.
func TestQuotaRunningServer(t *testing.T) {
	path, dir := testConfig(t, adminListeners(t)+"quota_rule = *:messages=2\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	appendMsgs(t, a.Store(), mailstore.NewMessage{}, mailstore.NewMessage{})
	var q admin.QuotaResult
	json.Unmarshal([]byte(runOK(t, "quota", "get", "-c", path, "-u", "alice", "--json")), &q)
	if q.MessagesUsed != 2 || q.MessagesLimit != 2 {
		t.Fatalf("quota get: %+v", q)
	}
	// The server's store refuses a third message.
	acct, err := a.Store().Account(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	if _, _, err := acct.Append(context.Background(), "INBOX", mailstore.NewMessage{}, strings.NewReader(quotaMsg)); mailstore.KindOf(err) != mailstore.KindOverQuota {
		t.Fatalf("third message: %v, want over quota", err)
	}
	// Break the counter behind the server's back (as a crash of an old
	// version might have), then repair it through the server.
	db := filepath.Join(dir, "mail", "accounts", "alice", "index.db")
	breakUsage(t, db)
	json.Unmarshal([]byte(runOK(t, "quota", "recalc", "-c", path, "-u", "alice", "--json")), &q)
	if q.Before == nil || q.Before.Messages != 7 || q.MessagesUsed != 2 {
		t.Fatalf("recalc: %+v (before %+v)", q, q.Before)
	}
	if _, u, _ := acct.Quota(context.Background()); u.Messages != 2 {
		t.Fatalf("after recalc the server sees %+v", u)
	}
}

// breakUsage sets the account's message counter to 7 directly in its
// database.
func breakUsage(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE account SET usage_messages = 7`); err != nil {
		t.Fatal(err)
	}
}
