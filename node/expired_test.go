package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// A newer write that expired on one side of a partition reaches the other side when the heal is
// repaired by a snapshot (the delta log no longer covers it): the older value there must go.
// Before, the snapshot carried live entries only and adopted the expired write's dot, so the
// older value stayed for good (found by the testnet's CI scenario).
func TestExpiredNewerWriteReachesPeerBySnapshot(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	net.partition([]string{"a"}, []string{"b"})
	mustSet(t, a, "k", "old-plain", SetOptions{})
	net.clock(b).Advance(10 * time.Millisecond)
	mustSet(t, b, "k", "newer-ttl", SetOptions{TTL: 50 * time.Millisecond})
	b.repl.mu.Lock()
	b.repl.log = newDeltaLog(1 << 10) // tiny: the expired write falls out before the heal
	b.repl.mu.Unlock()
	for i := range 300 {
		mustSet(t, b, fmt.Sprint("f", i), strings.Repeat("v", 100), SetOptions{})
	}
	net.clock(b).Advance(time.Second)
	net.clock(a).Advance(time.Second)
	b.sweep(b.nowMs()) // the janitor reclaims the expired write: no entry is left on b
	net.heal()
	converged(t, a, b)
	if b.ReplicationStats().SnapshotsSent == 0 {
		t.Fatal("expected the heal to be repaired by a snapshot")
	}
	if v, ok := mustGet(t, a, "k"); ok {
		t.Fatalf("a keeps %q, older than b's expired write", v)
	}
}

// The janitor drops a remembered expiry once every member has held the write for a save
// interval, and not before: a member partitioned when the write was made keeps it remembered
// until it catches up.
func TestExpiriesHeldByEveryMemberAreDropped(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b, c := net.add(t, "a", nil), net.add(t, "b", nil), net.add(t, "c", nil)
	waitFor(t, func() bool { // b knows c's vector: only the missing dot can keep the record
		b.repl.mu.Lock()
		defer b.repl.mu.Unlock()
		p := b.repl.peers["c"]
		return p != nil && p.vector != nil
	})
	net.partition([]string{"a", "b"}, []string{"c"})
	mustSet(t, b, "k", "v", SetOptions{TTL: 50 * time.Millisecond})
	waitFor(t, func() bool { _, ok := mustGet(t, a, "k"); return ok })
	for _, n := range []*Node{a, b, c} {
		net.clock(n).Advance(time.Second)
	}
	b.sweep(b.nowMs())
	if got := b.expired.len(); got != 1 {
		t.Fatalf("b remembers %d expiries, want 1", got)
	}
	b.clockMu.Lock()
	dot := crdt.Dot{Replica: b.replica, Seq: b.seq}
	b.clockMu.Unlock()
	heardHolds := func(id string) bool {
		b.repl.mu.Lock()
		defer b.repl.mu.Unlock()
		p := b.repl.peers[id]
		return p != nil && p.vector != nil && p.vector.Contains(dot)
	}
	waitFor(t, func() bool { return heardHolds("a") })
	hold := b.cfg.SaveInterval + expiryPruneInterval
	if n := b.repl.pruneExpired(b.nowMs() + hold.Milliseconds()); n != 0 || b.expired.len() != 1 {
		t.Fatalf("dropped %d expiries while c lacks the write", n)
	}
	net.heal()
	waitFor(t, func() bool { return heardHolds("c") })
	now := b.nowMs()
	if n := b.repl.pruneExpired(now); n != 0 {
		t.Fatalf("dropped %d expiries as soon as every member held the write: a member's snapshot may still lack it", n)
	}
	if n := b.repl.pruneExpired(now + hold.Milliseconds() - 1); n != 0 {
		t.Fatalf("dropped %d expiries before a save interval passed", n)
	}
	if n := b.repl.pruneExpired(now + hold.Milliseconds()); n != 1 || b.expired.len() != 0 {
		t.Fatalf("dropped %d expiries once every member held the write for a save interval, %d left", n, b.expired.len())
	}
}

// TestRecentExpiriesPrunedByAge checks that the janitor's prune drops expiries older than the
// horizon, keeps the newer ones in order, and gives back the backing array once the FIFO is
// mostly or wholly empty.
func TestRecentExpiriesPrunedByAge(t *testing.T) {
	t.Parallel()
	var r recentExpiries
	for i := range 1000 {
		r.add(expiredRec{key: fmt.Sprint("k", i), seq: uint64(i + 1), at: int64(i)})
	}
	r.prune(900)
	r.mu.Lock()
	n, c := len(r.q), cap(r.q)
	first := r.q[0].at
	r.mu.Unlock()
	if n != 100 || first != 900 || c >= 400 {
		t.Fatalf("after prune(900): %d records (cap %d), first seen at %d; want 100 from 900 in a smaller array", n, c, first)
	}
	if got := r.since(950); len(got) != 50 || got[0].key != "k950" {
		t.Fatalf("since(950) after the prune = %d records", len(got))
	}
	r.prune(1 << 40)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.q != nil {
		t.Fatalf("after pruning everything the FIFO keeps %d records, cap %d", len(r.q), cap(r.q))
	}
}
