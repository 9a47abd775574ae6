package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// read parses in and returns the header and what is left after it.
func read(t *testing.T, in []byte) (Header, string, error) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(in))
	h, err := Read(r)
	rest, _ := io.ReadAll(r)
	return h, string(rest), err
}

// v2 builds a version 2 header from its parts, with the length filled in.
func v2(verCmd, fam byte, body ...[]byte) []byte {
	b := append([]byte{}, v2Signature...)
	b = append(b, verCmd, fam, 0, 0)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-16))
	return b
}

func inet4(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func inet6(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func tlvBytes(typ byte, val string) []byte {
	return appendTLV(nil, typ, []byte(val))
}

// TestV1: what HAProxy's "send-proxy" writes, and the client's first
// bytes after it staying unread.
func TestV1(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Header
	}{
		{"tcp4", "PROXY TCP4 192.0.2.7 10.0.0.11 51234 143\r\n",
			Header{Version: 1, Source: ap("192.0.2.7:51234"), Destination: ap("10.0.0.11:143")}},
		{"tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 65535 993\r\n",
			Header{Version: 1, Source: ap("[2001:db8::7]:65535"), Destination: ap("[2001:db8::1]:993")}},
		{"tcp6 mapped", "PROXY TCP6 ::ffff:192.0.2.7 ::ffff:10.0.0.1 0 110\r\n",
			Header{Version: 1, Source: ap("192.0.2.7:0"), Destination: ap("10.0.0.1:110")}},
		{"unknown", "PROXY UNKNOWN\r\n", Header{Version: 1}},
		{"unknown with junk", "PROXY UNKNOWN ffff::1 whatever 1 2\r\n", Header{Version: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rest, err := read(t, []byte(tc.in+"a1 CAPABILITY\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, tc.want) {
				t.Fatalf("got %+v, want %+v", h, tc.want)
			}
			if rest != "a1 CAPABILITY\r\n" {
				t.Fatalf("left after the header: %q", rest)
			}
			if h.Forwarded() != tc.want.Source.IsValid() {
				t.Fatalf("Forwarded() = %v", h.Forwarded())
			}
		})
	}
}

// TestV2: what HAProxy's "send-proxy-v2" and "send-proxy-v2-ssl" write.
func TestV2(t *testing.T) {
	ssl := []byte{clientSSL | clientCertConn, 0, 0, 0, 0}
	ssl = append(ssl, tlvBytes(subSSLVersion, "TLSv1.3")...)
	ssl = append(ssl, tlvBytes(subSSLCipher, "TLS_AES_128_GCM_SHA256")...)
	ssl = append(ssl, tlvBytes(subSSLCN, "alice")...)
	ssl = append(ssl, tlvBytes(0x25, "RSA2048")...) // key algorithm: skipped
	for _, tc := range []struct {
		name string
		in   []byte
		want Header
	}{
		{"inet", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 51234, 993)),
			Header{Version: 2, Source: ap("192.0.2.7:51234"), Destination: ap("10.0.0.11:993")}},
		{"inet6", v2(0x21, 0x21, inet6("2001:db8::7", "2001:db8::1", 40000, 143)),
			Header{Version: 2, Source: ap("[2001:db8::7]:40000"), Destination: ap("[2001:db8::1]:143")}},
		{"inet6 mapped", v2(0x21, 0x21, inet6("::ffff:192.0.2.9", "::ffff:10.0.0.1", 1, 2)),
			Header{Version: 2, Source: ap("192.0.2.9:1"), Destination: ap("10.0.0.1:2")}},
		{"ssl and authority", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 143),
			tlvBytes(0x04, "\x00\x00"), // NOOP: skipped
			tlvBytes(tlvAuthority, "imap.example.org"),
			appendTLV(nil, tlvSSL, ssl)),
			Header{Version: 2, Source: ap("192.0.2.7:1"), Destination: ap("10.0.0.11:143"),
				Authority: "imap.example.org",
				TLS: &TLSInfo{Client: true, CertConn: true, Verified: true, Version: "TLSv1.3",
					Cipher: "TLS_AES_128_GCM_SHA256", CN: "alice"}}},
		{"ssl not verified", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 143),
			appendTLV(nil, tlvSSL, []byte{clientSSL, 0, 0, 0, 9})),
			Header{Version: 2, Source: ap("192.0.2.7:1"), Destination: ap("10.0.0.11:143"),
				TLS: &TLSInfo{Client: true}}},
		{"local health check", v2(0x20, 0x00), Header{Version: 2, Command: Local}},
		{"local with addresses and TLVs, discarded", v2(0x20, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2), tlvBytes(tlvAuthority, "x")),
			Header{Version: 2, Command: Local}},
		{"unspec", v2(0x21, 0x00), Header{Version: 2}},
		{"unix", v2(0x21, 0x31, make([]byte, 216)), Header{Version: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, rest, err := read(t, append(tc.in, "\x16\x03\x01"...))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, tc.want) {
				t.Fatalf("got %+v (TLS %+v), want %+v", h, h.TLS, tc.want)
			}
			if rest != "\x16\x03\x01" {
				t.Fatalf("left after the header: %q", rest)
			}
		})
	}
}

