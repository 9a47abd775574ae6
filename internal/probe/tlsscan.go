package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"time"
)

var tlsVersions = []struct {
	v    uint16
	name string
}{
	{tls.VersionTLS10, "TLS 1.0"},
	{tls.VersionTLS11, "TLS 1.1"},
	{tls.VersionTLS12, "TLS 1.2"},
	{tls.VersionTLS13, "TLS 1.3"},
}

// allSuites lists every suite Go implements, insecure ones included: the
// probe must see what the server accepts, not what Go would prefer.
func allSuites() []uint16 {
	var ids []uint16
	for _, s := range slices.Concat(tls.CipherSuites(), tls.InsecureCipherSuites()) {
		ids = append(ids, s.ID)
	}
	return ids
}

// scanConfig is a client config that accepts any certificate (the probe
// reports on it instead) and exactly one protocol version when v != 0.
func scanConfig(host string, v uint16) *tls.Config {
	cfg := &tls.Config{
		InsecureSkipVerify: true, // verified separately in certInfo, reported not enforced
		MinVersion:         tls.VersionTLS10,
		CipherSuites:       allSuites(),
	}
	if net.ParseIP(host) == nil {
		cfg.ServerName = host
	}
	if v != 0 {
		cfg.MinVersion, cfg.MaxVersion = v, v
	}
	return cfg
}

// scanTLS tries each TLS version on its own connection. open returns a
// connection ready for the handshake (after STARTTLS on plain ports).
func scanTLS(ctx context.Context, t Target, roots *x509.CertPool, open func(ctx context.Context) (*conn, error)) *TLSInfo {
	info := &TLSInfo{}
	var state *tls.ConnectionState
	for _, tv := range tlsVersions {
		r := TLSVersion{Version: tv.name}
		c, err := open(ctx)
		if err != nil {
			r.Error = err.Error()
			info.Versions = append(info.Versions, r)
			continue
		}
		if err := c.startTLS(scanConfig(t.Host, tv.v)); err != nil {
			r.Error = err.Error()
		} else {
			r.Accepted = true
			r.Cipher = tls.CipherSuiteName(c.tls.CipherSuite)
			state = c.tls
		}
		c.close()
		info.Versions = append(info.Versions, r)
	}
	if state != nil {
		info.Certificate = certInfo(state, t.Host, roots, time.Now())
	}
	return info
}

// certInfo describes the leaf certificate and verifies the chain against
// roots (nil: the system roots) and the host name.
func certInfo(st *tls.ConnectionState, host string, roots *x509.CertPool, now time.Time) *CertInfo {
	if len(st.PeerCertificates) == 0 {
		return nil
	}
	leaf := st.PeerCertificates[0]
	ci := &CertInfo{
		Subject:  leaf.Subject.String(),
		Issuer:   leaf.Issuer.String(),
		NotAfter: leaf.NotAfter.UTC().Format(time.RFC3339),
		DaysLeft: int(leaf.NotAfter.Sub(now).Hours() / 24),
	}
	if leaf.NotAfter.Before(now) {
		ci.DaysLeft = -1 - int(now.Sub(leaf.NotAfter).Hours()/24)
	}
	ci.SANs = append(ci.SANs, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		ci.SANs = append(ci.SANs, ip.String())
	}
	ci.SelfSigned = leaf.Subject.String() == leaf.Issuer.String() && leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
	ci.HostnameMatch = leaf.VerifyHostname(strings.Trim(host, "[]")) == nil
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now})
	ci.Verified = err == nil
	if err != nil {
		ci.VerifyError = err.Error()
	}
	return ci
}
