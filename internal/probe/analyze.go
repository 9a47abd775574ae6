package probe

import (
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"
)

// products maps a pattern in a greeting, ID or IMPLEMENTATION string to the
// product it gives away.
var products = []struct {
	re   *regexp.Regexp
	name string
}{
	{regexp.MustCompile(`(?i)\bdovecot\b`), "Dovecot"},
	{regexp.MustCompile(`(?i)\bcyrus\b`), "Cyrus"},
	{regexp.MustCompile(`(?i)\bcourier\b`), "Courier"},
	{regexp.MustCompile(`(?i)microsoft exchange|\bexchange\b`), "Exchange"},
	{regexp.MustCompile(`(?i)\broost\b`), "Roost"},
	{regexp.MustCompile(`(?i)\bzimbra\b`), "Zimbra"},
	{regexp.MustCompile(`(?i)\bstalwart\b`), "Stalwart"},
	{regexp.MustCompile(`(?i)\bmox\b`), "mox"},
	{regexp.MustCompile(`(?i)\bhmailserver\b`), "hMailServer"},
	{regexp.MustCompile(`(?i)\bqpopper\b`), "Qpopper"},
	{regexp.MustCompile(`(?i)\bgimap\b|\bgpop\b`), "Gmail"},
	{regexp.MustCompile(`(?i)\buw imap|\bIMAP4rev1 \d{4}[a-z]?\.\d+`), "UW IMAP"},
	{regexp.MustCompile(`(?i)\b(debian|ubuntu|red ?hat|centos|fedora|freebsd)\b`), ""}, // distribution: name from the match
}

