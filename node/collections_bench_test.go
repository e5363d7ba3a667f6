package node

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
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
// (frames of 64, crdt.DecodeBatchBorrow) and merging it into the stored collection, a frame's
// writes as one store batch, for HSET, SADD and ZADD of
// random elements of one collection of 100k, and HSET of one field of random keys of 100k
// one-field hashes (hsetkeys: the session store's shape, where each write misses the cache on
// its way to the element). The deltas are made by a node with a sink.
//
//	go test ./node -run '^$' -bench CollRemoteApply -benchmem
//
// A run of deltas to one key is merged as one, as applyDeltas does (mergeInRun: each parsed
// once, their elements warmed together, one lock and one store update); ONEBYONE=1 in the
// environment merges each delta on its own, to compare.
func BenchmarkCollRemoteApply(b *testing.B) {
	oneByOne := os.Getenv("ONEBYONE") != ""
	const elems, writes = 100000, 200000
	ctx := context.Background()
	for _, typ := range []string{"hset", "hsetkeys", "sadd", "zadd"} {
		b.Run(typ, func(b *testing.B) {
			src, _ := newTestNode(b, nil)
			var deltas []crdt.Delta
			src.sink = func(d crdt.Delta) {
				d.Key, d.Entry.Value = strings.Clone(d.Key), bytes.Clone(d.Entry.Value)
				deltas = append(deltas, d)
			}
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
			// As a receiver applies a peer's frames: each of 64 writes, decoded as views of the
			// frame (crdt.DecodeBatchBorrow) and applied as one store batch (lru ApplyBatch,
			// whose warm pass overlaps their lookups' cache misses).
			frames := func(ds []crdt.Delta) [][]byte {
				var out [][]byte
				for len(ds) > 0 {
					k := min(len(ds), 64)
					out = append(out, crdt.AppendBatch(nil, &crdt.Batch{From: src.replica, Deltas: ds[:k]}))
					ds = ds[k:]
				}
				return out
			}
			dst, _ := newTestNode(b, nil)
			var batch crdt.Batch
			keys := make([]string, 0, 64)
			state := make([]uint8, 64)
			// The stable time trails the writes as on a cluster (the janitor's pass every 100
			// ms, a peer's lag): at the stamp of the write lag writes back. Without it every
			// replaced write would be kept as removed, a tomb growing for the whole run.
			const lag = 10000
			applied := 0
			apply := func(frames [][]byte) {
				for _, f := range frames {
					if applied >= lag {
						dst.collStable.Store(uint64(deltas[applied-lag].Entry.Version.TS))
					}
					applied += 64
					if err := crdt.DecodeBatchBorrow(&batch, f, crdt.Limits{}); err != nil {
						b.Fatal(err)
					}
					ds := batch.Deltas
					keys = keys[:0]
					for i := range ds {
						keys = append(keys, ds[i].Key)
					}
					now := dst.nowMs()
					var runs collRuns // as applyDeltas merges a run of deltas to one key
					clear(state)
					dst.store.ApplyBatch(keys, now, func(i int, cur lru.Current[value]) lru.Update[value] {
						if !oneByOne {
							if up, ok := dst.mergeInRun(&runs, ds, i, &cur, now, state, 1); ok {
								return up
							}
						}
						up, _ := dst.merge(ds[i].Key, &cur, &ds[i].Entry, now)
						return up
					})
				}
			}
			apply(frames(deltas[:elems]))
			if b.N > writes {
				b.Fatalf("at most %d writes (-benchtime %dx)", writes, writes)
			}
			timed := frames(deltas[elems : elems+b.N])
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuClock()
			apply(timed)
			reportCPU(b, cpu)
		})
	}
}
