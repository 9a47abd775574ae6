package pop3server

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want *Command
		err  string // expected ParseError text, "" for success
	}{
		{line: "CAPA", want: &Command{Verb: "CAPA"}},
		{line: "capa", want: &Command{Verb: "CAPA"}},
		{line: "QuIt", want: &Command{Verb: "QUIT"}},
		{line: "NOOP extra words", want: &Command{Verb: "NOOP"}},
		{line: "STAT", want: &Command{Verb: "STAT"}},
		{line: "RSET", want: &Command{Verb: "RSET"}},
		{line: "STLS", want: &Command{Verb: "STLS"}},
		{line: "LIST", want: &Command{Verb: "LIST"}},
		{line: "LIST ", want: &Command{Verb: "LIST"}},
		{line: "LIST 2", want: &Command{Verb: "LIST", Msg: 2, HasMsg: true}},
		{line: "list   7", want: &Command{Verb: "LIST", Msg: 7, HasMsg: true}},
		{line: "LIST 007", want: &Command{Verb: "LIST", Msg: 7, HasMsg: true}},
		{line: "LIST 0", want: &Command{Verb: "LIST", Msg: 0, HasMsg: true}}, // range is the session's business
		{line: "LIST x", err: "Invalid message number: x"},
		{line: "LIST 1 2", err: "Noise after message number:  2"},
		{line: "LIST 1x", err: "Noise after message number: x"},
		{line: "LIST -1", err: "Invalid message number: -1"},
		{line: "LIST 4294967295", want: &Command{Verb: "LIST", Msg: 4294967295, HasMsg: true}},
		{line: "LIST 4294967296", err: "Message number too large: 4294967296"},
		{line: "UIDL", want: &Command{Verb: "UIDL"}},
		{line: "UIDL 3", want: &Command{Verb: "UIDL", Msg: 3, HasMsg: true}},
		{line: "RETR 1", want: &Command{Verb: "RETR", Msg: 1, HasMsg: true}},
		{line: "RETR", err: "Invalid message number: "},
		{line: "RETR 1 2", err: "Noise after message number:  2"},
		{line: "DELE 12", want: &Command{Verb: "DELE", Msg: 12, HasMsg: true}},
		{line: "DELE abc", err: "Invalid message number: abc"},
		{line: "TOP 1 0", want: &Command{Verb: "TOP", Msg: 1, HasMsg: true, Lines: 0}},
		{line: "top 3  10", want: &Command{Verb: "TOP", Msg: 3, HasMsg: true, Lines: 10}},
		{line: "TOP 1", err: "Missing line count."},
		{line: "TOP 1 x", err: "Invalid size: x"},
		{line: "TOP 1 5 6", err: "Noise after size:  6"},
		{line: "TOP 1 99999999999999999999999", err: "Size too large: 99999999999999999999999"},
		{line: "TOP x 1", err: "Invalid message number: x 1"},
		{line: "USER alice", want: &Command{Verb: "USER", Arg: "alice"}},
		{line: "USER", err: "No username given."},
		{line: "PASS secret", want: &Command{Verb: "PASS", Arg: "secret"}},
		{line: "PASS  two words ", want: &Command{Verb: "PASS", Arg: " two words "}},
		{line: "PASS", want: &Command{Verb: "PASS"}},
		{line: "APOP mrose c4c9334bac560ecc979e58001b3e22fb", want: &Command{Verb: "APOP", Arg: "mrose c4c9334bac560ecc979e58001b3e22fb"}},
		{line: "AUTH", want: &Command{Verb: "AUTH"}},
		{line: "AUTH plain", want: &Command{Verb: "AUTH", Arg: "PLAIN"}},
		{line: "AUTH PLAIN =", want: &Command{Verb: "AUTH", Arg: "PLAIN", InitialResponse: []byte{}}},
		{line: "AUTH PLAIN AGFsaWNlAHBhc3M=", want: &Command{Verb: "AUTH", Arg: "PLAIN", InitialResponse: []byte("\x00alice\x00pass")}},
		{line: "AUTH PLAIN !!!", err: "[AUTH] Invalid base64 data in initial response."},
		{line: "AUTH PLAIN AGFsaWNlAHBhc3M", err: "[AUTH] Invalid base64 data in initial response."},
		{line: "AUTH PLAIN AGFsaWNl AHBhc3M=", err: "[AUTH] Invalid base64 data in initial response."},
		{line: "AUTH PLAIN ", err: "[AUTH] Invalid base64 data in initial response."},
		{line: "", err: "Unknown command."},
		{line: " LIST", err: "Unknown command."},
		{line: "XYZZY", err: "Unknown command: XYZZY"},
		{line: "LAST", err: "Unknown command: LAST"},
		{line: "RETR\x001", err: "Invalid command: NUL byte in line."},
		{line: "\x1b[31mEVIL", err: "Unknown command: ?[31MEVIL"},
		{line: "\xff\xfe\x80 1", err: "Unknown command: ???"},
		{line: strings.Repeat("A", 100), err: "Unknown command: " + strings.Repeat("A", 40) + "..."},
	}
	for _, tt := range tests {
		got, err := ParseCommand([]byte(tt.line))
		if tt.err != "" {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Msg != tt.err {
				t.Errorf("ParseCommand(%q) = %+v, %v; want error %q", tt.line, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestParseErrorFlags(t *testing.T) {
	_, err := ParseCommand([]byte("FOO"))
	if pe := err.(*ParseError); !pe.Unknown || pe.Auth {
		t.Errorf("FOO: %+v, want Unknown", pe)
	}
	_, err = ParseCommand([]byte("AUTH PLAIN %%%"))
	if pe := err.(*ParseError); pe.Unknown || !pe.Auth {
		t.Errorf("AUTH with bad base64: %+v, want Auth", pe)
	}
	_, err = ParseCommand([]byte("RETR x"))
	if pe := err.(*ParseError); pe.Unknown || pe.Auth {
		t.Errorf("RETR x: %+v, want neither flag", pe)
	}
}

// FuzzCommand checks that the parser never panics, accepts only known
// verbs, and never echoes bytes that could break the response line.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"USER alice", "PASS pw", "LIST", "LIST 1", "TOP 1 10", "UIDL 3", "AUTH PLAIN =",
		"AUTH PLAIN AGFsaWNlAHBhc3M=", "RETR 4294967296", "DELE \x00", "\xff", "TOP 1 1 1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := ParseCommand(line)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			for _, c := range []byte(pe.Msg) {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("error text %q contains byte %#x", pe.Msg, c)
				}
			}
			if len(pe.Msg) > 200 {
				t.Fatalf("error text is %d bytes long", len(pe.Msg))
			}
			return
		}
		if _, ok := commands[cmd.Verb]; !ok {
			t.Fatalf("accepted unknown verb %q", cmd.Verb)
		}
		if cmd.Verb != strings.ToUpper(cmd.Verb) {
			t.Fatalf("verb %q not upper case", cmd.Verb)
		}
		if bytes.IndexByte(line, 0) >= 0 {
			t.Fatalf("accepted a line with NUL: %q", line)
		}
		if (cmd.Verb == "TOP" || cmd.Verb == "RETR" || cmd.Verb == "DELE") && !cmd.HasMsg {
			t.Fatalf("command without its message number accepted: %q", line)
		}
	})
}

func TestDefaultUIDLMatchesDovecot(t *testing.T) {
	// Dovecot 2.3 with pop3_uidl_format = %08Xu%08Xv for UID 1 in a mailbox
	// with UIDVALIDITY 1795680723.
	if got := DefaultUIDL(1, 1795680723); got != "000000016b07e9d3" {
		t.Errorf("DefaultUIDL = %q, want Dovecot's 000000016b07e9d3", got)
	}
}
