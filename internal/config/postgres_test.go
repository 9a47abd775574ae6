package config

import (
	"bytes"
	"strings"
	"testing"
)

func TestPostgresLocation(t *testing.T) {
	for _, tc := range []struct{ conf, dsn, shown string }{
		{"mail_location = postgres:postgres://roost:s3cret@db.example.org/mail?sslmode=verify-full\nbase_dir = /run/r1",
			"postgres://roost:s3cret@db.example.org/mail?sslmode=verify-full",
			"postgres:postgres://roost:xxxxx@db.example.org/mail?sslmode=verify-full"},
		{"base_dir = /run/r1\nmail_location = postgres:host=/run/postgresql dbname=mail user=roost password='s3 cret'",
			"host=/run/postgresql dbname=mail user=roost password='s3 cret'",
			"postgres:host=/run/postgresql dbname=mail user=roost password=xxxxx"},
		{"base_dir = /run/r1\nmail_location = postgres:postgresql:///mail?host=/run/postgresql&password=s3cret",
			"postgresql:///mail?host=/run/postgresql&password=s3cret",
			"postgres:postgresql:///mail?host=%2Frun%2Fpostgresql&password=xxxxx"},
	} {
		c, err := Parse("/etc/roost/roost.conf", []byte(tc.conf), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.conf, err)
		}
		ml := c.MailLocation
		if ml.Driver != "postgres" || ml.DSN != tc.dsn {
			t.Fatalf("%s: parsed %+v", tc.conf, ml)
		}
		// The admin socket goes to base_dir, wherever it was set.
		if ml.Path != "/run/r1" {
			t.Errorf("%s: Path %q, want base_dir /run/r1", tc.conf, ml.Path)
		}
		if ml.String() != tc.shown {
			t.Errorf("String() = %q, want %q", ml.String(), tc.shown)
		}
		var dump bytes.Buffer
		if err := c.Dump(&dump, true); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(dump.String(), "s3") || !strings.Contains(dump.String(), "mail_location = "+tc.shown) {
			t.Errorf("dump shows the password or not the setting:\n%s", dump.String())
		}
	}
}

func TestPostgresLocationErrorsHidePassword(t *testing.T) {
	for _, v := range []string{
		"postgres://roost:s3cret@db.example.org:notaport/mail",
		"host=db password=s3cret sslmode=bogus",
	} {
		_, err := Parse("roost.conf", []byte("mail_location = postgres:"+v), nil)
		if err == nil {
			t.Fatalf("%s: accepted", v)
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "invalid connection string") {
			t.Errorf("%s: error %q", v, err)
		}
	}
}

func TestPostgresLocationValidate(t *testing.T) {
	for _, tc := range []struct {
		dsn    string
		danger bool
	}{
		{"postgres://roost@db.example.org/mail?sslmode=verify-full", false},
		{"postgres://roost@db.example.org/mail", true}, // sslmode=prefer: falls back to plain text
		{"postgres://roost@db.example.org/mail?sslmode=require", true},
		{"host=10.0.0.5 dbname=mail sslmode=disable", true},
		{"host=/run/postgresql dbname=mail", false},
		{"postgres://roost@127.0.0.1/mail?sslmode=disable", false},
		{"postgres://roost@localhost/mail", false},
	} {
		c, err := Parse("roost.conf", []byte("mail_location = postgres:"+tc.dsn), nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range c.Validate() {
			if p.Setting == "mail_location" && p.Dangerous {
				found = true
			}
		}
		if found != tc.danger {
			t.Errorf("%s: dangerous=%v, want %v", tc.dsn, found, tc.danger)
		}
	}
}