// TestV2CRC: a PP2_TYPE_CRC32C TLV is checked against the header.
func TestV2CRC(t *testing.T) {
	b := v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 143), tlvBytes(tlvCRC32C, "\x00\x00\x00\x00"))
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b, castagnoli))
	if h, _, err := read(t, b); err != nil || h.Source != ap("192.0.2.7:1") {
		t.Fatalf("good CRC: %+v, %v", h, err)
	}
	b[len(b)-1]++
	if _, _, err := read(t, b); err == nil || !strings.Contains(err.Error(), "CRC32C mismatch") {
		t.Fatalf("bad CRC: %v", err)
	}
}

// TestMalformed: each malformed header is an error, never a header.
func TestMalformed(t *testing.T) {
	long := "PROXY TCP4 " + strings.Repeat("1", 100) + "\r\n"
	for _, tc := range []struct {
		name string
		in   []byte
		want string // in the error
	}{
		{"imap client without header", []byte("a1 LOGIN alice secret\r\n"), "no PROXY header"},
		{"tls client without header", []byte("\x16\x03\x01\x02\x00\x01\x00\x01"), "no PROXY header"},
		{"empty", nil, "unexpected EOF"},
		{"v1 cut short", []byte("PROXY TCP4 192.0.2.7 10.0"), "unexpected EOF"},
		{"v1 too long", []byte(long), "longer than 107"},
		{"v1 LF only", []byte("PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n"), "CRLF"},
		{"v1 lower case", []byte("PROXY tcp4 192.0.2.7 10.0.0.1 1 2\r\n"), "protocol"},
		{"v1 UDP", []byte("PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n"), "protocol"},
		{"v1 double space", []byte("PROXY TCP4 192.0.2.7  10.0.0.1 1 2\r\n"), "single spaces"},
		{"v1 missing port", []byte("PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n"), "single spaces"},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n"), "is not TCP4"},
		{"v1 v4 as TCP6", []byte("PROXY TCP6 192.0.2.7 10.0.0.1 1 2\r\n"), "is not TCP6"},
		{"v1 bad address", []byte("PROXY TCP4 192.0.2.256 10.0.0.1 1 2\r\n"), "invalid address"},
		{"v1 leading zero address", []byte("PROXY TCP4 192.0.2.07 10.0.0.1 1 2\r\n"), "invalid address"},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n"), "invalid address"},
		{"v1 port too big", []byte("PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n"), "invalid port"},
		{"v1 port leading zero", []byte("PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n"), "invalid port"},
		{"v1 port sign", []byte("PROXY TCP4 192.0.2.7 10.0.0.1 +1 2\r\n"), "invalid port"},
		{"v1 no protocol", []byte("PROXY \r\n"), "protocol"},
		{"v2 bad signature", append([]byte("\r\n\r\n\x00\r\nQUIX\n"), 0x21, 0x11, 0, 0), "no PROXY header"},
		{"v2 cut short", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2))[:20], "unexpected EOF"},
		{"v2 version 1", v2(0x11, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2)), "version 1"},
		{"v2 command 2", v2(0x22, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2)), "command"},
		{"v2 family 4", v2(0x21, 0x41, inet4("192.0.2.7", "10.0.0.11", 1, 2)), "address family"},
		{"v2 datagram", v2(0x21, 0x12, inet4("192.0.2.7", "10.0.0.11", 1, 2)), "not a stream"},
		{"v2 address too short", v2(0x21, 0x21, inet4("192.0.2.7", "10.0.0.11", 1, 2)), "short of the 36"},
		{"v2 TLV truncated", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2), []byte{0x02, 0}), "truncated"},
		{"v2 TLV overrun", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2), []byte{0x02, 0, 9, 'x'}), "runs past"},
		{"v2 SSL TLV short", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2), tlvBytes(tlvSSL, "\x01")), "SSL TLV of 1"},
		{"v2 SSL sub-TLV overrun", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2),
			tlvBytes(tlvSSL, "\x01\x00\x00\x00\x00\x21\x00\x09TLS")), "sub-TLV"},
		{"v2 CRC TLV size", v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 2), tlvBytes(tlvCRC32C, "ab")), "CRC32C TLV of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, err := read(t, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %+v, %v; want an error with %q", h, err, tc.want)
			}
			if tc.want == "no PROXY header" && !errors.Is(err, ErrNotProxy) {
				t.Fatalf("%v is not ErrNotProxy", err)
			}
		})
	}
}

