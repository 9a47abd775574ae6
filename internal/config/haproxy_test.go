package config

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The PROXY protocol settings, with Dovecot's names: decoded, dumped so
// that the dump reads back the same, and checked against the listeners.
func TestHAProxySettings(t *testing.T) {
	fsys, base := validBase(t)
	conf := base + "haproxy_trusted_networks = 10.0.0.0/8 127.0.0.1, 2001:db8::/32 ::ffff:192.0.2.1 10.1.2.3/8\n" +
		"haproxy_timeout = 500 ms\n" +
		"service imap-login {\n inet_listener imap {\n  haproxy = yes\n }\n}\n"
	c, err := Parse("/etc/roost/roost.conf", []byte(conf), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if !reflect.DeepEqual(c.HAProxyTrustedNetworks, want) || c.HAProxyTimeout != 500*time.Millisecond {
		t.Fatalf("decoded %v %v", c.HAProxyTrustedNetworks, c.HAProxyTimeout)
	}
	var imap, imaps InetListener
	for _, l := range c.Listeners("imap") {
		switch l.Name {
		case "imap":
			imap = l
		case "imaps":
			imaps = l
		}
	}
	if !imap.HAProxy || imaps.HAProxy {
		t.Fatalf("haproxy: imap %v imaps %v", imap.HAProxy, imaps.HAProxy)
	}
	if ps := problemStrings(c.Validate()); strings.Contains(ps, "haproxy") {
		t.Fatalf("valid settings reported:\n%s", ps)
	}
	var b bytes.Buffer
	if err := c.Dump(&b, true); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"haproxy_trusted_networks = 10.0.0.0/8 127.0.0.1/32 2001:db8::/32 192.0.2.1/32 10.0.0.0/8\n",
		"haproxy_timeout = 500 ms", "haproxy = yes"} {
		if !strings.Contains(b.String(), s) {
			t.Fatalf("dump lacks %q:\n%s", s, b.String())
		}
	}
	again, err := Parse("/etc/roost/roost.conf", b.Bytes(), fsys.read)
	if err != nil {
		t.Fatalf("dump does not parse: %v\n%s", err, b.String())
	}
	haproxyOf := func(c *Config) (on []string) {
		for _, l := range c.Listeners("imap") {
			if l.HAProxy {
				on = append(on, l.Name)
			}
		}
		return on
	}
	if !reflect.DeepEqual(again.HAProxyTrustedNetworks, c.HAProxyTrustedNetworks) || again.HAProxyTimeout != c.HAProxyTimeout ||
		!reflect.DeepEqual(haproxyOf(again), []string{"imap"}) {
		t.Fatalf("dump read back differs:\n%s", b.String())
	}

	// Defaults: Dovecot's 3 seconds, nobody trusted, no listener.
	def, err := Parse("/etc/roost/roost.conf", []byte(base), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	if def.HAProxyTimeout != 3*time.Second || def.HAProxyTrustedNetworks != nil {
		t.Fatalf("defaults: %v %v", def.HAProxyTimeout, def.HAProxyTrustedNetworks)
	}
	for _, l := range def.Listeners("imap") {
		if l.HAProxy {
			t.Fatalf("listener %s has haproxy by default", l.Name)
		}
	}

	for _, tc := range []struct{ conf, want string }{
		// A haproxy listener nobody may use.
		{"service pop3-login {\n inet_listener pop3 {\n  haproxy = yes\n }\n}\n",
			"inet_listener pop3 (pop3) has haproxy = yes but haproxy_trusted_networks is empty"},
		{"haproxy_trusted_networks = 0.0.0.0/0\nservice imap-login {\n inet_listener imap {\n  haproxy = yes\n }\n}\n",
			"haproxy_trusted_networks: 0.0.0.0/0 trusts every host"},
		{"haproxy_trusted_networks = 10.0.0.1\n", "no inet_listener has haproxy = yes"},
	} {
		c, err := Parse("/etc/roost/roost.conf", []byte(base+tc.conf), fsys.read)
		if err != nil {
			t.Fatal(err)
		}
		if ps := problemStrings(c.Validate()); !strings.Contains(ps, tc.want) {
			t.Errorf("%q: want %q in\n%s", tc.conf, tc.want, ps)
		}
	}
	for _, bad := range []struct{ conf, want string }{
		{"haproxy_trusted_networks = 10.0.0.0/33\n", `invalid network "10.0.0.0/33"`},
		{"haproxy_trusted_networks = lb.example.org\n", `invalid address "lb.example.org"`},
		{"haproxy_trusted_networks = fe80::1%eth0\n", `invalid address "fe80::1%eth0"`},
		{"haproxy_timeout = 0\n", "haproxy_timeout: must be more than 0"},
		{"haproxy_timeout = soon\n", `haproxy_timeout: invalid time "soon"`},
	} {
		if _, err := Parse("/etc/roost/roost.conf", []byte(base+bad.conf), fsys.read); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: got %v, want %q", bad.conf, err, bad.want)
		}
	}
}
