package crdt

import (
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkCollectionCharge builds b.N-element collections (the mem script's elements: 13-byte
// fields and values, 14-byte members) and reports the live heap per element after a collection
// (live-B/elem) beside what Bytes charges (charge-B/elem): the store bounds memory by the
// charge, so it should be close to the live heap.
//
//	go test ./crdt -run '^$' -bench CollectionCharge -benchtime 200000x
func BenchmarkCollectionCharge(b *testing.B) {
	build := map[string]func(n int) interface{ Bytes() int }{
		"hash": func(n int) interface{ Bytes() int } {
			h := NewHash(Version{})
			for i := 0; i < n; i++ {
				j := strconv.Itoa(1000000 + i)
				h.Set(Version{TS: Timestamp(i + 1), Replica: 1}, [2][]byte{[]byte("field:" + j), []byte("value:" + j)})
			}
			return h
		},
		"set": func(n int) interface{ Bytes() int } {
			s := NewSet(Version{})
			for i := 0; i < n; i++ {
				s.Add(Version{TS: Timestamp(i + 1), Replica: 1}, "member:"+strconv.Itoa(1000000+i))
			}
			return s
		},
		"zset": func(n int) interface{ Bytes() int } {
			z := NewZSet(Version{})
			for i := 0; i < n; i++ {
				z.Add(Version{TS: Timestamp(i + 1), Replica: 1}, "member:"+strconv.Itoa(1000000+i), float64(i))
			}
			return z
		},
	}
	for _, name := range []string{"hash", "set", "zset"} {
		b.Run(name, func(b *testing.B) {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			c := build[name](b.N)
			runtime.GC()
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(b.N), "live-B/elem")
			b.ReportMetric(float64(c.Bytes())/float64(b.N), "charge-B/elem")
			runtime.KeepAlive(c)
		})
	}
}
