package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

func TestAtomicOperations(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	var units [][]crdt.Delta
	var singles []crdt.Delta
	n.sink = func(d crdt.Delta) { singles = append(singles, d) }
	n.unitSink = func(ds []crdt.Delta) { units = append(units, ds) }
	ctx := context.Background()
	mustSet(t, n, "old", "1", SetOptions{})
	singles = nil
	err := n.Atomic(ctx, []string{"a", "b", "old", "gone"}, func(tx *Tx) error {
		if _, err := tx.Set(ctx, "a", []byte("1"), SetOptions{}); err != nil {
			return err
		}
		if _, err := tx.Set(ctx, "a", []byte("2"), SetOptions{}); err != nil { // same key twice
			return err
		}
		if r, _ := tx.Set(ctx, "b", []byte("x"), SetOptions{NX: true}); !r.Written {
			t.Error("SET NX of an absent key did not write")
		}
		if it, ok, _ := tx.Get(ctx, "a"); !ok || string(it.Value) != "2" {
			t.Errorf("Get(a) in the transaction = %q, %v", it.Value, ok)
		}
		if ok, _ := tx.Expire(ctx, "old", tx.Now().Add(time.Hour)); !ok {
			t.Error("Expire of a live key failed")
		}
		if c, _ := tx.Delete(ctx, "gone"); c != 0 {
			t.Errorf("Delete of an absent key counted %d", c)
		}
		if c, _ := tx.Exists(ctx, "a", "b", "gone"); c != 2 {
			t.Errorf("Exists = %d, want 2", c)
		}
		other := "undeclared"
		for i := 0; tx.l.Holds(other); i++ { // a key of a shard the transaction does not hold
			other = fmt.Sprint("undeclared", i)
		}
		if _, err := tx.Set(ctx, other, nil, SetOptions{}); !errors.Is(err, ErrNotLocked) {
			t.Errorf("write of an undeclared key: %v", err)
		}
		if _, _, err := tx.Scan(ctx, 0, "", 10); !errors.Is(err, ErrNotLocked) {
			t.Errorf("Scan without AtomicAll: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(singles) != 0 || len(units) != 1 {
		t.Fatalf("replicated %d single writes and %d units, want one unit", len(singles), len(units))
	}
	u := units[0]
	if len(u) != 4 { // a (last write only), b, old, the tombstone of gone
		t.Fatalf("unit of %d deltas: %+v", len(u), u)
	}
	for _, d := range u {
		if d.Entry.Seq != u[0].Entry.Seq || d.Entry.Version.Replica != n.replica {
			t.Fatalf("deltas of one transaction have different dots: %+v", u)
		}
		if d.Key == "a" && string(d.Entry.Value) != "2" {
			t.Fatalf("unit carries a=%q, want the last write", d.Entry.Value)
		}
	}
	if v, _ := mustGet(t, n, "a"); v != "2" {
		t.Fatalf("a = %q after the transaction", v)
	}
	// A transaction without writes replicates nothing; AtomicAll sees the whole store.
	units = nil
	err = n.AtomicAll(ctx, func(tx *Tx) error {
		if tx.Len() != 3 {
			t.Errorf("Len = %d, want 3", tx.Len())
		}
		keys, _, err := tx.Scan(ctx, 0, "*", 100)
		if err != nil || len(keys) != 3 {
			t.Errorf("Scan = %v, %v", keys, err)
		}
		if tx.Stats().Keys != 3 {
			t.Errorf("Stats.Keys = %d", tx.Stats().Keys)
		}
		return errors.New("fn's error")
	})
	if err == nil || err.Error() != "fn's error" || len(units) != 0 {
		t.Fatalf("AtomicAll = %v, %d units", err, len(units))
	}
	if _, err := n.Set(ctx, "after", []byte("1"), SetOptions{}); err != nil {
		t.Fatal(err) // the locks were released
	}
}

func TestAtomicUnitBounds(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, func(c *Config) { c.MaxValueSize = 2 << 20 })
	ctx := context.Background()
	big := make([]byte, 2<<20)
	err := n.Atomic(ctx, []string{"a", "b", "c"}, func(tx *Tx) error {
		for _, k := range []string{"a", "b", "c"} {
			if _, err := tx.Set(ctx, k, big, SetOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrTxTooLarge) {
		t.Fatalf("err = %v, want ErrTxTooLarge", err)
	}
	if _, ok := mustGet(t, n, "c"); ok {
		t.Fatal("the write over the bound was applied")
	}
}

func TestKeyStateChanged(t *testing.T) {
	t.Parallel()
	n, clk := newTestNode(t, nil)
	ctx := context.Background()
	mustSet(t, n, "k", "1", SetOptions{})
	w := n.KeyState("k")
	if !w.Live || w.Changed(n.KeyState("k")) {
		t.Fatalf("unchanged key reported changed: %+v", w)
	}
	mustSet(t, n, "k", "1", SetOptions{}) // same value, new version
	if !w.Changed(n.KeyState("k")) {
		t.Fatal("rewrite not seen")
	}
	w = n.KeyState("k")
	n.Delete(ctx, "k")
	if !w.Changed(n.KeyState("k")) {
		t.Fatal("delete not seen")
	}
	absent := n.KeyState("k")
	n.Delete(ctx, "k")
	if absent.Changed(n.KeyState("k")) {
		t.Fatal("deleting a deleted key changed it")
	}
	mustSet(t, n, "e", "1", SetOptions{TTL: time.Second})
	w = n.KeyState("e")
	clk.Advance(2 * time.Second)
	if !w.Changed(n.KeyState("e")) {
		t.Fatal("expiry not seen")
	}
}

// readInOrder reads keys in the order transactions write them and reports whether it saw a later
// key behind an earlier one: the sign of a transaction seen half applied.
func readInOrder(n *Node, keys []string) bool {
	prev := -1
	for _, k := range keys {
		it, ok, _ := n.GetLocal(context.Background(), k)
		v := -1
		if ok {
			v, _ = strconv.Atoi(string(it.Value))
		}
		if v < prev {
			return true
		}
		prev = v
	}
	return false
}

func txKeys(m int) []string {
	keys := make([]string, m)
	for i := range keys {
		keys[i] = fmt.Sprint("tx", i)
	}
	return keys
}

func writeTx(t *testing.T, n *Node, keys []string, i int) {
	t.Helper()
	err := n.Atomic(context.Background(), keys, func(tx *Tx) error {
		for _, k := range keys {
			if _, err := tx.Set(context.Background(), k, []byte(strconv.Itoa(i)), SetOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// watchTorn runs readers of keys on n until stop is called, which returns how many reads saw a
// transaction half applied.
func watchTorn(n *Node, keys []string) (stop func() int64) {
	var done atomic.Bool
	var torn atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				if readInOrder(n, keys) {
					torn.Add(1)
				}
			}
		}()
	}
	return func() int64 {
		done.Store(true)
		wg.Wait()
		return torn.Load()
	}
}

func TestAtomicReadersNeverSeeHalf(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	keys := txKeys(16)
	stop := watchTorn(n, keys)
	for i := range 3000 {
		writeTx(t, n, keys, i)
	}
	if torn := stop(); torn != 0 {
		t.Fatalf("%d reads saw half of a transaction", torn)
	}
}

// TestTransactionReplicatedAsUnit writes transactions on a while readers on b check that b never
// shows one half applied: by gossip (batches far smaller than a unit), then after a partition,
// by anti-entropy from the delta log (sync chunks far smaller than a unit).
func TestTransactionReplicatedAsUnit(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	rc := replConfig{MaxBatch: 3, SyncChunk: 4}
	a := net.addWith(t, "a", nil, rc)
	b := net.addWith(t, "b", nil, rc)
	keys := txKeys(10)
	stop := watchTorn(b, keys)
	for i := range 300 {
		writeTx(t, a, keys, i)
		mustSet(t, a, "plain", strconv.Itoa(i), SetOptions{}) // interleaved single writes
	}
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	for i := 300; i < 600; i++ {
		writeTx(t, a, keys, i)
		mustSet(t, a, "plain", strconv.Itoa(i), SetOptions{})
	}
	if v, _ := mustGet(t, b, "tx0"); v != "299" {
		t.Fatalf("partitioned b sees tx0=%q", v)
	}
	net.heal()
	converged(t, a, b)
	if torn := stop(); torn != 0 {
		t.Fatalf("%d reads on b saw half of a transaction", torn)
	}
	if v, _ := mustGet(t, b, "tx9"); v != "599" {
		t.Fatalf("b: tx9 = %q, want 599", v)
	}
	st := b.ReplicationStats()
	if st.SyncDeltasRecv == 0 || st.DeltasRejected != 0 {
		t.Fatalf("b stats: %+v (the partition's writes must come by anti-entropy, none rejected)", st)
	}
	// Each transaction is one dot: b holds a's seqs with no gap.
	b.repl.mu.Lock()
	seq, _ := b.repl.vec.Prefix(a.replica)
	b.repl.mu.Unlock()
	if seq != 1200 { // 600 transactions + 600 single writes
		t.Fatalf("b holds a's writes up to seq %d, want 1200", seq)
	}
}

// TestTransactionAfterSnapshot: a peer that joins after the log lost a's transactions gets the
// final states by snapshot (entries of one transaction share a dot and must all arrive).
func TestTransactionAfterSnapshot(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a := net.addWith(t, "a", nil, replConfig{SyncChunk: 3})
	a.repl.mu.Lock()
	a.repl.log = newDeltaLog(2 << 10)
	a.repl.mu.Unlock()
	keys := txKeys(10)
	for i := range 50 {
		writeTx(t, a, keys, i)
	}
	b := net.addWith(t, "b", nil, replConfig{SyncChunk: 3})
	converged(t, a, b)
	if a.ReplicationStats().SnapshotsSent == 0 {
		t.Fatal("expected a snapshot")
	}
	for _, k := range keys {
		if v, _ := mustGet(t, b, k); v != "49" {
			t.Fatalf("b: %s = %q, want 49", k, v)
		}
	}
	// b relays a's transactions to a third node without splitting them.
	c := net.addWith(t, "c", nil, replConfig{SyncChunk: 3})
	writeTx(t, a, keys, 50)
	converged(t, a, b, c)
}

func TestRemoteUnitWithBadDeltaIsRefusedWhole(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	b := net.add(t, "b", nil)
	ts := crdt.MakeTimestamp(b.nowMs(), 0)
	unit := []crdt.Delta{
		{Key: "u1", Entry: crdt.Entry{Value: []byte("1"), Type: crdt.TypeLWW, Seq: 1, Version: crdt.Version{TS: ts, Replica: 7}}},
		{Key: "u2", Entry: crdt.Entry{Value: []byte("1"), Type: 99, Seq: 1, Version: crdt.Version{TS: ts, Replica: 7}}},
	}
	if got := b.repl.applyBatch(unit, false); got != 0 {
		t.Fatalf("applied %d deltas of a unit with a bad delta", got)
	}
	if _, ok := mustGet(t, b, "u1"); ok {
		t.Fatal("half of a refused unit was applied")
	}
	unit[1].Entry.Type = crdt.TypeLWW
	if got := b.repl.applyBatch(unit, false); got != 2 {
		t.Fatalf("applied %d of a good unit", got)
	}
	if got := b.repl.applyBatch(unit, false); got != 0 || b.ReplicationStats().DeltasDuplicate != 2 {
		t.Fatalf("a repeated unit: applied %d, stats %+v", got, b.ReplicationStats())
	}
}

// TestKeyStateSeesReplicatedWrites: a WATCH on one node sees a peer's write once it is applied
// here, and an older peer write that loses LWW does not count as a change.
func TestKeyStateSeesReplicatedWrites(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	mustSet(t, a, "k", "1", SetOptions{})
	converged(t, a, b)
	w := a.KeyState("k")
	old := crdt.Delta{Key: "k", Entry: crdt.Entry{Value: []byte("old"), Type: crdt.TypeLWW, Seq: 1,
		Version: crdt.Version{TS: crdt.MakeTimestamp(a.nowMs()-1000, 0), Replica: 42}}}
	a.repl.apply(&old)
	if w.Changed(a.KeyState("k")) {
		t.Fatal("an older replicated write that lost LWW changed the watched state")
	}
	mustSet(t, b, "k", "2", SetOptions{})
	waitFor(t, func() bool { v, _ := mustGet(t, a, "k"); return v == "2" })
	if !w.Changed(a.KeyState("k")) {
		t.Fatal("a replicated write applied here did not change the watched state")
	}
}

// TestP2PTransactionAsUnit: over real libp2p gossip and sync, with a partition in the middle,
// b's readers never see half of a's transactions.
func TestP2PTransactionAsUnit(t *testing.T) {
	t.Parallel()
	a, b, c := p2pCluster(t)
	keys := txKeys(8)
	stop := watchTorn(b, keys)
	for i := range 100 {
		writeTx(t, a, keys, i)
	}
	waitFor(t, func() bool { v, _ := mustGet(t, b, "tx7"); return v == "99" })
	block(a, b)
	block(a, c)
	waitFor(t, func() bool { return reachablePeers(a) == 0 })
	for i := 100; i < 200; i++ {
		writeTx(t, a, keys, i)
	}
	unblock(a, b)
	unblock(a, c)
	converged(t, a, b, c)
	if torn := stop(); torn != 0 {
		t.Fatalf("%d reads on b saw half of a transaction", torn)
	}
	if v, _ := mustGet(t, c, "tx0"); v != "199" {
		t.Fatalf("c: tx0 = %q", v)
	}
	if st := b.ReplicationStats(); st.DeltasRejected != 0 {
		t.Fatalf("b rejected deltas: %+v", st)
	}
}

func TestAtomicAllWritesAreOneUnit(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	var units [][]crdt.Delta
	n.sink = func(crdt.Delta) { t.Error("a write of the transaction replicated alone") }
	n.unitSink = func(ds []crdt.Delta) { units = append(units, ds) }
	ctx := context.Background()
	err := n.AtomicAll(ctx, func(tx *Tx) error {
		for _, k := range []string{"x", "y", "z"} {
			if _, err := tx.Set(ctx, k, []byte(k), SetOptions{}); err != nil {
				return err
			}
		}
		_, err := tx.Delete(ctx, "x")
		return err
	})
	if err != nil || len(units) != 1 || len(units[0]) != 3 {
		t.Fatalf("err %v, units %+v", err, units)
	}
}
