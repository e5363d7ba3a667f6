package node

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// BenchmarkReceiveGossip is a receiver's share of a replicated write: decoding a gossip batch
// of 64 writes (16-byte keys, 100-byte values) and applying it. Per op is one write; cpu-ns/op
// is the process's CPU time (GC included), steadier than ns/op on a shared machine. keys=100k
// is the keyspace of geobench's SET rows (mostly overwrites); keys=1M mostly inserts.
//
//	go test ./node -run '^$' -bench BenchmarkReceiveGossip -benchmem -benchtime 1000000x -count 3
func BenchmarkReceiveGossip(b *testing.B) {
	for _, keys := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%dk", keys/1000), func(b *testing.B) { benchReceiveGossip(b, keys) })
	}
}

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
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	if st := n.ReplicationStats(); st.DeltasApplied != seq {
		b.Fatalf("applied %d of %d", st.DeltasApplied, seq)
	}
}
