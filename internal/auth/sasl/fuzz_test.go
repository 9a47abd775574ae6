package sasl

import (
	"bytes"
	"testing"
)

// FuzzPlain: any client bytes either fail cleanly or reach check with the
// exact parts, and a different authzid never reaches check.
func FuzzPlain(f *testing.F) {
	for _, s := range []string{"\x00alice\x00secret", "alice\x00alice\x00pw", "bob\x00alice\x00pw", "", "\x00", "\x00\x00", "a\x00b\x00c\x00d"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		called := false
		s := NewPlain(func(authzid, user, pass string) error {
			called = true
			if authzid != "" && authzid != user {
				t.Fatalf("check called with authzid %q for user %q", authzid, user)
			}
			if user == "" || !bytes.Equal([]byte(authzid+"\x00"+user+"\x00"+pass), in) {
				t.Fatalf("check(%q, %q, %q) from %q", authzid, user, pass, in)
			}
			return nil
		})
		_, done, err := s.Next(in)
		if !done {
			t.Fatal("PLAIN with a response not done")
		}
		if (err == nil) != called {
			t.Fatalf("err %v, check called %v", err, called)
		}
	})
}

func FuzzLogin(f *testing.F) {
	f.Add([]byte("alice"), []byte("secret"))
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("a\x00"), []byte("b"))
	f.Fuzz(func(t *testing.T, user, pass []byte) {
		var got []string
		s := NewLogin(func(u, p string) error { got = []string{u, p}; return nil })
		s.Next(nil)
		if _, done, err := s.Next(user); done {
			if err == nil {
				t.Fatal("done without error after the user name")
			}
			return
		}
		_, done, err := s.Next(pass)
		if !done {
			t.Fatal("not done after the password")
		}
		if err == nil && (got[0] != string(user) || got[1] != string(pass)) {
			t.Fatalf("check got %q from %q/%q", got, user, pass)
		}
	})
}

// FuzzAnonymous: check sees exactly the client's bytes, and only when they
// are a valid trace (UTF-8, at most 255 characters, no control characters).
func FuzzAnonymous(f *testing.F) {
	for _, s := range []string{"", "a@b.example", "x\ny", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		called := false
		s := NewAnonymous(func(trace string) error {
			called = true
			if trace != string(in) || bytes.ContainsAny(in, "\r\n\x00") {
				t.Fatalf("check(%q) from %q", trace, in)
			}
			return nil
		})
		_, done, err := s.Next(in)
		if !done || (err == nil) != called {
			t.Fatalf("done %v, err %v, check called %v", done, err, called)
		}
	})
}
