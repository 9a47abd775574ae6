package netserver

import (
	"syscall"
	"testing"
)

func TestRaiseOpenFileLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	// Lower the soft limit the way a login shell's 1024 would, then
	// check it is raised back to the hard limit.
	low := rl
	low.Cur = min(rl.Max, 512)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) })
	got, err := RaiseOpenFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if got != rl.Max {
		t.Errorf("RaiseOpenFileLimit = %d, want the hard limit %d", got, rl.Max)
	}
	var now syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
	if now.Cur != rl.Max {
		t.Errorf("soft limit now %d, want %d", now.Cur, rl.Max)
	}
	if s := New(Options{}); s.opts.MaxConnections != connectionsFor(rl.Max) {
		t.Errorf("default MaxConnections = %d, want %d", s.opts.MaxConnections, connectionsFor(rl.Max))
	}
}

func TestConnectionsFor(t *testing.T) {
	for _, c := range []struct {
		nofile uint64
		want   int
	}{
		{65536, 49152}, // LimitNOFILE=65536 in contrib/systemd/roost.service
		{20000, 15000},
		{1024, 768},
		{300, 64}, // nearly nothing left after the store's reserve
		{1 << 30, 1 << 20},
	} {
		if got := connectionsFor(c.nofile); got != c.want {
			t.Errorf("connectionsFor(%d) = %d, want %d", c.nofile, got, c.want)
		}
	}
}
