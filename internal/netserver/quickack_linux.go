package netserver

import "syscall"

const quickAckSupported = true

func setQuickAck(fd uintptr) {
	// Best effort: an error only means the kernel keeps delaying ACKs.
	_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
}
