package crdt

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// BenchmarkWriteZSetNudge is WriteZSetMove with small score changes (a leaderboard's steps):
// a member of 100k moved by at most a tenth of the gap between scores, so it mostly keeps its
// rank and is rescored in place (skiplist.rescore), on the writer and on the replica.
//
//	go test ./crdt -run '^$' -bench WriteZSetNudge -benchtime 200000x
func BenchmarkWriteZSetNudge(b *testing.B) {
	const n = 100000
	rng := rand.New(rand.NewPCG(1, 2))
	src, dst := NewZSet(Version{}), NewZSet(Version{})
	ts := Timestamp(0)
	names := make([]string, n)
	scores := make([]float64, n)
	for i := range names {
		names[i] = "m" + strconv.Itoa(i)
		scores[i] = float64(i) // one apart
		ts++
		d := src.Add(Version{TS: ts, Replica: 1}, names[i], scores[i])
		if err := dst.ApplyDelta(d.AppendBinary(nil)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts++
		k := rng.IntN(n)
		scores[k] = float64(k) + rng.Float64()*0.1
		d := src.Add(Version{TS: ts, Replica: 1}, names[k], scores[k])
		if err := dst.ApplyDelta(d.AppendBinary(nil)); err != nil {
			b.Fatal(err)
		}
		src.Compact(ts)
		dst.Compact(ts)
	}
}
