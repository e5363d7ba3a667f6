package node

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkNodeMemoryPerEntry reports the heap bytes per entry beyond key and value for 1M
// entries written through the node (version, dot, store bookkeeping included):
//
//	go test ./node -run '^$' -bench NodeMemoryPerEntry -benchtime 1x
func BenchmarkNodeMemoryPerEntry(b *testing.B) {
	for b.Loop() {
		const entries = 1_000_000
		keys := make([]string, entries)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%015d", i) // 16 bytes
		}
		val := make([]byte, 32)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n, err := New(Config{MaxMemory: 8 << 30, JanitorInterval: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		for _, k := range keys {
			// Set copies the value, as it must: each entry owns its 32 bytes.
			if _, err := n.Set(ctx, k, val, SetOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n.Len() != entries {
			b.Fatalf("holds %d entries", n.Len())
		}
		// Keys are shared with the caller's slice (strings are not copied), so only the value
		// bytes are payload the node allocated.
		perEntry := float64(after.HeapAlloc-before.HeapAlloc)/entries - 32
		b.ReportMetric(perEntry, "overhead-B/entry")
		runtime.KeepAlive(keys)
		n.Close()
	}
}
