// Package proxyproto reads the header of HAProxy's PROXY protocol,
// versions 1 (text) and 2 (binary), as specified in HAProxy's
// doc/proxy-protocol.txt. A load balancer that forwards a TCP connection
// sends the header first, before any byte of the client, to tell the
// server who the client is (its address and port, the address it
// connected to) and, in version 2, whether it spoke TLS to the balancer.
//
// Read consumes exactly the header and nothing after it from a
// bufio.Reader; bytes the client sent right behind the header (a TLS
// ClientHello, say) stay buffered in the reader for the caller.
//
// Only a peer the server trusts may send a header: whoever can send one
// can claim any address. Checking the peer is the caller's job
// (internal/netserver, haproxy_trusted_networks).
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"strconv"
)

// Command is what a header asks of the receiver.
type Command uint8

const (
	// Proxy: the connection was relayed for a client; Header.Source and
	// Destination name it when they are valid. Every version 1 header
	// is a Proxy header.
	Proxy Command = iota
	// Local: the balancer opened the connection for itself (a health
	// check, version 2 only); the receiver uses the real peer address.
	Local
)

func (c Command) String() string {
	if c == Local {
		return "LOCAL"
	}
	return "PROXY"
}

// Header is a parsed PROXY header.
type Header struct {
	Version int // 1 or 2
	Command Command
	// Source is the client's address and port, Destination the address
	// and port the client connected to (the balancer's). Both are the
	// zero AddrPort for a Local header and for a Proxy header whose
	// address family the protocol leaves unspecified (v1 "UNKNOWN", v2
	// AF_UNSPEC or AF_UNIX): then the receiver uses the real peer, as the
	// specification requires. IPv4-mapped IPv6 addresses are unmapped.
	Source      netip.AddrPort
	Destination netip.AddrPort
	// Authority is the v2 PP2_TYPE_AUTHORITY TLV: the host name the
	// client asked for (TLS SNI), "" without one.
	Authority string
	// TLS is set when a v2 header carries a PP2_TYPE_SSL TLV (HAProxy's
	// send-proxy-v2-ssl): what the balancer knows of the client's TLS.
	TLS *TLSInfo
}

// Forwarded reports whether h names the client: a Proxy header with
// addresses. When false the caller uses the real peer address.
func (h Header) Forwarded() bool {
	return h.Command == Proxy && h.Source.IsValid() && h.Destination.IsValid()
}

// TLSInfo is the content of a PP2_TYPE_SSL TLV (proxy-protocol.txt
// section 2.2.5).
type TLSInfo struct {
	// Client is the PP2_CLIENT_SSL flag: the client connected to the
	// balancer over SSL/TLS.
	Client bool
	// CertConn and CertSess: the client presented a certificate on this
	// connection / in this TLS session (PP2_CLIENT_CERT_CONN, _SESS).
	CertConn, CertSess bool
	// Verified: the verify field is zero, i.e. the client's certificate
	// was verified (meaningful only with CertConn or CertSess).
	Verified bool
	Version  string // PP2_SUBTYPE_SSL_VERSION, "TLSv1.3"
	Cipher   string // PP2_SUBTYPE_SSL_CIPHER
	CN       string // PP2_SUBTYPE_SSL_CN: the client certificate's Common Name
}

// Limits from the specification.
const (
	// MaxV1Len is the longest v1 header, CRLF included (section 2.1:
	// "a 108-byte buffer is always enough", 107 characters plus NUL).
	MaxV1Len = 107
	// v2FixedLen is the signature, version/command, family and length.
	v2FixedLen = 16
)

// v2Signature starts every version 2 header (section 2.2).
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// v1Prefix starts every version 1 header.
var v1Prefix = []byte("PROXY ")

// ErrNotProxy is returned (wrapped) when the stream starts with neither
// signature: the peer does not speak the PROXY protocol.
var ErrNotProxy = errors.New("proxyproto: no PROXY header")

// v2 constants (section 2.2).
const (
	cmdLocal = 0x0
	cmdProxy = 0x1

	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	protoUnspec = 0x0
	protoStream = 0x1

	tlvAuthority = 0x02
	tlvCRC32C    = 0x03
	tlvSSL       = 0x20

	subSSLVersion = 0x21
	subSSLCN      = 0x22
	subSSLCipher  = 0x23

	clientSSL      = 0x01
	clientCertConn = 0x02
	clientCertSess = 0x04
)