var (
	// A version: digits.digits, optionally more, prefixed by v; not part of
	// a longer dotted number (an IP address).
	versionRE = regexp.MustCompile(`(?i)(?:^|[^\w.])(v?\d+\.\d+(?:\.\d+)*[a-z]?(?:[-+~][\w.+~-]*)?)`)
	ipv4RE    = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	hostRE    = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}\b`)
	// APOP timestamp in a POP3 greeting: <pid.clock@hostname> (RFC 1939 7).
	apopRE = regexp.MustCompile(`<[^<>@\s]*@([^<>\s]+)>`)
	// Exchange puts the server name, UTF-16LE in base64, in brackets.
	exchangeRE = regexp.MustCompile(`\[([A-Za-z0-9+/]{8,}={0,2})\]`)
)

// notHosts are dotted words that look like host names but are not.
var notHosts = []string{"double.precision", "copyright"}

// AnalyzeBanner extracts products, versions and host names from a greeting
// (or another free text a server sends before login). A leading IMAP
// response code ([CAPABILITY ...]) is ignored: it is reported separately.
func AnalyzeBanner(text string) Banner {
	var b Banner
	if strings.HasPrefix(text, "[") {
		if i := strings.IndexByte(text, ']'); i > 0 {
			text = text[i+1:]
		}
	}
	add := func(list *[]string, v string) {
		if v != "" && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, p := range products {
		if m := p.re.FindString(text); m != "" {
			name := p.name
			if name == "" {
				name = strings.ToUpper(m[:1]) + strings.ToLower(m[1:])
			}
			add(&b.Products, name)
		}
	}
	for _, m := range apopRE.FindAllStringSubmatch(text, -1) {
		add(&b.Hostnames, m[1])
	}
	for _, m := range exchangeRE.FindAllStringSubmatch(text, -1) {
		if h := decodeUTF16Base64(m[1]); h != "" {
			add(&b.Hostnames, h)
		}
	}
	rest := apopRE.ReplaceAllString(text, " ")
	for _, ip := range ipv4RE.FindAllString(rest, -1) {
		if net.ParseIP(ip) != nil {
			add(&b.Hostnames, ip)
		}
	}
	rest = ipv4RE.ReplaceAllString(rest, " ")
	for _, h := range hostRE.FindAllString(rest, -1) {
		if !slices.Contains(notHosts, strings.ToLower(h)) && !versionLike(h) {
			add(&b.Hostnames, h)
		}
	}
	for _, m := range versionRE.FindAllStringSubmatch(rest, -1) {
		v := strings.TrimRight(m[1], ".-+~")
		if strings.Contains(strings.ToLower(v), "rev") { // IMAP4rev1 is a protocol
			continue
		}
		add(&b.Versions, v)
	}
	return b
}

// versionLike reports a dotted word that is a version with letters (v2.3).
func versionLike(s string) bool {
	return regexp.MustCompile(`^(?i)v?\d`).MatchString(s)
}

func decodeUTF16Base64(s string) string {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw)%2 != 0 || len(raw) < 4 {
		return ""
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	h := string(utf16.Decode(u))
	if !regexp.MustCompile(`^[A-Za-z0-9.-]+$`).MatchString(h) {
		return ""
	}
	return h
}

// mergeBanner adds the facts of o to b.
func mergeBanner(b *Banner, o Banner) {
	for _, p := range [][2]*[]string{{&b.Products, &o.Products}, {&b.Versions, &o.Versions}, {&b.Hostnames, &o.Hostnames}} {
		for _, v := range *p[1] {
			if !slices.Contains(*p[0], v) {
				*p[0] = append(*p[0], v)
			}
		}
	}
}

// hasCap reports whether caps contains c (case-insensitive; for POP3 CAPA
// lines, the first word).
func hasCap(caps []string, c string) bool {
	for _, x := range caps {
		w, _, _ := strings.Cut(x, " ")
		if strings.EqualFold(w, c) {
			return true
		}
	}
	return false
}

// saslMechanisms lists SASL mechanisms from IMAP AUTH=X capabilities or a
// POP3 "SASL X Y" CAPA line, upper case.
func saslMechanisms(protocol string, caps []string) []string {
	var m []string
	for _, c := range caps {
		if protocol == "imap" {
			if len(c) > 5 && strings.EqualFold(c[:5], "AUTH=") {
				m = append(m, strings.ToUpper(c[5:]))
			}
			continue
		}
		f := strings.Fields(c)
		if len(f) > 0 && strings.EqualFold(f[0], "SASL") {
			for _, x := range f[1:] {
				m = append(m, strings.ToUpper(x))
			}
		}
	}
	return m
}

// preTLSCaps is the capability list a client sees before TLS on this
// service: the first connection's, unless the service is implicit TLS.
func (s *Service) preTLSCaps() []string {
	if s.Implicit {
		return nil
	}
	return s.Capabilities
}

// tlsCaps is the capability list once TLS is up.
func (s *Service) tlsCaps() []string {
	if s.Implicit {
		return s.Capabilities
	}
	return s.CapabilitiesTLS
}

// Findings derives the findings for one probed service. It is a pure
// function of the Service record, so the rules are table-tested.
func Findings(s *Service) []Finding {
	if s.State != StateOpen {
		return nil
	}
	var out []Finding
	add := func(sev Severity, id, fix, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Service: s.URL, ID: id, Title: fmt.Sprintf(format, args...), Fix: fix})
	}
	greetingSetting, idSetting := "login_greeting", "imap_id_send"
	if s.Protocol == "pop3" {
		idSetting = "(remove the IMPLEMENTATION line; Dovecot sends none)"
	}

	// What the banner gives away.
	g := AnalyzeBanner(greetingText(s))
	if len(g.Products) > 0 {
		add(Low, "greeting-product", "set "+greetingSetting+" to a text without a product name (e.g. \"Server ready.\")",
			"greeting reveals product: %s", strings.Join(g.Products, ", "))
	}
	if len(g.Versions) > 0 {
		add(Medium, "greeting-version", "set "+greetingSetting+" to a text without a version; attackers match versions to known vulnerabilities",
			"greeting reveals version: %s", strings.Join(g.Versions, ", "))
	}
	if len(g.Hostnames) > 0 {
		add(Low, "greeting-hostname", "set "+greetingSetting+" (and, for POP3 APOP, disable APOP) so the greeting names no internal host",
			"greeting reveals host name: %s", strings.Join(g.Hostnames, ", "))
	}
	if len(s.ID) > 0 || s.Implementation != "" {
		text := s.Implementation
		if len(s.ID) > 0 {
			text = strings.Join(s.ID, " ")
		}
		if b := AnalyzeBanner(text); len(b.Products)+len(b.Versions)+len(b.Hostnames) > 0 {
			what := strings.Join(slices.Concat(b.Products, b.Versions, b.Hostnames), ", ")
			src := "ID response"
			if s.Protocol == "pop3" {
				src = "CAPA IMPLEMENTATION"
			}
			sev := Low
			if len(b.Versions) > 0 {
				sev = Medium
			}
			fix := "set " + idSetting + " = (empty) so ID reveals nothing before login"
			if s.Protocol == "pop3" {
				fix = "remove the IMPLEMENTATION line from CAPA"
			}
			add(sev, "id-reveals", fix, "%s reveals %s", src, what)
		}
	}

	// Cleartext login on a port without TLS.
	if c := s.Cleartext; c != nil && !s.Implicit {
		var why []string
		if s.Protocol == "imap" && !c.LoginDisabled {
			why = append(why, "LOGINDISABLED missing")
		}
		if len(c.Mechanisms) > 0 {
			why = append(why, "offers "+strings.Join(c.Mechanisms, "/"))
		}
		if c.User {
			why = append(why, "offers USER")
		}
		if c.Processed {
			why = append(why, "a LOGIN with a random user was checked ("+c.Attempt+")")
		}
		if len(why) > 0 {
			note := ""
			if s.Source != "" && sameHost(s.Source, s.Remote) {
				note = "; note: the probe connected from the server's own address, which Roost and Dovecot count as secure — use --source with another local address to see what remote clients get"
			}
			add(High, "cleartext-login", "set disable_plaintext_auth = yes (or ssl = required)",
				"cleartext login possible on %s without TLS (%s)%s", s.URL, strings.Join(why, "; "), note)
		}
	}

	// STARTTLS.
	if !s.Implicit {
		if s.StartTLS {
			add(Info, "starttls-offered", "", "STARTTLS offered")
			tc := s.CapabilitiesTLS
			if len(tc) > 0 {
				if hasCap(tc, "STARTTLS") || hasCap(tc, "STLS") {
					add(Medium, "starttls-after-tls", "upgrade the server: RFC 9051 6.2.1 / RFC 2595 4 forbid STARTTLS after TLS",
						"STARTTLS still advertised after TLS is up")
				}
				if slices.Equal(tc, s.Capabilities) {
					add(Low, "caps-unchanged-after-tls", "upgrade the server; after STARTTLS it must send capabilities anew (RFC 9051 6.2.1)",
						"capabilities identical before and after STARTTLS")
				}
			}
		} else if s.TLS == nil || !anyAccepted(s.TLS) {
			add(High, "no-tls", "set ssl = yes with a certificate (ssl_cert, ssl_key)",
				"no STARTTLS on %s: passwords and mail cross the network unencrypted", s.URL)
		}
	}

	// Weak SASL mechanisms.
	mechs := slices.Concat(saslMechanisms(s.Protocol, s.Capabilities), saslMechanisms(s.Protocol, s.CapabilitiesTLS))
	for _, m := range []string{"CRAM-MD5", "DIGEST-MD5", "APOP"} {
		if slices.Contains(mechs, m) {
			add(Low, "weak-sasl-"+strings.ToLower(m), "remove "+strings.ToLower(m)+" from auth_mechanisms",
				"%s offered: it needs cleartext-equivalent password storage on the server", m)
		}
	}
	if slices.Contains(mechs, "ANONYMOUS") && (s.Anonymous == nil || !s.Anonymous.OK) {
		add(Medium, "anonymous-offered", "remove anonymous from auth_mechanisms",
			"SASL ANONYMOUS offered")
	}
	if a := s.Anonymous; a != nil && a.OK {
		add(High, "anonymous-login", "remove anonymous from auth_mechanisms (or deny the auth_anonymous_username user)",
			"anonymous login works (%s): anyone can read and change that account's mail", a.Method)
	}

	// TLS.
	if t := s.TLS; t != nil {
		for _, v := range t.Versions {
			if v.Accepted && (v.Version == "TLS 1.0" || v.Version == "TLS 1.1") {
				add(Medium, "tls-old-"+strings.ReplaceAll(v.Version[4:], ".", ""), "set ssl_min_protocol = TLSv1.2",
					"%s accepted (deprecated by RFC 8996)", v.Version)
			}
			if v.Accepted && weakCipher(v.Cipher) {
				add(Medium, "weak-cipher", "restrict ssl_cipher_list to AEAD suites with forward secrecy",
					"weak cipher suite %s negotiated with %s", v.Cipher, v.Version)
			}
		}
		if anyAccepted(t) && !acceptedVersion(t, "TLS 1.3") {
			add(Info, "no-tls13", "use a TLS library that supports TLS 1.3", "TLS 1.3 not supported")
		}
		if c := t.Certificate; c != nil {
			switch {
			case c.DaysLeft < 0:
				add(High, "cert-expired", "renew the certificate (ssl_cert)", "certificate expired on %s", c.NotAfter)
			case c.DaysLeft < 14:
				add(Low, "cert-expires-soon", "renew the certificate (ssl_cert)", "certificate expires in %d days (%s)", c.DaysLeft, c.NotAfter)
			}
			switch {
			case c.SelfSigned:
				add(Medium, "cert-self-signed", "use a certificate from a CA your clients trust (e.g. Let's Encrypt)",
					"certificate is self-signed (%s)", c.Subject)
			case !c.Verified:
				add(Medium, "cert-untrusted", "use a certificate chain that verifies against public roots (include intermediates in ssl_cert)",
					"certificate chain does not verify against the system roots: %s", c.VerifyError)
			}
			if !c.HostnameMatch {
				add(Medium, "cert-hostname", "use a certificate whose SAN covers the name clients connect to",
					"certificate does not match the host name probed (SANs: %s)", strings.Join(c.SANs, ", "))
			}
		}
	}

	// User enumeration.
	if e := s.Enumeration; e != nil {
		if e.TextDiffers {
			add(Medium, "enum-text", "answer unknown users and wrong passwords alike",
				"login reply differs for a known user (%q) and an unknown user (%q)", e.KnownReply, e.UnknownReply)
		}
		if e.TimingDiffers {
			add(Medium, "enum-timing", "verify a dummy hash for unknown users and keep auth_failure_delay (> 0)",
				"login timing differs: known user %.0f ms vs unknown user %.0f ms (median of %d)", e.KnownMedianMS, e.UnknownMedianMS, e.Tries)
		}
	}

	// What a logged-in user sees.
	if m := s.Mailbox; m != nil && m.Shared {
		add(Low, "shared-namespace", "check the shared/public namespaces and their ACLs",
			"NAMESPACE lists shared or public namespaces: users may see other users' folders (%s)", m.Namespace)
	}
	if a := s.Login; a != nil && a.Skipped == "" {
		if a.OK {
			add(Info, "login-ok", "", "login with the given credentials works (%s)", a.Method)
		} else {
			add(Info, "login-failed", "", "login with the given credentials failed (%s): %s", a.Method, a.Reply)
		}
	}
	return out
}

// greetingText is the greeting without its status word.
func greetingText(s *Service) string {
	g := s.Greeting
	if s.Protocol == "imap" {
		return parseIMAPResp(g).Text
	}
	return strings.TrimPrefix(strings.TrimPrefix(g, "+OK"), " ")
}

func anyAccepted(t *TLSInfo) bool {
	for _, v := range t.Versions {
		if v.Accepted {
			return true
		}
	}
	return false
}

func acceptedVersion(t *TLSInfo, name string) bool {
	for _, v := range t.Versions {
		if v.Version == name && v.Accepted {
			return true
		}
	}
	return false
}

// weakCipher reports suites without forward secrecy or with broken
// primitives (RC4, 3DES, NULL, export).
func weakCipher(name string) bool {
	if name == "" {
		return false
	}
	for _, w := range []string{"RC4", "3DES", "NULL", "EXPORT", "_DES_"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return strings.HasPrefix(name, "TLS_RSA_")
}

// sameHost reports whether two host:port addresses have the same IP.
func sameHost(a, b string) bool {
	ha, _, err1 := net.SplitHostPort(a)
	hb, _, err2 := net.SplitHostPort(b)
	return err1 == nil && err2 == nil && ha == hb
}
