package crdt

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// The write paths under a cache-missing load, as redis-benchmark -r 100000 drives them: a
// member of a 100k-member sorted set moved to a random score (a ZADD that reindexes), and a
// field of one of 100k one-field hashes rewritten. Each writes the state in place and, as a
// replica would, applies the encoded delta to a second copy.
//
//	go test ./crdt -run '^$' -bench 'WriteZSetMove|WriteSmallHashes' -benchtime 200000x
//
// (WriteSmallHashesBoxed: the hashes boxed as the node holds them, crdt.HashBox.)

func BenchmarkWriteZSetMove(b *testing.B) {
	const n = 100000
	benchZSetWrites(b, n,
		func(rng *rand.Rand, _ int) float64 { return float64(rng.IntN(n)) },
		func(rng *rand.Rand, _ int) float64 { return float64(rng.IntN(n)) })
}

// BenchmarkWriteZSetNudge is WriteZSetMove with small score changes (a leaderboard's steps):
// a member of 100k moved by at most a tenth of the gap between scores, so it mostly keeps its
// rank and is rescored in place (skiplist.rescore), on the writer and on the replica.
//
//	go test ./crdt -run '^$' -bench WriteZSetNudge -benchtime 200000x
func BenchmarkWriteZSetNudge(b *testing.B) {
	benchZSetWrites(b, 100000,
		func(_ *rand.Rand, i int) float64 { return float64(i) }, // one apart
		func(rng *rand.Rand, k int) float64 { return float64(k) + rng.Float64()*0.1 })
}

// fillZSets makes a writer's sorted set of n members, member i at first(i), and a replica's by
// the writer's encoded deltas; it returns them, the members' names and the last timestamp used.
func fillZSets(b *testing.B, rng *rand.Rand, n int, first func(rng *rand.Rand, i int) float64) (src, dst *ZSet, names []string, ts Timestamp) {
	src, dst = NewZSet(Version{}), NewZSet(Version{})
	names = make([]string, n)
	for i := range names {
		names[i] = "m" + strconv.Itoa(i)
		ts++
		d := src.Add(Version{TS: ts, Replica: 1}, names[i], first(rng, i))
		if err := dst.ApplyDelta(d.AppendBinary(nil)); err != nil {
			b.Fatal(err)
		}
	}
	return src, dst, names, ts
}

// benchZSetWrites fills a sorted set of n members, member i at first(i), then writes a random
// member k at next(k) per iteration, on the writer and, by its encoded delta, on a replica.
func benchZSetWrites(b *testing.B, n int, first, next func(rng *rand.Rand, i int) float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	src, dst, names, ts := fillZSets(b, rng, n, first)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts++
		k := rng.IntN(n)
		d := src.Add(Version{TS: ts, Replica: 1}, names[k], next(rng, k))
		if err := dst.ApplyDelta(d.AppendBinary(nil)); err != nil {
			b.Fatal(err)
		}
		src.Compact(ts)
		dst.Compact(ts)
	}
}

func BenchmarkWriteSmallHashes(b *testing.B) { benchSmallHashes(b, false) }

// BenchmarkWriteSmallHashesBoxed is WriteSmallHashes with each hash in a HashBox, as the node
// holds them.
func BenchmarkWriteSmallHashesBoxed(b *testing.B) { benchSmallHashes(b, true) }

func benchSmallHashes(b *testing.B, boxed bool) {
	const n = 100000
	rng := rand.New(rand.NewPCG(1, 2))
	src, dst := make([]*Hash, n), make([]*Hash, n)
	ts := Timestamp(0)
	f, v := []byte("f"), []byte("v")
	for i := range src {
		src[i], dst[i] = NewHash(Version{}), NewHash(Version{})
		if boxed {
			src[i], dst[i] = new(HashBox).Init(Version{}), new(HashBox).Init(Version{})
		}
		ts++
		d := src[i].Set(Version{TS: ts, Replica: 1}, [2][]byte{f, v})
		if err := dst[i].ApplyDelta(d.AppendBinary(nil)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts++
		k := rng.IntN(n)
		d := src[k].Set(Version{TS: ts, Replica: 1}, [2][]byte{f, v})
		if err := dst[k].ApplyDelta(d.AppendBinary(nil)); err != nil {
			b.Fatal(err)
		}
		// Removed writes are collected as the node's stability pass would.
		src[k].Compact(ts)
		dst[k].Compact(ts)
	}
}

// BenchmarkApplyZSetMove is a replica's side of WriteZSetMove alone: the writer's deltas,
// encoded beforehand, applied to a 100k-member sorted set (each moves a member to a random
// score: a reindex).
//
//	go test ./crdt -run '^$' -bench ApplyZSetMove -benchtime 200000x
func BenchmarkApplyZSetMove(b *testing.B) {
	const n, writes = 100000, 200000
	rng := rand.New(rand.NewPCG(1, 2))
	src, dst, names, ts := fillZSets(b, rng, n, func(rng *rand.Rand, _ int) float64 { return float64(rng.IntN(n)) })
	if b.N > writes {
		b.Fatalf("at most %d writes (-benchtime %dx)", writes, writes)
	}
	wire := make([][]byte, b.N)
	for i := range wire {
		ts++
		wire[i] = src.Add(Version{TS: ts, Replica: 1}, names[rng.IntN(n)], float64(rng.IntN(n))).AppendBinary(nil)
		src.Compact(ts)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuClock()
	for i, w := range wire {
		if err := dst.ApplyDelta(w); err != nil {
			b.Fatal(err)
		}
		dst.Compact(ts - Timestamp(len(wire)-i))
	}
	reportCPU(b, cpu)
}
