package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
)

// Settings for running several nodes (issue 9, docs/SCALING.md): message
// bodies in an S3-compatible object store. They are appended to the
// settings table so that Dump prints them after the older ones.
func init() {
	settings = append(settings,
		setting{name: "mail_blob_location", def: "",
			set: func(_ *decoder, c *Config, e *Entry) error {
				if err := checkBlobLocation(e.Value); err != nil {
					return err
				}
				c.MailBlobLocation = e.Value
				return nil
			},
			get: func(c *Config) string { return c.MailBlobLocation }},
		setting{name: "mail_blob_s3_access_key", def: "",
			set: func(_ *decoder, c *Config, e *Entry) error {
				c.MailBlobS3AccessKey = e.Value
				return nil
			},
			get: func(c *Config) string { return c.MailBlobS3AccessKey }},
		// The secret is only accepted from a file (like ssl_key), so that
		// `roost config` and its dumps print the path and never the key.
		setting{name: "mail_blob_s3_secret_key", def: "", file: true,
			set: func(d *decoder, c *Config, e *Entry) error {
				if !e.IsFile && e.Value != "" {
					return errors.New(`the secret key is read from a file only, so that it never appears in the configuration or its dumps: ` +
						`mail_blob_s3_secret_key = </etc/roost/s3-secret-key (mode 0600), or AWS_SECRET_ACCESS_KEY in the environment`)
				}
				if err := d.pemFile(&c.MailBlobS3SecretKey, e); err != nil {
					return err
				}
				c.MailBlobS3SecretKey.Data = bytes.TrimSpace(c.MailBlobS3SecretKey.Data)
				return nil
			},
			get: func(c *Config) string { return c.MailBlobS3SecretKey.Path }},
	)
}

// checkBlobLocation checks the form of mail_blob_location; the S3 client
// (internal/blob/s3.ParseLocation) reads the parameters.
func checkBlobLocation(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return fmt.Errorf("invalid URL: %w", err)
	case u.Scheme != "s3":
		return fmt.Errorf("%q: only s3://bucket/prefix?endpoint=host:port is supported", v)
	case u.User != nil:
		return errors.New("credentials do not belong in the URL; use mail_blob_s3_access_key and mail_blob_s3_secret_key = <file")
	case u.Host == "":
		return fmt.Errorf("%q: no bucket (s3://bucket/prefix)", v)
	}
	return nil
}

// loopbackHost reports whether endpoint (host[:port]) names this host.
func loopbackHost(endpoint string) bool {
	host := endpoint
	if h, _, err := net.SplitHostPort(endpoint); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scaleOut checks the settings of multi-node sites: an object store only
// with a PostgreSQL mail store, keys given together, and sql passdb args
// files (they hold the database password) not readable by everyone.
func (v *validator) scaleOut() {
	c := v.c
	if c.MailBlobLocation != "" {
		if c.MailLocation.Driver != "postgres" {
			v.add(Error, "mail_blob_location", "needs mail_location = postgres:...; with %s the message files stay beside the databases",
				c.MailLocation.Driver+":")
		}
		if (c.MailBlobS3AccessKey == "") != (c.MailBlobS3SecretKey.Path == "") {
			v.add(Error, "mail_blob_s3_access_key", "set both mail_blob_s3_access_key and mail_blob_s3_secret_key, or neither (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are used)")
		}
		if u, err := url.Parse(c.MailBlobLocation); err == nil && u.Query().Get("secure") == "false" && !loopbackHost(u.Query().Get("endpoint")) {
			v.danger("mail_blob_location", "secure=false: message bodies cross the network to %s unencrypted, where anyone on the path "+
				"can read or alter them. Use HTTPS (drop secure=false) unless the object store is on this host", u.Query().Get("endpoint"))
		}
	} else if c.MailBlobS3AccessKey != "" || c.MailBlobS3SecretKey.Path != "" {
		v.add(Warning, "mail_blob_s3_access_key", "S3 keys are set but mail_blob_location is not; they have no effect")
	}
	if p := c.MailBlobS3SecretKey.Path; p != "" {
		if fi, err := v.stat(p); err == nil && fi.Mode().Perm()&0o004 != 0 {
			v.danger("mail_blob_s3_secret_key", "%s is readable by every local user (mode %04o): anyone with a shell can read "+
				"and delete all mail in the bucket. chmod 0600 (or 0640 with the roost group)", p, fi.Mode().Perm())
		}
	}
	for _, db := range c.Passdbs {
		if db.Driver != "sql" || db.Path == "" {
			continue
		}
		if fi, err := v.stat(db.Path); err == nil && fi.Mode().Perm()&0o004 != 0 {
			v.dangerAt(db.File, db.Line, "passdb", "%s is readable by every local user (mode %04o): its connect line holds the "+
				"database password. chmod 0640 (owner root, group of the roost user) or 0600", db.Path, fi.Mode().Perm())
		}
	}
}