// Read reads one PROXY header, v1 or v2, from r and returns it. It reads
// no byte beyond the header. Errors: ErrNotProxy when the first bytes are
// no PROXY signature, a syntax error for a malformed header, or the read
// error (io.ErrUnexpectedEOF for a header cut short, a timeout from the
// connection's deadline) wrapped. The caller bounds the time Read may
// take with a read deadline on the connection under r.
func Read(r *bufio.Reader) (Header, error) {
	// Both forms are at least 15 bytes ("PROXY UNKNOWN\r\n"), so peeking
	// 6 cannot wait for bytes a valid header does not have.
	first, err := r.Peek(len(v1Prefix))
	if err != nil {
		return Header{}, readErr(err)
	}
	switch {
	case bytes.Equal(first, v1Prefix):
		return readV1(r)
	case bytes.Equal(first, v2Signature[:len(v1Prefix)]):
		return readV2(r)
	}
	return Header{}, fmt.Errorf("%w: the connection starts with %q", ErrNotProxy, first)
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("proxyproto: reading the header: %w", err)
}

// readV1 reads "PROXY TCP4|TCP6|UNKNOWN ...\r\n" (section 2.1), at most
// MaxV1Len bytes.
func readV1(r *bufio.Reader) (Header, error) {
	line := make([]byte, 0, MaxV1Len)
	for {
		b, err := r.ReadByte()
		if err != nil {
			return Header{}, readErr(err)
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
		if len(line) == MaxV1Len {
			return Header{}, fmt.Errorf("proxyproto: v1 header longer than %d bytes", MaxV1Len)
		}
	}
	return parseV1(line)
}

// parseV1 parses a complete v1 line, CRLF included.
func parseV1(line []byte) (Header, error) {
	body, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok {
		return Header{}, errors.New("proxyproto: v1 header does not end in CRLF")
	}
	h := Header{Version: 1, Command: Proxy}
	fields := bytes.Split(body, []byte(" "))
	// fields[0] is "PROXY".
	if len(fields) < 2 {
		return Header{}, errors.New("proxyproto: v1 header without protocol")
	}
	proto := string(fields[1])
	if proto == "UNKNOWN" {
		// "the receiver must ignore anything presented before the CRLF".
		return h, nil
	}
	if proto != "TCP4" && proto != "TCP6" {
		return Header{}, fmt.Errorf("proxyproto: v1 protocol %q (TCP4, TCP6 or UNKNOWN)", proto)
	}
	if len(fields) != 6 {
		return Header{}, fmt.Errorf("proxyproto: v1 %s header needs 4 fields separated by single spaces, has %d", proto, len(fields)-2)
	}
	src, err := v1Addr(proto, fields[2], fields[4])
	if err != nil {
		return Header{}, fmt.Errorf("proxyproto: v1 source: %w", err)
	}
	dst, err := v1Addr(proto, fields[3], fields[5])
	if err != nil {
		return Header{}, fmt.Errorf("proxyproto: v1 destination: %w", err)
	}
	h.Source, h.Destination = src, dst
	return h, nil
}

// v1Addr parses an address of family proto and a port: decimal, 0..65535,
// without sign or leading zeros.
func v1Addr(proto string, addr, port []byte) (netip.AddrPort, error) {
	ip, err := netip.ParseAddr(string(addr))
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("invalid address %q", addr)
	}
	if (proto == "TCP4") != ip.Is4() {
		return netip.AddrPort{}, fmt.Errorf("address %q is not %s", addr, proto)
	}
	if len(port) == 0 || len(port) > 5 || (port[0] == '0' && len(port) > 1) {
		return netip.AddrPort{}, fmt.Errorf("invalid port %q", port)
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return netip.AddrPort{}, fmt.Errorf("invalid port %q", port)
		}
	}
	p, err := strconv.ParseUint(string(port), 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("invalid port %q", port)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

// readV2 reads a binary header (section 2.2).
func readV2(r *bufio.Reader) (Header, error) {
	fixed, err := r.Peek(v2FixedLen)
	if err != nil {
		return Header{}, readErr(err)
	}
	if !bytes.Equal(fixed[:len(v2Signature)], v2Signature) {
		return Header{}, fmt.Errorf("%w: the connection starts with %q", ErrNotProxy, fixed[:len(v2Signature)])
	}
	n := v2FixedLen + int(binary.BigEndian.Uint16(fixed[14:16]))
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return Header{}, readErr(err)
	}
	return parseV2(buf)
}

