package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The S3 settings: the location is checked, the secret key comes from a
// file only, and no dump shows it.
func TestBlobSettings(t *testing.T) {
	fsys, base := validBase(t)
	fsys["/etc/roost/s3-secret"] = "wJalrXUtnFEMI-topsecret\n"
	c, err := Parse("/etc/roost/roost.conf", []byte(base+
		"mail_blob_location = s3://mail/roost?endpoint=10.0.0.5:9000&secure=false\n"+
		"mail_blob_s3_access_key = AKIAROOST\nmail_blob_s3_secret_key = <s3-secret\n"), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	if c.MailBlobLocation != "s3://mail/roost?endpoint=10.0.0.5:9000&secure=false" || c.MailBlobS3AccessKey != "AKIAROOST" ||
		string(c.MailBlobS3SecretKey.Data) != "wJalrXUtnFEMI-topsecret" || c.MailBlobS3SecretKey.Path != "/etc/roost/s3-secret" {
		t.Fatalf("decoded %q %q %+v", c.MailBlobLocation, c.MailBlobS3AccessKey, c.MailBlobS3SecretKey)
	}
	for _, nonDefault := range []bool{false, true} {
		var b bytes.Buffer
		if err := c.Dump(&b, nonDefault); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "topsecret") || !strings.Contains(b.String(), "mail_blob_s3_secret_key = </etc/roost/s3-secret") {
			t.Fatalf("dump shows the secret or not its file:\n%s", b.String())
		}
	}
	// Plain HTTP to another host is dangerous; to this host it is not.
	if ps := problemStrings(c.Validate()); !strings.Contains(ps, "mail_blob_location: secure=false: message bodies cross the network to 10.0.0.5:9000 unencrypted") {
		t.Fatalf("secure=false to a remote endpoint not reported:\n%s", ps)
	}
	local, err := Parse("/etc/roost/roost.conf", []byte(base+"mail_blob_location = s3://mail?endpoint=127.0.0.1:9000&secure=false\n"), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	if ps := problemStrings(local.Validate()); strings.Contains(ps, "unencrypted") {
		t.Fatalf("secure=false on loopback reported:\n%s", ps)
	}
	// Only with a PostgreSQL mail store.
	if ps := problemStrings(c.Validate()); !strings.Contains(ps, "mail_blob_location: needs mail_location = postgres") {
		t.Fatalf("sqlite with an object store not refused:\n%s", ps)
	}
	for _, bad := range []string{
		"mail_blob_s3_secret_key = wJalrXUtnFEMI-topsecret\n",
		"mail_blob_location = s3://AKIA:secret@mail/x\n",
		"mail_blob_location = http://mail/x\n",
		"mail_blob_location = s3:///x\n",
	} {
		_, err := Parse("/etc/roost/roost.conf", []byte(base+bad), fsys.read)
		if err == nil {
			t.Errorf("accepted %q", bad)
		} else if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), ":secret@") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

// passdb driver sql: args is the sql.conf, resolved like a passwd-file; a
// world-readable sql.conf (it holds the database password) is dangerous.
func TestSQLPassdbSettings(t *testing.T) {
	dir := t.TempDir()
	cert, key := testKeyPair(t)
	for name, data := range map[string]string{"cert.pem": cert, "key.pem": key,
		"sql.conf": "driver = pgsql\nconnect = host=db password=x\npassword_query = SELECT 1\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "roost.conf")
	os.WriteFile(path, []byte("protocols = imap\nlisten = 127.0.0.1\nmail_location = sqlite:data\nssl_cert = <cert.pem\nssl_key = <key.pem\n"+
		"passdb {\n  driver = sql\n  args = sql.conf\n}\n"), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Passdbs) != 1 || c.Passdbs[0].Driver != "sql" || c.Passdbs[0].Path != filepath.Join(dir, "sql.conf") {
		t.Fatalf("passdbs %+v", c.Passdbs)
	}
	if ps := c.Validate(); len(ps) != 0 {
		t.Fatalf("problems:\n%s", problemStrings(ps))
	}
	os.Chmod(filepath.Join(dir, "sql.conf"), 0o644)
	if ps := problemStrings(c.Validate()); !strings.Contains(ps, "sql.conf is readable by every local user (mode 0644): its connect line holds the database password") {
		t.Fatalf("world-readable sql.conf not reported:\n%s", ps)
	}
}