// TestAppend: the encoders write what HAProxy writes, and Read reads it
// back.
func TestAppend(t *testing.T) {
	h := Header{Version: 1, Source: ap("192.0.2.7:51234"), Destination: ap("10.0.0.11:143")}
	if got := string(h.AppendV1(nil)); got != "PROXY TCP4 192.0.2.7 10.0.0.11 51234 143\r\n" {
		t.Fatalf("AppendV1: %q", got)
	}
	if got := string(Header{Command: Local}.AppendV1(nil)); got != "PROXY UNKNOWN\r\n" {
		t.Fatalf("AppendV1 of LOCAL: %q", got)
	}
	want := v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 51234, 143))
	if got := h.AppendV2(nil); !bytes.Equal(got, want) {
		t.Fatalf("AppendV2:\n got %x\nwant %x", got, want)
	}
	if got := (Header{Command: Local}).AppendV2(nil); !bytes.Equal(got, v2(0x20, 0x00)) {
		t.Fatalf("AppendV2 of LOCAL: %x", got)
	}
	h6 := Header{Version: 2, Source: ap("[2001:db8::7]:1"), Destination: ap("[2001:db8::1]:993"),
		Authority: "imap.example.org", TLS: &TLSInfo{Client: true, Version: "TLSv1.3"}}
	got, _, err := read(t, h6.AppendV2(nil))
	if err != nil || !reflect.DeepEqual(got, h6) {
		t.Fatalf("v2 round trip: %+v, %v", got, err)
	}
}

// FuzzRead: Read never panics, never reads past the header, and whatever
// it accepts encodes back (AppendV1/AppendV2) to a header it reads as
// the same. Seed corpus in testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.7 10.0.0.11 51234 143\r\nrest"))
	f.Add(v2(0x21, 0x11, inet4("192.0.2.7", "10.0.0.11", 1, 143), tlvBytes(tlvAuthority, "a"),
		appendTLV(nil, tlvSSL, []byte{1, 0, 0, 0, 0, 0x21, 0, 1, 'x'})))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		h, err := Read(r)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(r)
		n := len(data) - len(rest)
		if !bytes.Equal(rest, data[n:]) {
			t.Fatalf("rest is not the tail of the input")
		}
		if h.Version == 1 && n > MaxV1Len {
			t.Fatalf("v1 header of %d bytes accepted", n)
		}
		var enc []byte
		if h.Version == 1 {
			enc = h.AppendV1(nil)
		} else {
			enc = h.AppendV2(nil)
		}
		h2, err := Read(bufio.NewReader(bytes.NewReader(enc)))
		if err != nil {
			t.Fatalf("re-encoded %+v as %q: %v", h, enc, err)
		}
		if !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip: %+v became %+v (TLS %+v, %+v)", h, h2, h.TLS, h2.TLS)
		}
	})
}

// BenchmarkRead: the cost of a header per connection.
func BenchmarkRead(b *testing.B) {
	h := Header{Source: ap("192.0.2.7:51234"), Destination: ap("10.0.0.11:143"), TLS: &TLSInfo{Client: true, Version: "TLSv1.3"}}
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"v1", h.AppendV1(nil)}, {"v2", h.AppendV2(nil)}} {
		b.Run(tc.name, func(b *testing.B) {
			br := bufio.NewReaderSize(nil, 512)
			rd := bytes.NewReader(tc.in)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(tc.in)
				br.Reset(rd)
				if _, err := Read(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