// parseV2 parses a complete v2 header.
func parseV2(buf []byte) (Header, error) {
	h := Header{Version: 2}
	verCmd, fam := buf[12], buf[13]
	if verCmd>>4 != 2 {
		return Header{}, fmt.Errorf("proxyproto: v2 version %d", verCmd>>4)
	}
	switch verCmd & 0xf {
	case cmdLocal:
		h.Command = Local
	case cmdProxy:
		h.Command = Proxy
	default:
		return Header{}, fmt.Errorf("proxyproto: v2 command %#x", verCmd&0xf)
	}
	body := buf[v2FixedLen:]
	var addrLen int
	switch fam >> 4 {
	case famUnspec:
	case famInet:
		addrLen = 12
	case famInet6:
		addrLen = 36
	case famUnix:
		addrLen = 216
	default:
		return Header{}, fmt.Errorf("proxyproto: v2 address family %#x", fam>>4)
	}
	// A stream listener takes stream (or unspecified) transports only;
	// a LOCAL header's family is ignored (section 2.2).
	if h.Command == Proxy && fam&0xf != protoStream && !(fam&0xf == protoUnspec && fam>>4 == famUnspec) {
		return Header{}, fmt.Errorf("proxyproto: v2 transport %#x is not a stream", fam&0xf)
	}
	if len(body) < addrLen {
		return Header{}, fmt.Errorf("proxyproto: v2 length %d is short of the %d address bytes", len(body), addrLen)
	}
	if h.Command == Proxy {
		a := body[:addrLen]
		switch fam >> 4 {
		case famInet:
			h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
		case famInet6:
			h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])).Unmap(), binary.BigEndian.Uint16(a[32:34]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])).Unmap(), binary.BigEndian.Uint16(a[34:36]))
		}
	}
	if err := h.parseTLVs(buf, v2FixedLen+addrLen); err != nil {
		return Header{}, err
	}
	if h.Command == Local {
		// Section 2.2: a LOCAL header's addresses and TLVs are discarded;
		// they were still checked for well-formedness above.
		h.Authority, h.TLS = "", nil
	}
	return h, nil
}

// parseTLVs reads the type-length-value fields of buf from off on
// (section 2.2.1): all must fit exactly; unknown types are skipped.
func (h *Header) parseTLVs(buf []byte, off int) error {
	for off < len(buf) {
		typ, val, next, err := tlv(buf, off)
		if err != nil {
			return fmt.Errorf("proxyproto: v2 TLV at byte %d: %w", off, err)
		}
		switch typ {
		case tlvAuthority:
			h.Authority = string(val)
		case tlvCRC32C:
			if len(val) != 4 {
				return fmt.Errorf("proxyproto: v2 CRC32C TLV of %d bytes", len(val))
			}
			if err := checkCRC(buf, off+3); err != nil {
				return err
			}
		case tlvSSL:
			t, err := parseSSL(val)
			if err != nil {
				return err
			}
			h.TLS = t
		}
		off = next
	}
	return nil
}

