package imapserver

import "testing"

func TestGreetingAndLogout(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.do("a1 NOOP").untagged().tagged("OK Noop completed.")
	c.do("a2 LOGOUT").untagged("* BYE Logging out").tagged("OK Logout completed.")
	c.expectClosed()
}
