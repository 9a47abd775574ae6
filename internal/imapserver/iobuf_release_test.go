package imapserver

import (
	"io"
	"testing"
)

// TestSessionBuffersReused: a session takes its input and output buffers
// (40 KiB) from the pools and gives them back when it ends, so short
// sessions one after another (webmail: a connection per page view) do
// not make them anew. Some are made all the same: a garbage collection
// empties the pools, and under the race detector sync.Pool drops a
// quarter of what it is given (a session gives its buffers back twice:
// when it waits for the LOGOUT line and when it ends), so about half the
// sessions make one there; without the reuse every session makes a set.
func TestSessionBuffersReused(t *testing.T) {
	ts := newTestServer(t)
	session := func() {
		c := ts.socketPair(t)
		c.do("l LOGOUT").untagged("* BYE Logging out").ok()
		// EOF: the server has closed the connection, after the session
		// gave its buffers back.
		if _, err := io.ReadAll(c.r); err != nil {
			t.Fatal(err)
		}
	}
	session() // fill the pools
	const n = 200
	before := writeBufsMade.Load()
	for range n {
		session()
	}
	made := writeBufsMade.Load() - before
	t.Logf("%d output buffers made for %d sessions", made, n)
	if made > n*3/4 {
		t.Errorf("%d output buffers made for %d sessions one after another, want at most %d: buffers not reused", made, n, n*3/4)
	}
}
