//go:build !linux

package netserver

import (
	"os"
	"syscall"
)

// sendFileSupported: zero-copy sending is implemented for Linux only;
// elsewhere SendFile reports ErrSendFileUnsupported and callers copy.
const sendFileSupported = false

func sendFile(rc syscall.RawConn, f *os.File, off, n int64, arm func()) (int64, error) {
	return 0, ErrSendFileUnsupported
}
