package netserver

import (
	"net"
	"syscall"
)

// quickAckConn re-arms TCP_QUICKACK after every read that returned data, so
// that the kernel acknowledges what the client sent at once instead of
// holding the ACK for up to 40 ms (Linux delayed ACK) in the hope of
// piggybacking it on a response.
//
// Why: a client that writes one command in several small writes (imaplib
// sends an APPEND literal and its closing CRLF separately; LITERAL+ clients
// send the command line, the literal and the CRLF; some send "tag NOOP" and
// "\r\n" apart) has Nagle's algorithm on, so each write after the first waits
// for the ACK of the one before. The server has nothing to answer until the
// command is complete, so with delayed ACK every such write cost 40 ms: an
// imaplib APPEND took 44 ms against Roost and 1 ms against Dovecot. The
// kernel leaves quick-ACK mode again on its own (after it sends data in an
// interactive exchange), hence one setsockopt per read, which costs about a
// microsecond. See TestQuickAckSplitWrites.
type quickAckConn struct {
	net.Conn
	rc syscall.RawConn
}

func (q *quickAckConn) Read(p []byte) (int, error) {
	n, err := q.Conn.Read(p)
	if n > 0 {
		q.rc.Control(setQuickAck)
	}
	return n, err
}

// NetConn returns the wrapped connection.
func (q *quickAckConn) NetConn() net.Conn { return q.Conn }

// withQuickAck wraps nc when it is a TCP connection (possibly behind the
// PROXY-header buffer) on a system with TCP_QUICKACK; anything else is
// returned as is.
func withQuickAck(nc net.Conn) net.Conn {
	if !quickAckSupported {
		return nc
	}
	inner := nc
	if b, ok := nc.(*bufferedConn); ok {
		inner = b.Conn
	}
	tc, ok := inner.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	return &quickAckConn{Conn: nc, rc: rc}
}
