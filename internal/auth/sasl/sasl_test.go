package sasl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var errBad = errors.New("bad credentials")

// step is one client message and the server's expected answer.
type step struct {
	response  []byte // nil: no initial response
	challenge []byte
	done      bool
	err       error
}

type call struct{ authzid, user, pass string }

func run(t *testing.T, s Server, steps []step) {
	t.Helper()
	for i, st := range steps {
		ch, done, err := s.Next(st.response)
		if !reflect.DeepEqual(ch, st.challenge) || done != st.done || !errors.Is(err, st.err) {
			t.Fatalf("step %d: Next(%q) = %q, %v, %v; want %q, %v, %v", i, st.response, ch, done, err, st.challenge, st.done, st.err)
		}
	}
}

func TestPlain(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		calls []call
	}{
		{"initial response", []step{
			{response: []byte("\x00alice\x00secret"), done: true},
			{response: []byte("x"), done: true, err: ErrDone},
		}, []call{{"", "alice", "secret"}}},
		{"no initial response", []step{
			{response: nil, challenge: []byte{}},
			{response: []byte("alice\x00alice\x00secret"), done: true},
		}, []call{{"alice", "alice", "secret"}}},
		{"password with spaces and colon", []step{
			{response: []byte("\x00alice\x00a b:c"), done: true},
		}, []call{{"", "alice", "a b:c"}}},
		{"wrong password", []step{
			{response: []byte("\x00alice\x00wrong"), done: true, err: errBad},
		}, []call{{"", "alice", "wrong"}}},
		{"empty initial response", []step{
			{response: []byte{}, done: true, err: ErrMalformed},
		}, nil},
		{"one NUL", []step{{response: []byte("alice\x00secret"), done: true, err: ErrMalformed}}, nil},
		{"three NULs", []step{{response: []byte("\x00alice\x00sec\x00ret"), done: true, err: ErrMalformed}}, nil},
		{"empty authcid", []step{{response: []byte("\x00\x00secret"), done: true, err: ErrMalformed}}, nil},
		{"other authzid (master user)", []step{
			{response: []byte("bob\x00alice\x00secret"), done: true, err: ErrAuthzidMismatch},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []call
			s := NewPlain(func(authzid, user, pass string) error {
				calls = append(calls, call{authzid, user, pass})
				if pass != "secret" && pass != "a b:c" {
					return errBad
				}
				return nil
			})
			run(t, s, tt.steps)
			if !reflect.DeepEqual(calls, tt.calls) {
				t.Errorf("check calls = %q, want %q", calls, tt.calls)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		calls []call
	}{
		{"no initial response", []step{
			{response: nil, challenge: []byte("Username:")},
			{response: []byte("alice"), challenge: []byte("Password:")},
			{response: []byte("secret"), done: true},
			{response: []byte("x"), done: true, err: ErrDone},
		}, []call{{"", "alice", "secret"}}},
		{"user name as initial response", []step{
			{response: []byte("alice"), challenge: []byte("Password:")},
			{response: []byte("secret"), done: true},
		}, []call{{"", "alice", "secret"}}},
		{"wrong password", []step{
			{response: nil, challenge: []byte("Username:")},
			{response: []byte("alice"), challenge: []byte("Password:")},
			{response: []byte("nope"), done: true, err: errBad},
		}, []call{{"", "alice", "nope"}}},
		{"empty password reaches check", []step{
			{response: []byte("alice"), challenge: []byte("Password:")},
			{response: []byte{}, done: true, err: errBad},
		}, []call{{"", "alice", ""}}},
		{"empty user name", []step{
			{response: nil, challenge: []byte("Username:")},
			{response: []byte{}, done: true, err: ErrMalformed},
		}, nil},
		{"empty initial response", []step{
			{response: []byte{}, done: true, err: ErrMalformed},
		}, nil},
		{"NUL in user", []step{
			{response: []byte("a\x00b"), done: true, err: ErrMalformed},
		}, nil},
		{"NUL in password", []step{
			{response: []byte("alice"), challenge: []byte("Password:")},
			{response: []byte("sec\x00ret"), done: true, err: ErrMalformed},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []call
			s := NewLogin(func(user, pass string) error {
				calls = append(calls, call{"", user, pass})
				if pass != "secret" {
					return errBad
				}
				return nil
			})
			run(t, s, tt.steps)
			if !reflect.DeepEqual(calls, tt.calls) {
				t.Errorf("check calls = %q, want %q", calls, tt.calls)
			}
		})
	}
}

func TestAnonymous(t *testing.T) {
	long := strings.Repeat("é", 255)
	tests := []struct {
		name   string
		steps  []step
		traces []string
	}{
		{"initial response with email", []step{
			{response: []byte("sirhc@example.org"), done: true},
			{response: []byte("x"), done: true, err: ErrDone},
		}, []string{"sirhc@example.org"}},
		{"no initial response", []step{
			{response: nil, challenge: []byte{}},
			{response: []byte("opaque token"), done: true},
		}, []string{"opaque token"}},
		{"empty trace", []step{{response: []byte{}, done: true}}, []string{""}},
		{"255 characters", []step{{response: []byte(long), done: true}}, []string{long}},
		{"256 characters", []step{{response: []byte(long + "x"), done: true, err: ErrTraceInvalid}}, nil},
		{"not UTF-8", []step{{response: []byte("a\xffb"), done: true, err: ErrTraceInvalid}}, nil},
		{"forged log line", []step{{response: []byte("x\nlevel=ERROR msg=boom"), done: true, err: ErrTraceInvalid}}, nil},
		{"NUL", []step{{response: []byte("a\x00b"), done: true, err: ErrTraceInvalid}}, nil},
		{"check refuses", []step{{response: []byte("t"), done: true, err: errBad}}, []string{"t"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			s := NewAnonymous(func(trace string) error {
				got = append(got, trace)
				if tc.name == "check refuses" {
					return errBad
				}
				return nil
			})
			run(t, s, tc.steps)
			if !reflect.DeepEqual(got, tc.traces) {
				t.Errorf("check calls %q, want %q", got, tc.traces)
			}
		})
	}
}
