package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Dump and Parse unchanged. Includes and <file values are served
// from a small in-memory tree, itself including the main file to exercise
// loop detection.
func FuzzParse(f *testing.F) {
	f.Add([]byte(richConfig))
	f.Add([]byte("protocols = $protocols imap\n!include inc.conf\nssl_cert = <cert.pem\n"))
	f.Add([]byte("service imap-login {\n inet_listener imap {\n  port = 0\n }\n}\n"))
	f.Add([]byte("k = \"a\\\"b\" # c\nsec \"n m\" {\n}\n"))
	fsys := memFS{
		"inc.conf":   "login_greeting = included\nservice lmtp {\n inet_listener lmtp {\n  port = 24\n }\n}\n",
		"loop.conf":  "!include fuzz.conf\n",
		"cert.pem":   "-----BEGIN CERTIFICATE-----\n",
		"sub/a.conf": "mail_max_userip_connections = 3\n",
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.conf", data, fsys.read)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.File == "" || le.Line <= 0 ||
				!strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", le.File, le.Line)) {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		_ = c.Validate()
		for _, p := range []string{"imap", "pop3", "lmtp"} {
			_ = c.Listeners(p)
		}
		roundTrip(t, c, false, fsys.read)
		roundTrip(t, c, true, fsys.read)
	})
}
