package probe

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target is one service to probe.
type Target struct {
	Scheme string // imap, imaps, pop3, pop3s
	Host   string // name or IP, without brackets
	Port   int
}

// Protocol is "imap" or "pop3".
func (t Target) Protocol() string { return strings.TrimSuffix(t.Scheme, "s") }

// Implicit reports implicit TLS (imaps, pop3s).
func (t Target) Implicit() bool { return strings.HasSuffix(t.Scheme, "s") }

// Addr is host:port for dialing.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// URL is the canonical URL (IPv6 in brackets, port always given).
func (t Target) URL() string { return t.Scheme + "://" + t.Addr() }

var defaultPorts = map[string]int{"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}

// ParseTarget reads imap://, imaps://, pop3:// or pop3s:// URLs (port
// optional) or a bare host name or address ("mail.example.org", "::1",
// "[::1]"), which stands for all four services on their default ports.
func ParseTarget(arg string) ([]Target, error) {
	if !strings.Contains(arg, "://") {
		h := strings.TrimSuffix(strings.TrimPrefix(arg, "["), "]")
		if h == "" || strings.ContainsAny(h, "/[] ") || (strings.Contains(h, ":") && net.ParseIP(h) == nil) {
			return nil, fmt.Errorf("%q: want a host name or address, or an imap://, imaps://, pop3:// or pop3s:// URL", arg)
		}
		var ts []Target
		for _, s := range []string{"imap", "imaps", "pop3", "pop3s"} {
			ts = append(ts, Target{Scheme: s, Host: h, Port: defaultPorts[s]})
		}
		return ts, nil
	}
	u, err := url.Parse(arg)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", arg, err)
	}
	scheme := strings.ToLower(u.Scheme)
	def, ok := defaultPorts[scheme]
	if !ok {
		return nil, fmt.Errorf("%q: unsupported scheme %q (want imap, imaps, pop3, pop3s)", arg, u.Scheme)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("%q: only scheme://host[:port] is accepted (credentials go in --user)", arg)
	}
	t := Target{Scheme: scheme, Host: u.Hostname(), Port: def}
	if t.Host == "" {
		return nil, fmt.Errorf("%q: no host", arg)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: bad port %q", arg, p)
		}
		t.Port = n
	}
	return []Target{t}, nil
}
