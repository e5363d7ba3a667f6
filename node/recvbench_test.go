package node

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// BenchmarkReceiveGossip is a receiver's share of a replicated write: decoding a gossip batch
// of 64 writes (16-byte keys over 1M, 100-byte values) and applying it. Per op is one write.
//
//	go test ./node -run '^$' -bench BenchmarkReceiveGossip -benchmem -count 3
func BenchmarkReceiveGossip(b *testing.B) { benchReceiveGossip(b, 1_000_000) }

// BenchmarkReceiveGossipHeld is BenchmarkReceiveGossip over 100k keys, as in the SET -P16 row of
// geobench (redis-benchmark -r 100000): once warm, every write replaces a value the store holds.
func BenchmarkReceiveGossipHeld(b *testing.B) { benchReceiveGossip(b, 100_000) }

func benchReceiveGossip(b *testing.B, keys int) {
	net := newMemNet()
	n := net.add(&testing.T{}, "recv", nil)
	b.Cleanup(func() { n.Close() })
	const from = crdt.ReplicaID(0xabc)
	rng := rand.New(rand.NewPCG(1, 2))
	val := []byte(strings.Repeat("v", 100))
	// Pre-encode enough batches, each of 64 consecutive seqs.
	const per = 64
	frames := make([][]byte, (b.N+per-1)/per)
	seq := uint64(0)
	for i := range frames {
		bt := crdt.Batch{From: from}
		for range per {
			seq++
			bt.Deltas = append(bt.Deltas, crdt.Delta{Key: fmt.Sprintf("key:%012d", rng.IntN(keys)),
				Entry: crdt.Entry{Type: crdt.TypeLWW, Value: val, Seq: seq,
					Version: crdt.Version{TS: crdt.Timestamp(1_700_000_000_000<<16 + seq), Replica: from}}})
		}
		frames[i] = crdt.AppendBatch([]byte{msgDeltas}, &bt)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for _, f := range frames {
		n.repl.onMessage("peer", f)
	}
	b.StopTimer()
	// CPU time (all threads, the collector's included) is steadier than wall time on a shared
	// machine.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if st := n.ReplicationStats(); st.DeltasApplied != seq {
		b.Fatalf("applied %d of %d", st.DeltasApplied, seq)
	}
}
