package load

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The process tree of this test includes a child it starts, and the
// memory and CPU readings of the tree are plausible.
func TestProcessTreeMemoryCPU(t *testing.T) {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	self := func() ([]int, error) { return []int{os.Getpid()}, nil }

	tree, err := processTree([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tree, child.Process.Pid) || tree[0] != os.Getpid() {
		t.Fatalf("tree %v lacks the child %d", tree, child.Process.Pid)
	}
	m, err := readMemory(self)
	if err != nil {
		t.Fatal(err)
	}
	if m.Processes < 2 || m.RSSKiB < 1000 || m.PSSKiB <= 0 || m.PSSKiB > m.RSSKiB {
		t.Fatalf("memory %+v", m)
	}

	// Against the kernel's own account (getrusage) of the same work.
	rusage := func() float64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	cpu0, err := readCPU(self)
	if err != nil {
		t.Fatal(err)
	}
	ru0 := rusage()
	x := 0
	for rusage()-ru0 < 0.3 {
		x++
	}
	cpu1, _ := readCPU(self)
	d, want := cpu1-cpu0, rusage()-ru0
	if d < want-0.1 || d > want+0.1 {
		t.Fatalf("readCPU counted %.2f s for %.2f s of CPU (%d loops)", d, want, x)
	}

	if _, err := readMemory(func() ([]int, error) { return []int{1 << 30}, nil }); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestMemoryReportPerConnection(t *testing.T) {
	r := memoryReport(&Memory{RSSKiB: 1000, PSSKiB: 800}, &Memory{RSSKiB: 11000, PSSKiB: 5800}, 100, 100)
	if r.RSSPerConn != 100 || r.PSSPerConn != 50 || r.Connections != 100 {
		t.Fatalf("%+v", r)
	}
}
