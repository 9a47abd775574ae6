package probe

import (
	"slices"
	"strings"
	"testing"
)

func TestAnalyzeBanner(t *testing.T) {
	tests := []struct {
		in                        string
		products, versions, hosts []string
	}{
		{"Dovecot ready.", []string{"Dovecot"}, nil, nil},
		{"[CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.", []string{"Dovecot", "Debian"}, nil, nil},
		{"Roost ready.", []string{"Roost"}, nil, nil},
		{"Server ready.", nil, nil, nil},
		{"mail.example.com Cyrus IMAP v3.2.6-Debian-3.2.6-2+deb11u2 server ready", []string{"Cyrus", "Debian"}, []string{"v3.2.6-Debian-3.2.6-2+deb11u2"}, []string{"mail.example.com"}},
		{"Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc.  See COPYING for distribution information.", []string{"Courier"}, nil, nil},
		{"The Microsoft Exchange IMAP4 service is ready. [TQBCAFgAUAAxADIAMwAuAGUAeABhAG0AcABsAGUALgBsAG8AYwBhAGwA]", []string{"Exchange"}, nil, []string{"MBXP123.example.local"}},
		{"Dovecot ready. <1896.697170952@dbc.mtview.ca.us>", []string{"Dovecot"}, nil, []string{"dbc.mtview.ca.us"}},
		{"Dovecot v2.3.19.1 ready on 192.0.2.7", []string{"Dovecot"}, []string{"v2.3.19.1"}, []string{"192.0.2.7"}},
		{"IMAP4rev1 Service Ready", nil, nil, nil},
	}
	for _, tc := range tests {
		b := AnalyzeBanner(tc.in)
		if !slices.Equal(b.Products, tc.products) || !slices.Equal(b.Versions, tc.versions) || !slices.Equal(b.Hostnames, tc.hosts) {
			t.Errorf("AnalyzeBanner(%q) = %+v, want products %v versions %v hosts %v", tc.in, b, tc.products, tc.versions, tc.hosts)
		}
	}
}

// ids returns the finding IDs, sorted.
func ids(f []Finding) []string {
	var out []string
	for _, x := range f {
		out = append(out, x.ID)
	}
	slices.Sort(out)
	return out
}

