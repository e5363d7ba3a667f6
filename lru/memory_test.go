package lru

import (
	"flag"
	"fmt"
	"runtime"
	"testing"
	"unsafe"

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

// slotValue32, slotValue24 and slotValue16 have the node's value shape (one pointer, then plain
// words) at 32 bytes (today's node.value) and at the 24 and 16 bytes a smaller slot would need.
type (
	slotValue32 struct {
		p       *byte
		a, b    uint64
		n, bits uint32
	}
	slotValue24 struct {
		p       *byte
		a       uint64
		n, bits uint32
	}
	slotValue16 struct {
		p       *byte
		n, bits uint32
	}
)

// slotOverhead fills a cache shaped like a node's store (a byte bound, shards of the given count,
// 0 = automatic) with memEntries entries of zero values, written through Apply as the node
// writes, and returns the heap growth per entry: the slot, the unused slots of the slab's last
// chunk, the chunks' allocation slack, the hash index and the shards. The keys are the caller's
// (not counted) and the values hold no bytes. One million entries, as in the node's benchmark
// (not memEntries: 2^20 entries over 256 shards is 4096 a shard, the slab's chunk boundary, so
// half the shards would take a chunk more).
func slotOverhead[V any](shards int) (slot uintptr, perEntry float64) {
	const entries = 1_000_000
	keys := make([]string, entries)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%015d", i)
	}
	before := heapAlloc()
	c, err := New(Options[string, V]{Shards: shards, MaxBytes: 8 << 30, Size: func(string, V) int { return 48 }})
	if err != nil {
		panic(err)
	}
	var zero V
	put := func(Current[V]) Update[V] { return Update[V]{Action: Put, Value: zero} }
	for _, k := range keys {
		c.Apply(k, 1, put)
	}
	after := heapAlloc()
	runtime.KeepAlive(c)
	runtime.KeepAlive(keys)
	return unsafe.Sizeof(entry[string, V, string]{}), float64(after-before) / entries
}

// BenchmarkSlotMemory reports the store's bytes per entry for the node's 32-byte value and for
// values of 24 and 16 bytes (slots of 64, 56 and 48 bytes), with automatic sharding at an 8 GiB
// bound (what BenchmarkNodeMemoryPerEntry in node gets: 256 shards on 2 cores) and with 128
// shards (what the harness's 4 GiB daemon gets on 2 cores: autoShards raises 32 until 1M-entry
// shards cover 4 GiB / EntryOverhead entries) and 64: what a smaller slot would buy before
// anyone builds it.
//
//	go test ./lru -run '^$' -bench SlotMemory -benchtime 1x
func BenchmarkSlotMemory(b *testing.B) {
	for _, shards := range []int{0, 128, 64} {
		for _, tc := range []struct {
			name string
			fn   func(int) (uintptr, float64)
		}{
			{"value32", slotOverhead[slotValue32]},
			{"value24", slotOverhead[slotValue24]},
			{"value16", slotOverhead[slotValue16]},
		} {
			b.Run(fmt.Sprintf("shards=%d/%s", shards, tc.name), func(b *testing.B) {
				var slot uintptr
				var got float64
				for range b.N {
					slot, got = tc.fn(shards)
				}
				b.ReportMetric(float64(slot), "slot-B")
				b.ReportMetric(got, "B/entry")
			})
		}
	}
}
