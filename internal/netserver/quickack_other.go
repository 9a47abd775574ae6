//go:build !linux

package netserver

const quickAckSupported = false

func setQuickAck(fd uintptr) {}
