package e2e

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestS3Blobs: the real binary on PostgreSQL with message bodies in an
// S3-compatible object store (an in-process fake S3 server). APPEND and
// LMTP put one object each under the configured prefix, FETCH returns the
// bytes, the database holds no body bytes; the secret key never shows in
// the configuration dump; roost who --health reports the object store and
// fails (exit 1) while it is unreachable.
func TestS3Blobs(t *testing.T) {
	t.Parallel()
	be := s3mem.New()
	if err := be.CreateBucket("mail"); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(gofakes3.New(be).Server())
	defer fake.Close()
	u, _ := url.Parse(fake.URL)

	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "s3-secret")
	if err := os.WriteFile(secret, []byte("S3-t0p-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, nodeOpts{mailLocation: "postgres:" + db.DSN, extra: "base_dir = " + dir + "\n" +
		"mail_blob_location = s3://mail/roost/?endpoint=" + u.Host + "&secure=false&region=us-east-1\n" +
		"mail_blob_s3_access_key = ROOSTTEST\nmail_blob_s3_secret_key = <" + secret + "\n"})

	stdout, stderr, _ := n.cli(nil, "config", "dump", "-c", n.cfg)
	if bytes.Contains(stdout, []byte("t0p-s3cret")) || bytes.Contains(stderr, []byte("t0p-s3cret")) ||
		!bytes.Contains(stdout, []byte("mail_blob_s3_secret_key = <"+secret)) {
		t.Fatalf("config dump shows the secret key or not its file:\n%s%s", stdout, stderr)
	}

	appended := crlf(corpus()[0].raw)
	c := n.imaplib(t, "ssl", "")
	c.ok("login", "alice", alicePass)
	c.ok("append", "INBOX", nil, nil, appended)
	lmtpBody := "From: sender@example.org\r\nSubject: via LMTP to S3\r\n\r\nbody\r\n"
	if out, code := n.swaks(n.lmtpPort, lmtpBody, "--from", "sender@example.org", "--to", "alice@example.com"); code != 0 ||
		!strings.Contains(out, "250 2.0.0 <alice@example.com>") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	c.ok("select", "INBOX")
	if got := literalOf(t, fetchOne(t, c, "1", "(BODY.PEEK[])"), "BODY[]"); !bytes.Equal(got, appended) {
		t.Fatalf("FETCH 1 BODY[] differs from the APPEND: %s", diffAt(got, appended))
	}
	if got := literalOf(t, fetchOne(t, c, "2", "(BODY.PEEK[TEXT])"), "BODY[TEXT]"); string(got) != "body\r\n" {
		t.Fatalf("FETCH 2 BODY[TEXT] = %q", got)
	}

	// Two objects under the prefix, none elsewhere; the database keeps no
	// body bytes.
	list, err := be.ListBucket("mail", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, o.Key)
	}
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "roost/") || !strings.HasPrefix(keys[1], "roost/") {
		t.Fatalf("objects in the bucket: %q, want two under roost/", keys)
	}
	conn, err := pgx.Connect(context.Background(), db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var chunks, contents int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM blob_chunks), (SELECT count(*) FROM contents)`).Scan(&chunks, &contents); err != nil {
		t.Fatal(err)
	}
	if chunks != 0 || contents != 2 {
		t.Fatalf("database: %d body chunks, %d contents; want 0 and 2", chunks, contents)
	}

	// Health: ok, then the object store goes away.
	stdout, stderr, code := n.cli(nil, "who", "--health", "-c", n.cfg)
	if code != 0 || !strings.Contains(string(stdout), "store: ok") || !strings.Contains(string(stdout), "object store: ok") {
		t.Fatalf("who --health: exit %d\n%s%s", code, stdout, stderr)
	}
	c.logout()
	fake.Close()
	stdout, stderr, code = n.cli(nil, "who", "--health", "-c", n.cfg)
	if code != 1 || !strings.Contains(string(stdout), "object store: FAILED") || !strings.Contains(string(stdout), "store: ok") {
		t.Fatalf("who --health with the object store down: exit %d\n%s%s", code, stdout, stderr)
	}
}
