package node

import (
	"context"
	"fmt"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// TestReceiveKeepsNoBorrowedKey: a received batch is decoded with its keys borrowed from the
// frame (crdt.DecodeBatchBorrowKeys), and the frame's buffer is reused for the next one. Every
// key the store keeps — new keys of a run of single writes, a lone write, a transaction's unit,
// a counter — must be a copy: after the frame's bytes are overwritten, every key still reads
// back its value, and a later batch overwriting present keys leaves them intact too.
func TestReceiveKeepsNoBorrowedKey(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	n := net.add(t, "recv", nil)
	const from = crdt.ReplicaID(0xabc)
	ts := crdt.Timestamp(n.nowMs() << 16)
	seq := uint64(0)
	lww := func(key, val string) crdt.Delta {
		seq++
		return crdt.Delta{Key: key, Entry: crdt.Entry{Type: crdt.TypeLWW, Value: []byte(val), Seq: seq,
			Version: crdt.Version{TS: ts + crdt.Timestamp(seq), Replica: from}}}
	}
	var frame []byte
	send := func(kind byte, ds ...crdt.Delta) {
		t.Helper()
		frame = crdt.AppendBatch(append(frame[:0], kind), &crdt.Batch{From: from, Deltas: ds})
		before := n.ReplicationStats().DeltasApplied
		n.repl.onMessage("peer", frame)
		if got := n.ReplicationStats().DeltasApplied - before; got != uint64(len(ds)) {
			t.Fatalf("applied %d of %d", got, len(ds))
		}
		for i := range frame {
			frame[i] = 'X' // what reusing the buffer for the next frame does to borrowed keys
		}
	}
	want := map[string]string{}
	// A run of single writes (one store batch), then a lone write.
	var run []crdt.Delta
	for i := range 5 {
		k, v := fmt.Sprintf("run:%02d", i), fmt.Sprintf("v%d", i)
		run = append(run, lww(k, v))
		want[k] = v
	}
	send(msgDeltas, run...)
	send(msgDeltas, lww("lone", "l1"))
	want["lone"] = "l1"
	// A transaction's unit: deltas in a row sharing a dot.
	u1, u2 := lww("unit:a", "ua"), lww("unit:b", "ub")
	u2.Entry.Seq, u2.Entry.Version = u1.Entry.Seq, u1.Entry.Version
	send(msgUnits, u1, u2)
	want["unit:a"], want["unit:b"] = "ua", "ub"
	// Present keys overwritten by a run: the store keeps the copies it holds.
	send(msgDeltas, lww("run:00", "w0"), lww("run:01", "w1"), lww("new", "nv"))
	want["run:00"], want["run:01"], want["new"] = "w0", "w1", "nv"

	ctx := context.Background()
	for k, v := range want {
		it, ok, err := n.GetLocal(ctx, k)
		if err != nil || !ok || string(it.Value) != v {
			t.Errorf("%s: got %q, %v, %v; want %q", k, it.Value, ok, err, v)
		}
	}
	keys, _, err := n.Scan(ctx, 0, "*", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := want[k]; !ok {
			t.Errorf("stored key %q was never written (a borrowed key overwritten in place)", k)
		}
	}
	if len(keys) != len(want) {
		t.Errorf("scan found %d keys, want %d", len(keys), len(want))
	}
}
