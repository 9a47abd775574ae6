package netserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSendFile isolates the two ways a session sends a literal of a
// file over loopback TCP: copy (the response prefix, then the file read
// into the session's 32 KiB bufio.Writer by io.CopyN and written, then the
// trailer and flush, as the IMAP encoder does) and sendfile (prefix
// flushed, SendFile, trailer and flush). A client goroutine reads into a
// 256 KiB buffer and discards. cpu-µs/op is the whole process's user+system
// CPU per literal (getrusage), client included (the same on both paths).
//
//	go test -run XXX -bench SendFile -benchtime 2000x ./internal/netserver
func BenchmarkSendFile(b *testing.B) {
	for _, size := range []int{16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20, 10 << 20} {
		for _, path := range []string{"copy", "sendfile"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, path), func(b *testing.B) {
				f, _ := testFile(b, size)
				c, client := connPair(b, "tcp", func(nc net.Conn) net.Conn { return nc }, nil)
				prefix := []byte(fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n", size))
				trailer := []byte(")\r\nf OK Fetch completed.\r\n")
				total := len(prefix) + size + len(trailer)
				done := make(chan error, 1)
				go func() {
					buf := make([]byte, 256<<10)
					for range b.N {
						for left := total; left > 0; {
							n, err := client.Read(buf[:min(left, len(buf))])
							if err != nil {
								done <- err
								return
							}
							left -= n
						}
					}
					done <- nil
				}()
				bw := bufio.NewWriterSize(c, 32<<10)
				b.SetBytes(int64(size))
				var ru0, ru1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				b.ResetTimer()
				for range b.N {
					bw.Write(prefix)
					if path == "copy" {
						if _, err := io.CopyN(bw, io.NewSectionReader(f, 0, int64(size)), int64(size)); err != nil {
							b.Fatal(err)
						}
					} else {
						if err := bw.Flush(); err != nil {
							b.Fatal(err)
						}
						if _, err := c.SendFile(f, 0, int64(size), time.Minute); err != nil {
							b.Fatal(err)
						}
					}
					bw.Write(trailer)
					if err := bw.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				cpu := syscall.TimevalToNsec(ru1.Utime) - syscall.TimevalToNsec(ru0.Utime) +
					syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Stime)
				b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-µs/op")
			})
		}
	}
}
