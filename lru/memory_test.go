package lru

import (
	"flag"
	"fmt"
	"runtime"
	"testing"

	hlru "github.com/hashicorp/golang-lru/v2"
	"github.com/maypok86/otter/v2"
)

var memTest = flag.Bool("lru.mem", false, "run the one-million-entry memory overhead test")

const (
	memEntries  = 1 << 20
	memKeyLen   = 16 // size class 16: no allocation slack in the payload
	memValueLen = 64 // size class 64
)

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// overheadPerEntry fills a fresh cache built by fill with memEntries keys of 16 bytes and
// values of 64 bytes and returns the heap growth per entry minus those 80 payload bytes:
// everything the cache spends on an entry (headers, links, index, slack).
func overheadPerEntry(fill func(n int, key func(i int) string) any) float64 {
	key := func(i int) string { return fmt.Sprintf("k%015d", i) }
	before := heapAlloc()
	c := fill(memEntries, key)
	after := heapAlloc()
	runtime.KeepAlive(c)
	return float64(int64(after-before)-memEntries*(memKeyLen+memValueLen)) / memEntries
}

var memCases = []struct {
	name string
	fill func(n int, key func(int) string) any
}{
	{"lru/bytes", func(n int, key func(int) string) any {
		c, _ := New(Options[string, []byte]{MaxEntries: 2 * n, Size: func(k string, v []byte) int { return len(k) + len(v) }})
		for i := range n {
			c.Set(key(i), make([]byte, memValueLen), 0, 0)
		}
		return c
	}},
	{"lru/string", func(n int, key func(int) string) any {
		c, _ := New(Options[string, string]{MaxEntries: 2 * n, Size: strSize})
		for i := range n {
			c.Set(key(i), string(make([]byte, memValueLen)), 0, 0)
		}
		return c
	}},
	{"lru/bytes+expiry", func(n int, key func(int) string) any {
		c, _ := New(Options[string, []byte]{MaxEntries: 2 * n, Stamp: func([]byte) uint64 { return 1 },
			Size: func(k string, v []byte) int { return len(k) + len(v) }})
		for i := range n {
			c.Set(key(i), make([]byte, memValueLen), 1<<45, 0)
		}
		return c
	}},
	{"otter/bytes", func(n int, key func(int) string) any {
		c := otter.Must(&otter.Options[string, []byte]{MaximumSize: 2 * n})
		for i := range n {
			c.Set(key(i), make([]byte, memValueLen))
		}
		c.CleanUp()
		return c
	}},
	{"golang-lru/bytes", func(n int, key func(int) string) any {
		c, _ := hlru.New[string, []byte](2 * n)
		for i := range n {
			c.Add(key(i), make([]byte, memValueLen))
		}
		return c
	}},
}

// TestMemoryOverhead measures bytes per entry beyond key + value at one million entries and
// holds the cache to the design target (64) and to its own EntryOverhead. Slow and
// allocation-heavy, so it runs only with -lru.mem:
//
//	go test ./lru -run TestMemoryOverhead -lru.mem -v
func TestMemoryOverhead(t *testing.T) {
	if !*memTest {
		t.Skip("run with -lru.mem")
	}
	for _, tc := range memCases {
		got := overheadPerEntry(tc.fill)
		t.Logf("%-30s %6.1f bytes/entry beyond key+value", tc.name, got)
		if tc.name[:4] == "lru/" && (got > 64 || got > EntryOverhead) {
			t.Errorf("%s: %.1f bytes/entry, want <= 64 and <= EntryOverhead (%d)", tc.name, got, EntryOverhead)
		}
	}
}

// BenchmarkMemoryOverhead reports the same measurement as a metric (one fill per run):
//
//	go test ./lru -run='^$' -bench=MemoryOverhead -benchtime=1x
func BenchmarkMemoryOverhead(b *testing.B) {
	for _, tc := range memCases {
		b.Run(tc.name, func(b *testing.B) {
			var got float64
			for range b.N {
				got = overheadPerEntry(tc.fill)
			}
			b.ReportMetric(got, "bytes/entry")
		})
	}
}
