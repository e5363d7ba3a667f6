package lru

import (
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hlru "github.com/hashicorp/golang-lru/v2"
	"github.com/maypok86/otter/v2"
)

// The throughput benchmarks run the three caches (this package, otter v2, golang-lru v2) on
// the same Zipf(s=1.01) trace over a 1M-key space, with capacity for the whole key space so
// that Get measures reads, not misses (docs/benchmarks-lru.md has results):
//
//	go test ./lru -run='^$' -bench='Serial|Parallel' -benchtime=2s -count=5

const (
	benchKeys  = 1 << 20
	benchTrace = 1 << 22
)

// benchData returns the key space and a trace of keys drawn from it. The trace holds the key
// strings themselves (read sequentially), so that the harness adds one memory access per
// operation, the key bytes hashed, as a request buffer would.
var benchData = sync.OnceValues(func() ([]string, []string) {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%015d", i) // 16 bytes
	}
	r := rand.New(rand.NewSource(1))
	z := rand.NewZipf(r, 1.01, 1, benchKeys-1)
	trace := make([]string, benchTrace)
	for i := range trace {
		trace[i] = keys[z.Uint64()]
	}
	return keys, trace
})

// benchCache is the common surface of the caches under test.
type benchCache interface {
	get(k string) bool
	set(k string, v []byte)
}

type lruBench struct{ c *Cache[string, []byte] }

func (b lruBench) get(k string) bool      { _, _, ok := b.c.Get(k, 1); return ok }
func (b lruBench) set(k string, v []byte) { b.c.Set(k, v, 0, 1) }

type otterBench struct{ c *otter.Cache[string, []byte] }

func (b otterBench) get(k string) bool      { _, ok := b.c.GetIfPresent(k); return ok }
func (b otterBench) set(k string, v []byte) { b.c.Set(k, v) }

type hashiBench struct{ c *hlru.Cache[string, []byte] }

func (b hashiBench) get(k string) bool      { _, ok := b.c.Get(k); return ok }
func (b hashiBench) set(k string, v []byte) { b.c.Add(k, v) }

var benchImpls = []struct {
	name string
	make func(capacity int) benchCache
}{
	{"lru", func(n int) benchCache {
		c, err := New(Options[string, []byte]{
			MaxEntries: n,
			Size:       func(k string, v []byte) int { return len(k) + len(v) },
		})
		if err != nil {
			panic(err)
		}
		return lruBench{c}
	}},
	{"otter", func(n int) benchCache {
		return otterBench{otter.Must(&otter.Options[string, []byte]{MaximumSize: n})}
	}},
	{"golang-lru", func(n int) benchCache {
		c, err := hlru.New[string, []byte](n)
		if err != nil {
			panic(err)
		}
		return hashiBench{c}
	}},
}

// cpuTime is the CPU time (user + system) consumed by this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runParallel runs op over the shared trace, each goroutine from its own offset. Besides
// ns/op (wall clock) it reports cpu-ns/op, the process CPU time per operation, which is less
// sensitive to other load on a shared machine.
func runParallel(b *testing.B, op func(i int, key string)) {
	_, trace := benchData()
	var seed atomic.Int64
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() {
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)*1_000_003) & (benchTrace - 1)
		for pb.Next() {
			op(i, trace[i])
			i = (i + 1) & (benchTrace - 1)
		}
	})
}

func filled(make func(int) benchCache) (benchCache, []byte) {
	keys, _ := benchData()
	c := make(2 * benchKeys)
	v := []byte("0123456789abcdef0123456789abcdef")
	for _, k := range keys {
		c.set(k, v)
	}
	return c, v
}

// forEachImpl runs bench for every cache, each filled with the whole key space once (the
// testing package calls a sub-benchmark several times while it sizes b.N).
func forEachImpl(b *testing.B, bench func(b *testing.B, c benchCache, v []byte)) {
	for _, impl := range benchImpls {
		var c benchCache
		var v []byte
		b.Run(impl.name, func(b *testing.B) {
			if c == nil {
				c, v = filled(impl.make)
			}
			bench(b, c, v)
		})
	}
}

// BenchmarkGetSerial: Get from one goroutine, the cost of a lookup without contention.
func BenchmarkGetSerial(b *testing.B) {
	forEachImpl(b, func(b *testing.B, c benchCache, _ []byte) {
		_, trace := benchData()
		runtime.GC()
		b.ResetTimer()
		for i := range b.N {
			c.get(trace[i&(benchTrace-1)])
		}
	})
}

// BenchmarkGetParallel: parallel Get, one goroutine per core.
func BenchmarkGetParallel(b *testing.B) {
	forEachImpl(b, func(b *testing.B, c benchCache, _ []byte) {
		var miss atomic.Int64
		runParallel(b, func(_ int, k string) {
			if !c.get(k) {
				miss.Add(1)
			}
		})
		if miss.Load() != 0 {
			b.Fatalf("%d misses on a cache holding the whole key space", miss.Load())
		}
	})
}

// BenchmarkGetParallel8 is BenchmarkGetParallel with 8 goroutines per core, like a server
// with many concurrent requests.
func BenchmarkGetParallel8(b *testing.B) {
	forEachImpl(b, func(b *testing.B, c benchCache, _ []byte) {
		b.SetParallelism(8)
		runParallel(b, func(_ int, k string) { c.get(k) })
	})
}

// BenchmarkMixParallel: 90% Get, 10% Set of an existing key.
func BenchmarkMixParallel(b *testing.B) {
	forEachImpl(b, func(b *testing.B, c benchCache, v []byte) {
		runParallel(b, func(i int, k string) {
			if i%10 == 0 {
				c.set(k, v)
			} else {
				c.get(k)
			}
		})
	})
}

// BenchmarkSetParallel: parallel Set of existing keys.
func BenchmarkSetParallel(b *testing.B) {
	forEachImpl(b, func(b *testing.B, c benchCache, v []byte) {
		runParallel(b, func(_ int, k string) { c.set(k, v) })
	})
}
