package node

import (
	"context"
	"strconv"
	"testing"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// BenchmarkSAddSameMember re-adds one member (redis-benchmark's SADD without -r): each write
// removes the previous add, so it measures the tombstone path.
func BenchmarkSAddSameMember(b *testing.B) {
	n, _ := newTestNode(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), "element:000000000000")
			return d
		})
	}
}

// BenchmarkSAddNewMembers adds distinct members to one set.
func BenchmarkSAddNewMembers(b *testing.B) {
	n, _ := newTestNode(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := "element:" + strconv.Itoa(i)
		n.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), m)
			return d
		})
	}
}

// BenchmarkCollRemoteApply is a replica's side of an element write: decoding the wire delta
// (crdt.DecodeDelta) and merging it into the stored collection, 64 writes to a store batch, for HSET, SADD and ZADD of
// random elements of one collection of 100k, and HSET of one field of random keys of 100k
// one-field hashes (hsetkeys: the session store's shape, where each write misses the cache on
// its way to the element). The deltas are made by a node with a sink.
//
//	go test ./node -run '^$' -bench CollRemoteApply -benchmem
func BenchmarkCollRemoteApply(b *testing.B) {
	const elems, writes = 100000, 200000
	ctx := context.Background()
	for _, typ := range []string{"hset", "hsetkeys", "sadd", "zadd"} {
		b.Run(typ, func(b *testing.B) {
			src, _ := newTestNode(b, nil)
			var wire [][]byte
			src.sink = func(d crdt.Delta) { wire = append(wire, crdt.AppendDelta(nil, &d)) }
			rng := uint64(1)
			for i := 0; i < elems+writes; i++ {
				rng = rng*6364136223846793005 + 1442695040888963407
				m := "element:" + strconv.Itoa(int(rng>>33)%elems)
				if i < elems {
					m = "element:" + strconv.Itoa(i)
				}
				switch typ {
				case "hsetkeys":
					src.UpdateHash(ctx, "h:"+m, true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
						return h.Set(stamp(), [2][]byte{[]byte("f"), []byte("v")})
					})
				case "hset":
					src.UpdateHash(ctx, "k", true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
						return h.Set(stamp(), [2][]byte{[]byte(m), []byte("value")})
					})
				case "sadd":
					src.UpdateSet(ctx, "k", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
						_, d := s.Add(stamp(), m)
						return d
					})
				default:
					src.ZAdd(ctx, "k", m, float64(rng>>40))
				}
			}
			dst, _ := newTestNode(b, nil)
			// As a receiver applies a frame: decoded, then its writes applied as store
			// batches (lru ApplyBatch, whose warm pass overlaps their lookups' misses).
			ds := make([]crdt.Delta, 0, 64)
			keys := make([]string, 0, 64)
			apply := func(ws [][]byte) {
				ds, keys = ds[:0], keys[:0]
				for _, w := range ws {
					d, _, err := crdt.DecodeDelta(w, crdt.Limits{})
					if err != nil {
						b.Fatal(err)
					}
					ds, keys = append(ds, d), append(keys, d.Key)
				}
				now := dst.nowMs()
				dst.store.ApplyBatch(keys, now, func(i int, cur lru.Current[value]) lru.Update[value] {
					up, _ := dst.merge(ds[i].Key, &cur, &ds[i].Entry, now)
					return up
				})
			}
			batches := func(ws [][]byte) {
				for len(ws) > 0 {
					k := min(len(ws), 64)
					apply(ws[:k])
					ws = ws[k:]
				}
			}
			batches(wire[:elems])
			if b.N > writes {
				b.Fatalf("at most %d writes (-benchtime %dx)", writes, writes)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuClock()
			batches(wire[elems : elems+b.N])
			reportCPU(b, cpu)
		})
	}
}
