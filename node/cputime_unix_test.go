//go:build unix

package node

import (
	"syscall"
	"testing"
)

// cpuClock returns this process's CPU time (user and system) in nanoseconds, for
// reportCPU: on a machine shared with other load a benchmark's wall time per op counts the
// time it waited for a core, its CPU time does not.
func cpuClock() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU reports the process CPU time since start (a cpuClock reading) per op as cpu-ns/op.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuClock()-start)/float64(b.N), "cpu-ns/op")
}
