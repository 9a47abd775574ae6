package netserver

import (
	"io"
	"os"
	"syscall"
)

const sendFileSupported = true

// maxSendFileChunk bounds one sendfile(2) call (the kernel caps a call at
// about 2 GiB anyway).
const maxSendFileChunk = 1 << 30

// sendFile sends n bytes of f from offset off to the socket of rc. arm is
// called before each wait for the socket, after progress, to re-arm the
// write deadline. The file's offset is not used: sendfile(2) is given an
// explicit offset, which the kernel advances in off only.
func sendFile(rc syscall.RawConn, f *os.File, off, n int64, arm func()) (written int64, err error) {
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, ErrSendFileUnsupported
	}
	var serr error
	cerr := fc.Control(func(ffd uintptr) {
		for written < n && serr == nil {
			arm()
			werr := rc.Write(func(sfd uintptr) bool {
				// One successful call per callback, so that the loop
				// above re-arms the deadline after each bit of progress;
				// false (EAGAIN, nothing sent) makes rc.Write wait until
				// the socket is writable or the deadline passes.
				for {
					m, e := syscall.Sendfile(int(sfd), int(ffd), &off, int(min(n-written, maxSendFileChunk)))
					switch {
					case e == syscall.EINTR:
						continue
					case e == syscall.EAGAIN:
						return false
					case e != nil:
						if written == 0 && (e == syscall.EINVAL || e == syscall.ENOSYS || e == syscall.EOPNOTSUPP) {
							// The file (or socket) does not support
							// sendfile: nothing was sent, copy instead.
							serr = ErrSendFileUnsupported
						} else {
							serr = e
						}
						return true
					case m == 0:
						serr = io.ErrUnexpectedEOF // the file ends before off+n
						return true
					}
					written += int64(m)
					return true
				}
			})
			if werr != nil && serr == nil {
				serr = werr
			}
		}
	})
	if cerr != nil {
		if written == 0 {
			return 0, ErrSendFileUnsupported
		}
		return written, cerr
	}
	return written, serr
}
