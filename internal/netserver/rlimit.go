package netserver

import (
	"fmt"
	"syscall"
)

// RaiseOpenFileLimit raises the process's soft RLIMIT_NOFILE to its hard
// limit and returns the resulting soft limit. Every connection is an open
// file, so the soft limit (often 1024) and not memory would otherwise cap
// the number of clients; systemd units set the hard limit with
// LimitNOFILE= (contrib/systemd/roost.service). Go's runtime already
// raises the limit at start on Linux (since Go 1.19); this makes the
// contract explicit and returns the figure the connection cap derives
// from.
func RaiseOpenFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return rl.Cur, fmt.Errorf("raising RLIMIT_NOFILE from %d to %d: %w", rl.Cur, rl.Max, err)
		}
		rl = want
	}
	return rl.Cur, nil
}

// connectionsFor is the default connection cap for an open-file limit:
// a quarter of the descriptors (at least 256) stay free for the mail
// store (an account's database, its write-ahead log and shared-memory
// files, message files being read or written), listeners and logs, so
// that accept never fails with EMFILE while sessions still need files.
func connectionsFor(nofile uint64) int {
	reserve := max(nofile/4, 256)
	if nofile < reserve+64 {
		return 64 // a tiny limit: serve a few clients rather than none
	}
	return int(min(nofile-reserve, 1<<20))
}
