package crdt

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// BenchmarkSkiplistMove moves random members of a 100k-member index to random distinct
// scores: skiplist.move (one descent, two cursors) against the delete and the insert it
// replaces (two walks one after the other).
//
//	go test ./crdt -run '^$' -bench SkiplistMove -benchtime 200000x
func BenchmarkSkiplistMove(b *testing.B) {
	for _, alg := range []string{"move", "delete+insert"} {
		b.Run(alg, func(b *testing.B) {
			const n = 100000
			rng := rand.New(rand.NewPCG(5, 6))
			z := NewZSet(Version{})
			names := make([]string, n)
			for i := range names {
				names[i] = "m" + strconv.Itoa(i)
				z.Add(Version{TS: Timestamp(i + 1), Replica: 1}, names[i], rng.Float64())
			}
			sl := z.ix()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuClock()
			for i := 0; i < b.N; i++ {
				k, _ := z.c.elems.find(names[rng.IntN(n)])
				x := k + 1
				old, s := sl.node(x).score, rng.Float64()
				if alg == "move" {
					if !sl.move(x, old, s) {
						b.Fatal("not moved")
					}
				} else {
					sl.insert(s, x, sl.delete(old, sl.member(x)) == x)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkSkiplistFind is one descent of a 100k-member index to a random member's place
// (insert's, delete's and rank's walk), with integer scores from [0, 100k) as redis-benchmark's
// ZADD writes them (ties of score on most members) and with distinct float scores.
//
//	go test ./crdt -run '^$' -bench SkiplistFind -benchtime 1000000x
func BenchmarkSkiplistFind(b *testing.B) {
	for _, scores := range []string{"int", "float"} {
		b.Run(scores, func(b *testing.B) {
			const n = 100000
			rng := rand.New(rand.NewPCG(5, 6))
			z := NewZSet(Version{})
			type target struct {
				s float64
				m string
			}
			ts := make([]target, n)
			for i := range ts {
				s := rng.Float64()
				if scores == "int" {
					s = float64(rng.IntN(n))
				}
				ts[i] = target{s, "m" + strconv.Itoa(rng.IntN(n))}
				z.Add(Version{TS: Timestamp(i + 1), Replica: 1}, ts[i].m, s)
			}
			for i := range ts { // the scores that won
				ts[i].s, _ = z.Score(ts[i].m)
			}
			sl := z.ix()
			var update, rank [slMaxLevel]uint32
			b.ResetTimer()
			cpu := cpuClock()
			for i := 0; i < b.N; i++ {
				t := &ts[rng.IntN(n)]
				sl.find(t.s, t.m, &update, &rank)
			}
			reportCPU(b, cpu)
		})
	}
}