// tlv returns the TLV at buf[off:].
func tlv(buf []byte, off int) (typ byte, val []byte, next int, err error) {
	if len(buf)-off < 3 {
		return 0, nil, 0, errors.New("truncated type and length")
	}
	n := int(binary.BigEndian.Uint16(buf[off+1 : off+3]))
	if len(buf)-off-3 < n {
		return 0, nil, 0, fmt.Errorf("length %d runs past the header", n)
	}
	return buf[off], buf[off+3 : off+3+n], off + 3 + n, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkCRC verifies a PP2_TYPE_CRC32C value at buf[at:at+4]: the CRC32c
// of the whole header with that field zeroed (section 2.2.2).
func checkCRC(buf []byte, at int) error {
	want := binary.BigEndian.Uint32(buf[at : at+4])
	c := crc32.Update(0, castagnoli, buf[:at])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	c = crc32.Update(c, castagnoli, buf[at+4:])
	if c != want {
		return fmt.Errorf("proxyproto: v2 CRC32C mismatch (header says %#08x, computed %#08x)", want, c)
	}
	return nil
}

// parseSSL parses a PP2_TYPE_SSL value (section 2.2.5): client flags,
// verify result, then sub-TLVs.
func parseSSL(val []byte) (*TLSInfo, error) {
	if len(val) < 5 {
		return nil, fmt.Errorf("proxyproto: v2 SSL TLV of %d bytes", len(val))
	}
	t := &TLSInfo{
		Client:   val[0]&clientSSL != 0,
		CertConn: val[0]&clientCertConn != 0,
		CertSess: val[0]&clientCertSess != 0,
		Verified: binary.BigEndian.Uint32(val[1:5]) == 0,
	}
	for off := 5; off < len(val); {
		typ, sub, next, err := tlv(val, off)
		if err != nil {
			return nil, fmt.Errorf("proxyproto: v2 SSL sub-TLV: %w", err)
		}
		switch typ {
		case subSSLVersion:
			t.Version = string(sub)
		case subSSLCN:
			t.CN = string(sub)
		case subSSLCipher:
			t.Cipher = string(sub)
		}
		off = next
	}
	return t, nil
}

// AppendV1 appends h as a version 1 header to b: "PROXY UNKNOWN\r\n"
// unless h is Forwarded with addresses of one family. TLVs have no v1
// form and are left out.
func (h Header) AppendV1(b []byte) []byte {
	src, dst := h.Source.Addr(), h.Destination.Addr()
	if !h.Forwarded() || src.Is4() != dst.Is4() {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	proto := "TCP6"
	if src.Is4() {
		proto = "TCP4"
	}
	b = append(b, "PROXY "...)
	b = append(b, proto...)
	b = append(b, ' ')
	b = src.AppendTo(b)
	b = append(b, ' ')
	b = dst.AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(h.Source.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(h.Destination.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendV2 appends h as a version 2 header to b, with its Authority and
// TLS as TLVs (values longer than a TLV holds are cut). A Proxy header
// that is not Forwarded gets family AF_UNSPEC; a Local one carries no
// addresses or TLVs. Addresses of mixed families are sent as IPv6.
func (h Header) AppendV2(b []byte) []byte {
	start := len(b)
	b = append(b, v2Signature...)
	if h.Command == Local {
		return append(b, 0x20|cmdLocal, 0, 0, 0)
	}
	src, dst := h.Source.Addr(), h.Destination.Addr()
	switch {
	case !h.Forwarded():
		b = append(b, 0x20|cmdProxy, famUnspec<<4|protoUnspec, 0, 0)
	case src.Is4() && dst.Is4():
		b = append(b, 0x20|cmdProxy, famInet<<4|protoStream, 0, 0)
		b = append(b, src.AsSlice()...)
		b = append(b, dst.AsSlice()...)
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	default:
		s16, d16 := src.As16(), dst.As16()
		b = append(b, 0x20|cmdProxy, famInet6<<4|protoStream, 0, 0)
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	}
	if h.Authority != "" {
		b = appendTLV(b, tlvAuthority, []byte(h.Authority))
	}
	if t := h.TLS; t != nil {
		v := []byte{0, 0, 0, 0, 0}
		if t.Client {
			v[0] |= clientSSL
		}
		if t.CertConn {
			v[0] |= clientCertConn
		}
		if t.CertSess {
			v[0] |= clientCertSess
		}
		if !t.Verified {
			v[4] = 1
		}
		for _, s := range []struct {
			typ byte
			val string
		}{{subSSLVersion, t.Version}, {subSSLCN, t.CN}, {subSSLCipher, t.Cipher}} {
			if s.val != "" {
				v = appendTLV(v, s.typ, []byte(s.val))
			}
		}
		b = appendTLV(b, tlvSSL, v)
	}
	n := len(b) - start - v2FixedLen
	if n > 0xffff {
		// Only absurd Authority/TLS strings get here: drop the TLVs.
		h.Authority, h.TLS = "", nil
		return h.AppendV2(b[:start])
	}
	binary.BigEndian.PutUint16(b[start+14:], uint16(n))
	return b
}

func appendTLV(b []byte, typ byte, val []byte) []byte {
	if len(val) > 0xffff-3 {
		val = val[:0xffff-3]
	}
	b = append(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(val)))
	return append(b, val...)
}