func TestFindings(t *testing.T) {
	goodTLS := &TLSInfo{Versions: []TLSVersion{{Version: "TLS 1.0"}, {Version: "TLS 1.1"},
		{Version: "TLS 1.2", Accepted: true, Cipher: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{Version: "TLS 1.3", Accepted: true, Cipher: "TLS_AES_128_GCM_SHA256"}},
		Certificate: &CertInfo{Subject: "CN=mail", Verified: true, HostnameMatch: true, DaysLeft: 90}}
	tests := []struct {
		name    string
		s       Service
		want    []string // IDs that must be present
		notWant []string // IDs that must be absent
	}{
		{
			name: "hardened imap with STARTTLS",
			s: Service{Protocol: "imap", State: StateOpen, Greeting: "* OK [CAPABILITY IMAP4rev1] Server ready.",
				Capabilities: []string{"IMAP4rev1", "STARTTLS", "LOGINDISABLED"}, StartTLS: true,
				CapabilitiesTLS: []string{"IMAP4rev1", "AUTH=PLAIN"},
				Cleartext:       &CleartextProbe{LoginDisabled: true, Attempt: "NO [PRIVACYREQUIRED] x"}, TLS: goodTLS},
			want:    []string{"starttls-offered"},
			notWant: []string{"cleartext-login", "greeting-product", "caps-unchanged-after-tls", "tls-old-10", "no-tls", "cert-self-signed", "cert-untrusted"},
		},
		{
			name: "cleartext allowed",
			s: Service{Protocol: "imap", State: StateOpen, Greeting: "* OK Dovecot ready.",
				Capabilities: []string{"IMAP4rev1", "AUTH=PLAIN"},
				Cleartext:    &CleartextProbe{Mechanisms: []string{"PLAIN"}, Attempt: "NO [AUTHENTICATIONFAILED] Authentication failed.", Processed: true}},
			want: []string{"cleartext-login", "no-tls", "greeting-product"},
		},
		{
			name: "pop3 USER in the clear",
			s: Service{Protocol: "pop3", State: StateOpen, Greeting: "+OK ready <1.2@mx1.example.org>",
				Capabilities: []string{"USER", "SASL PLAIN CRAM-MD5", "STLS", "IMPLEMENTATION Cyrus POP3 v3.2"}, StartTLS: true,
				Implementation:  "Cyrus POP3 v3.2",
				CapabilitiesTLS: []string{"USER", "SASL PLAIN CRAM-MD5", "STLS", "IMPLEMENTATION Cyrus POP3 v3.2"},
				Cleartext:       &CleartextProbe{User: true, Processed: true}},
			want:    []string{"cleartext-login", "greeting-hostname", "weak-sasl-cram-md5", "starttls-after-tls", "caps-unchanged-after-tls", "id-reveals"},
			notWant: []string{"no-tls", "greeting-product"},
		},
		{
			name: "old TLS, self-signed, expired, wrong name",
			s: Service{Protocol: "imap", Implicit: true, State: StateOpen, Greeting: "* OK ready",
				TLS: &TLSInfo{Versions: []TLSVersion{{Version: "TLS 1.0", Accepted: true, Cipher: "TLS_RSA_WITH_AES_128_CBC_SHA"},
					{Version: "TLS 1.1", Accepted: true, Cipher: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, {Version: "TLS 1.2", Accepted: true}, {Version: "TLS 1.3"}},
					Certificate: &CertInfo{SelfSigned: true, DaysLeft: -3}}},
			want:    []string{"tls-old-10", "tls-old-11", "weak-cipher", "no-tls13", "cert-self-signed", "cert-expired", "cert-hostname"},
			notWant: []string{"cert-untrusted", "no-tls", "cleartext-login", "starttls-offered"},
		},
		{
			name: "anonymous offered and working",
			s: Service{Protocol: "imap", Implicit: true, State: StateOpen, Capabilities: []string{"AUTH=PLAIN", "AUTH=ANONYMOUS"},
				Anonymous: &AuthAttempt{Method: "AUTHENTICATE ANONYMOUS", OK: true}},
			want:    []string{"anonymous-login"},
			notWant: []string{"anonymous-offered"},
		},
		{
			name: "anonymous offered but refused",
			s: Service{Protocol: "imap", Implicit: true, State: StateOpen, Capabilities: []string{"AUTH=ANONYMOUS"},
				Anonymous: &AuthAttempt{Method: "AUTHENTICATE ANONYMOUS", OK: false}},
			want:    []string{"anonymous-offered"},
			notWant: []string{"anonymous-login"},
		},
		{
			name: "enumeration and shared namespace",
			s: Service{Protocol: "imap", Implicit: true, State: StateOpen,
				Enumeration: &Enumeration{TextDiffers: true, TimingDiffers: true},
				Mailbox:     &MailboxInfo{Shared: true}, Login: &AuthAttempt{OK: true}},
			want: []string{"enum-text", "enum-timing", "shared-namespace", "login-ok"},
		},
		{
			name: "ID reveals version",
			s:    Service{Protocol: "imap", Implicit: true, State: StateOpen, ID: []string{"name", "Dovecot", "version", "2.3.19"}},
			want: []string{"id-reveals"},
		},
		{name: "closed port", s: Service{Protocol: "imap", State: StateClosed}, notWant: []string{"no-tls"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(Findings(&tc.s))
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing finding %s; got %v", w, got)
				}
			}
			for _, w := range tc.notWant {
				if slices.Contains(got, w) {
					t.Errorf("unexpected finding %s; got %v", w, got)
				}
			}
		})
	}
}

func TestFindingSeverities(t *testing.T) {
	s := &Service{URL: "imap://h:143", Protocol: "imap", State: StateOpen, Greeting: "* OK Dovecot ready.",
		Cleartext: &CleartextProbe{Processed: true}}
	for _, f := range Findings(s) {
		want := map[string]Severity{"cleartext-login": High, "greeting-product": Low, "no-tls": High}[f.ID]
		if f.Severity != want {
			t.Errorf("%s: severity %v, want %v", f.ID, f.Severity, want)
		}
		if f.Severity > Info && f.Fix == "" {
			t.Errorf("%s has no fix", f.ID)
		}
	}
}

