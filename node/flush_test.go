package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustFlush(t *testing.T, n *Node) int {
	t.Helper()
	removed, err := n.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return removed
}

func TestFlushRemovesEverythingBefore(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	for i := range 100 {
		mustSet(t, n, fmt.Sprint("k", i), "v", SetOptions{})
	}
	mustSet(t, n, "ttl", "v", SetOptions{TTL: time.Hour})
	if _, err := n.Delete(context.Background(), "k0"); err != nil {
		t.Fatal(err)
	}
	if removed := mustFlush(t, n); removed != 101 { // 99 live, the ttl key and k0's tombstone
		t.Fatalf("Flush removed %d entries, want 101", removed)
	}
	if n.Len() != 0 || n.Stats().DeleteTombstones != 0 {
		t.Fatalf("after Flush: Len %d, tombstones %d", n.Len(), n.Stats().DeleteTombstones)
	}
	if _, ok := mustGet(t, n, "k1"); ok {
		t.Fatal("k1 survived FLUSHALL")
	}
	mustSet(t, n, "k1", "after", SetOptions{})
	if v, ok := mustGet(t, n, "k1"); !ok || v != "after" {
		t.Fatalf("a write after FLUSHALL reads %q, %v", v, ok)
	}
}

func TestFlushReplicates(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b, c := net.add(t, "a", nil), net.add(t, "b", nil), net.add(t, "c", nil)
	for i := range 50 {
		mustSet(t, []*Node{a, b, c}[i%3], fmt.Sprint("k", i), "v", SetOptions{})
	}
	converged(t, a, b, c)
	mustFlush(t, b)
	converged(t, a, b, c)
	mustSet(t, c, "after", "1", SetOptions{})
	converged(t, a, b, c)
	for _, n := range []*Node{a, b, c} {
		if n.Len() != 1 {
			t.Fatalf("a node holds %d keys after FLUSHALL and one later write, want 1", n.Len())
		}
	}
}

// A flush on one side of a partition removes, after the heal, what both sides wrote before it
// and nothing either side wrote after it, whatever order the writes arrive in.
func TestFlushAcrossPartition(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	mustSet(t, a, "shared", "old", SetOptions{})
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	mustSet(t, a, "a-before", "1", SetOptions{})
	mustSet(t, b, "b-before", "1", SetOptions{})
	net.clock(a).Advance(10 * time.Millisecond)
	mustFlush(t, a)
	// Both clocks move past the flush; b never saw it.
	net.clock(a).Advance(10 * time.Millisecond)
	net.clock(b).Advance(20 * time.Millisecond)
	mustSet(t, a, "a-after", "1", SetOptions{})
	mustSet(t, b, "b-after", "1", SetOptions{})
	if _, ok := mustGet(t, b, "shared"); !ok {
		t.Fatal("b lost shared before it heard of the flush")
	}
	net.heal()
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		for k, want := range map[string]bool{"shared": false, "a-before": false, "b-before": false, "a-after": true, "b-after": true} {
			if _, ok := mustGet(t, n, k); ok != want {
				t.Fatalf("%s present = %v, want %v", k, ok, want)
			}
		}
	}
}

// A peer that catches up by snapshot (the log no longer covers the flush) still applies it.
func TestFlushReachesPeerBySnapshot(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	for i := range 20 {
		mustSet(t, b, fmt.Sprint("old", i), "v", SetOptions{})
	}
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	a.repl.mu.Lock()
	a.repl.log = newDeltaLog(1 << 10) // tiny: the flush falls out of the log before the heal
	a.repl.mu.Unlock()
	net.clock(a).Advance(10 * time.Millisecond)
	mustFlush(t, a)
	for i := range 300 {
		mustSet(t, a, fmt.Sprint("new", i), strings.Repeat("v", 100), SetOptions{})
	}
	net.heal()
	converged(t, a, b)
	if a.ReplicationStats().SnapshotsSent == 0 {
		t.Fatal("expected a snapshot")
	}
	if b.Len() != 300 {
		t.Fatalf("b holds %d keys, want the 300 written after the flush", b.Len())
	}
}

// A write stamped before a flush that reaches the flushing node after it is refused there. The
// order under test is the usual one, not a certain one: the heal's symmetric session sometimes
// carries the flush to b before b sends its late write, which the flush then clears on b (a
// never sees it; the write still does not come back). The scenario is run again, on a fresh
// network, until a has refused the write (at most 20 times; 4 runs in 800 under load missed it).
func TestFlushRefusesLateOlderWrite(t *testing.T) {
	t.Parallel()
	for range 20 {
		net := newMemNet()
		a, b := net.add(t, "a", nil), net.add(t, "b", nil)
		net.partition([]string{"a"}, []string{"b"})
		mustSet(t, b, "late", "old", SetOptions{}) // stamped before the flush, arrives after it
		net.clock(a).Advance(10 * time.Millisecond)
		mustFlush(t, a)
		net.heal()
		converged(t, a, b)
		for _, n := range []*Node{a, b} {
			if _, ok := mustGet(t, n, "late"); ok {
				t.Fatal("a write older than the flush came back")
			}
		}
		if a.ReplicationStats().DeltasStale > 0 {
			return // a received the late write and refused it
		}
	}
	t.Fatal("in 20 runs the late write never reached a after its flush: nothing was refused")
}

// A counter incremented in a region that has not heard of a flush loses those increments, as
// after a DEL, on every node; increments made after observing the flush survive.
func TestFlushAndCounters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	for _, n := range []*Node{a, b} {
		if _, err := n.IncrBy(ctx, "c", 5); err != nil {
			t.Fatal(err)
		}
	}
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	net.clock(a).Advance(10 * time.Millisecond)
	mustFlush(t, a)
	if _, err := a.IncrBy(ctx, "after", 1); err != nil { // after the flush, on a
		t.Fatal(err)
	}
	// b has not heard of the flush: its increment is stamped later but did not observe it.
	net.clock(b).Advance(20 * time.Millisecond)
	if got, err := b.IncrBy(ctx, "c", 100); err != nil || got != 110 {
		t.Fatalf("INCRBY on b = %d, %v", got, err)
	}
	net.heal()
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if v, ok := mustGet(t, n, "c"); ok {
			t.Fatalf("counter c = %q survived a flush its increments did not observe", v)
		}
		if v, ok := mustGet(t, n, "after"); !ok || v != "1" {
			t.Fatalf("counter written after the flush = %q, %v", v, ok)
		}
	}
	if got, err := b.IncrBy(ctx, "c", 1); err != nil || got != 1 {
		t.Fatalf("INCR after the flush = %d, %v; want 1", got, err)
	}
}
