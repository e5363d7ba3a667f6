//go:build !unix

package node

import "testing"

func cpuClock() int64 { return 0 }

// reportCPU reports nothing where getrusage is missing.
func reportCPU(*testing.B, int64) {}