func TestJudgeEnumeration(t *testing.T) {
	ms := func(v ...int) (d []timeDuration) {
		for _, x := range v {
			d = append(d, timeDuration(x)*msec)
		}
		return d
	}
	tests := []struct {
		known, unknown []timeDuration
		want           bool
	}{
		{ms(2000, 2001, 2003), ms(2002, 2000, 2004), false},
		{ms(1, 2, 1), ms(150, 160, 155), true},
		{ms(1, 1, 1), ms(4, 4, 4), false},             // 4x but under the floor: jitter
		{ms(100, 900, 100), ms(120, 110, 130), false}, // one outlier does not move the median
	}
	for _, tc := range tests {
		e := &Enumeration{}
		judgeEnumeration(e, tc.known, tc.unknown)
		if e.TimingDiffers != tc.want {
			t.Errorf("known %v unknown %v: timing differs = %v, want %v", tc.known, tc.unknown, e.TimingDiffers, tc.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"imap://mail.example.org", []string{"imap://mail.example.org:143"}, false},
		{"imaps://127.0.0.1:1993", []string{"imaps://127.0.0.1:1993"}, false},
		{"pop3://[::1]", []string{"pop3://[::1]:110"}, false},
		{"POP3S://h", []string{"pop3s://h:995"}, false},
		{"127.0.0.1", []string{"imap://127.0.0.1:143", "imaps://127.0.0.1:993", "pop3://127.0.0.1:110", "pop3s://127.0.0.1:995"}, false},
		{"[::1]", []string{"imap://[::1]:143", "imaps://[::1]:993", "pop3://[::1]:110", "pop3s://[::1]:995"}, false},
		{"::1", []string{"imap://[::1]:143", "imaps://[::1]:993", "pop3://[::1]:110", "pop3s://[::1]:995"}, false},
		{"smtp://h", nil, true},
		{"imap://u:p@h", nil, true},
		{"imap://h:99999", nil, true},
		{"h:143", nil, true},
		{"", nil, true},
	}
	for _, tc := range tests {
		ts, err := ParseTarget(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseTarget(%q): err %v, want error %v", tc.in, err, tc.err)
			continue
		}
		var got []string
		for _, x := range ts {
			got = append(got, x.URL())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ParseTarget(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	got := tokenize(`(\HasNoChildren \Sent) "/" "Sent Items" {5}` + "\r\nab\"c)" + ` NIL (a (b))`)
	want := `[[\HasNoChildren \Sent] / Sent Items ab"c) {} [a [b]]]`
	if s := strings.ReplaceAll(fmtAny(got), "probe.nilValue", ""); s != want {
		t.Errorf("tokenize = %s, want %s", s, want)
	}
	r := parseIMAPResp("p3 NO [AUTHENTICATIONFAILED] Authentication failed.")
	if r.Tag != "p3" || r.Status != "NO" || r.codeName() != "AUTHENTICATIONFAILED" || r.Text != "Authentication failed." {
		t.Errorf("parseIMAPResp = %+v", r)
	}
	if q := quoteIMAP(`a"b\c`); q != `"a\"b\\c"` {
		t.Errorf("quoteIMAP = %s", q)
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range []string{"info", "LOW", "medium", "high", "critical"} {
		v, err := ParseSeverity(s)
		if err != nil || !strings.EqualFold(v.String(), s) {
			t.Errorf("ParseSeverity(%q) = %v, %v", s, v, err)
		}
	}
	if _, err := ParseSeverity("none"); err == nil {
		t.Error("ParseSeverity(none) succeeded")
	}
	f := []Finding{{Severity: Low, ID: "b"}, {Severity: Critical, ID: "a"}, {Severity: Info}, {Severity: High}}
	sortFindings(f)
	for i := 1; i < len(f); i++ {
		if f[i].Severity > f[i-1].Severity {
			t.Fatalf("not sorted: %v", f)
		}
	}
}
