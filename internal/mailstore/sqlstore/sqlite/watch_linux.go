package sqlite

import (
	"syscall"
	"unsafe"
)

// atFDCWD is AT_FDCWD, -100 on every Linux architecture
// (include/uapi/linux/fcntl.h); a variable, since a negative constant
// does not convert to uintptr.
var atFDCWD = -100

// openRead opens the NUL-terminated path read-only with openat(2) on the
// bytes as they are: syscall.Open would allocate a C copy of the path on
// every call (readChanges).
func openRead(path []byte) (int, error) {
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])),
		uintptr(syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
