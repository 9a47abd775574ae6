//go:build !linux

package sqlite

import "syscall"

// openRead opens the NUL-terminated path read-only (see the Linux
// version, which spares the copy of the path).
func openRead(path []byte) (int, error) {
	return syscall.Open(string(path[:len(path)-1]), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
}
