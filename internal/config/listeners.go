package config

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// serviceFor maps a protocol to the Dovecot service whose inet_listeners
// accept its connections.
func serviceFor(protocol string) string {
	switch protocol {
	case "imap":
		return "imap-login"
	case "pop3":
		return "pop3-login"
	case "lmtp":
		return "lmtp"
	}
	return ""
}

// Listeners returns the effective inet listeners for protocol ("imap",
// "pop3" or "lmtp"), in definition order: none when the protocol is not in
// protocols; otherwise the service's listeners except those with port 0,
// those with ssl = yes while ssl = no (Dovecot skips them too), and those
// with no address to bind (address and listen both empty). Each result has
// Addresses set from its address setting or else listen, split on commas
// and white space, with "*" as "0.0.0.0", "::" kept, and brackets removed
// from IPv6 literals. The results are copies; changing them does not
// change c.
func (c *Config) Listeners(protocol string) []InetListener {
	if !slices.Contains(c.Protocols, protocol) {
		return nil
	}
	name := serviceFor(protocol)
	var out []InetListener
	for _, s := range c.Services {
		if s.Name != name {
			continue
		}
		for _, l := range s.Listeners {
			if l.Port == 0 || (l.SSL && c.SSL == "no") {
				continue
			}
			addrs := l.Address
			if addrs == "" {
				addrs = strings.Join(c.Listen, " ")
			}
			l.Addresses = hostsToBind(addrs)
			if len(l.Addresses) == 0 {
				continue
			}
			out = append(out, l)
		}
	}
	return out
}

// UnixListeners returns the effective unix_listener sockets of protocol
// (only "lmtp" has them): none when the protocol is not in protocols;
// otherwise each with Path set to its name resolved against base_dir.
func (c *Config) UnixListeners(protocol string) []UnixListener {
	if !slices.Contains(c.Protocols, protocol) {
		return nil
	}
	var out []UnixListener
	for _, s := range c.Services {
		if s.Name != serviceFor(protocol) {
			continue
		}
		for _, l := range s.UnixListeners {
			l.Path = l.Name
			if !filepath.IsAbs(l.Path) {
				l.Path = filepath.Join(c.BaseDir, l.Path)
			}
			out = append(out, l)
		}
	}
	return out
}

// hostsToBind splits a listen/address value into hosts for net.Listen.
func hostsToBind(s string) []string {
	var out []string
	for _, w := range splitList(s) {
		switch {
		case w == "*":
			w = "0.0.0.0"
		case strings.HasPrefix(w, "[") && strings.HasSuffix(w, "]"):
			w = w[1 : len(w)-1]
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// ListenAddrs returns "host:port" strings for net.Listen, one per entry of
// Addresses (so it is empty unless l came from Config.Listeners).
func (l InetListener) ListenAddrs() []string {
	out := make([]string, 0, len(l.Addresses))
	for _, h := range l.Addresses {
		out = append(out, net.JoinHostPort(h, strconv.Itoa(l.Port)))
	}
	return out
}

// Network returns the net.Listen network for a host of Addresses: "tcp4"
// for an IPv4 literal, "tcp6" for an IPv6 literal, "tcp" otherwise. Use it
// so that the default listen = "*, ::" works as in Dovecot: Go sets
// IPV6_V6ONLY only for "tcp6", and a dual-stack "[::]" socket would
// collide with the "0.0.0.0" one on the same port.
func Network(host string) string {
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return "tcp"
	case ip.To4() != nil:
		return "tcp4"
	default:
		return "tcp6"
	}
}
