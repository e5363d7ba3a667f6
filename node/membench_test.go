package node

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkNodeMemoryPerEntry reports the heap bytes per entry beyond key and value for 1M
// entries of 16-byte keys and 32-byte values written through the node (version, dot, store
// bookkeeping included):
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
		// The node keeps its own copy of each key, in one allocation with the value's bytes
		// (value.own): key and value, 48 bytes, are the payload. (Before the store's values
		// carried their keys, the node kept the caller's strings and only the value's 32 bytes
		// were subtracted.)
		perEntry := float64(after.HeapAlloc-before.HeapAlloc)/entries - 16 - 32
		b.ReportMetric(perEntry, "overhead-B/entry")
		runtime.KeepAlive(keys)
		n.Close()
	}
}
