package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// HAProxy PROXY protocol settings, Dovecot's names (wiki2 HAProxy page):
//
//	haproxy_trusted_networks = 10.0.0.0/8 127.0.0.1   # who may send a header
//	haproxy_timeout = 3 secs                          # how long to wait for it
//	service imap-login {
//	  inet_listener imap {
//	    port = 10143
//	    haproxy = yes                                 # InetListener.HAProxy
//	  }
//	}
//
// internal/netserver (proxy.go) applies them.
func init() {
	settings = append(settings,
		setting{name: "haproxy_trusted_networks", def: "", list: true,
			set: func(_ *decoder, c *Config, e *Entry) error {
				nets, err := parseNetworks(e.Value)
				if err != nil {
					return err
				}
				c.HAProxyTrustedNetworks = nets
				return nil
			},
			get: func(c *Config) string {
				out := make([]string, len(c.HAProxyTrustedNetworks))
				for i, p := range c.HAProxyTrustedNetworks {
					out[i] = p.String()
				}
				return strings.Join(out, " ")
			}},
		setting{name: "haproxy_timeout", def: "3 secs",
			set: func(_ *decoder, c *Config, e *Entry) (err error) {
				c.HAProxyTimeout, err = parseDuration(e.Value)
				if err == nil && c.HAProxyTimeout == 0 {
					err = fmt.Errorf("must be more than 0")
				}
				return err
			},
			get: func(c *Config) string { return formatDuration(c.HAProxyTimeout) }},
	)
}

// parseNetworks reads a list of IP addresses and CIDR networks (spaces or
// commas between them), as Dovecot's *_trusted_networks. An address is a
// network of one host; IPv4-mapped IPv6 forms are read as IPv4.
func parseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, w := range splitList(s) {
		var p netip.Prefix
		if strings.Contains(w, "/") {
			var err error
			if p, err = netip.ParsePrefix(w); err != nil {
				return nil, fmt.Errorf("invalid network %q (use 10.0.0.0/8, 2001:db8::/32 or an address)", w)
			}
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			p = p.Masked()
		} else {
			a, err := netip.ParseAddr(strings.Trim(w, "[]"))
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("invalid address %q (use 10.0.0.0/8, 2001:db8::/32 or an address)", w)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return out, nil
}

// haproxy checks the HAProxy settings against the listeners: a haproxy
// listener with no trusted network refuses every connection (an error),
// and a trusted network that covers the whole Internet lets anyone claim
// any address (dangerous).
func (v *validator) haproxy() {
	c := v.c
	ls, protos := c.enabledListeners()
	used := false
	for i, l := range ls {
		if !l.HAProxy {
			continue
		}
		used = true
		if len(c.HAProxyTrustedNetworks) == 0 {
			v.addAt(Error, l.File, l.Line, "inet_listener", "inet_listener %s (%s) has haproxy = yes but haproxy_trusted_networks is empty: "+
				"every connection would be refused. List the load balancers' addresses", l.Name, protos[i])
		}
	}
	for _, p := range c.HAProxyTrustedNetworks {
		if p.Bits() == 0 {
			v.danger("haproxy_trusted_networks", "%s trusts every host: anyone who can connect to a haproxy listener can claim any "+
				"client address, evading the per-address login limits and auth penalty, and pass as secure "+
				"(plaintext logins allowed). List only the load balancers", p)
		}
	}
	if !used && len(c.HAProxyTrustedNetworks) > 0 {
		v.add(Warning, "haproxy_trusted_networks", "no inet_listener has haproxy = yes; the setting has no effect")
	}
}
