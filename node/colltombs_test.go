package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

func srem(t *testing.T, n *Node, key string, members ...string) {
	t.Helper()
	if _, err := n.UpdateSet(context.Background(), key, false, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		stamp()
		_, d := s.Rem(members...)
		return d
	}); err != nil {
		t.Fatal(err)
	}
}

func setTombs(t *testing.T, n *Node, key string) (tombs int, members []string) {
	t.Helper()
	if _, err := n.ReadSet(context.Background(), key, func(s *crdt.Set) {
		tombs = s.Tombstones()
		s.Range(func(m string) bool { members = append(members, m); return true })
	}); err != nil {
		t.Fatal(err)
	}
	return tombs, members
}

func memUsage(t *testing.T, n *Node, key string) int64 {
	t.Helper()
	b, ok, err := n.MemoryUsage(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("MEMORY USAGE %s: %v %v", key, ok, err)
	}
	return b
}

// While nothing is stable (no janitor pass has run: the stable time is 0, as when a member is
// silent within the grace horizon) a member added and removed in a loop keeps its set's removed
// writes under the cap; once the janitor passes, a set that saw no write since is collected
// whole and charged less. (A replicating node: one without peers keeps no removed write, below.)
func TestElementTombstonesBoundedAndCollectedWhenQuiet(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	n := net.add(t, "a", nil)
	clk := net.clocks[n]
	for i := 0; i < 4*elemTombCap; i++ {
		sadd(t, n, "hot", "m", "stays")
		srem(t, n, "hot", "m")
	}
	tombs, members := setTombs(t, n, "hot")
	if tombs > elemTombCap || tombs < elemTombCap/2 {
		t.Fatalf("hot set holds %d removed writes, want at most the cap %d (and most of it)", tombs, elemTombCap)
	}
	if len(members) != 1 || members[0] != "stays" {
		t.Fatalf("hot set members %q, want [stays]", members)
	}
	if b := memUsage(t, n, "hot"); b > 80*elemTombCap {
		t.Fatalf("hot set charged %d bytes", b)
	}

	// A quiet set: removes, then no more writes.
	sadd(t, n, "quiet", "a", "b", "c")
	for i := 0; i < 50; i++ {
		srem(t, n, "quiet", "a")
		sadd(t, n, "quiet", "a")
	}
	if tombs, _ := setTombs(t, n, "quiet"); tombs != 50 {
		t.Fatalf("quiet set holds %d removed writes before the janitor, want 50", tombs)
	}
	before := memUsage(t, n, "quiet")
	clk.Advance(1)
	n.sweep(n.nowMs())
	for _, key := range []string{"quiet", "hot"} {
		if tombs, _ := setTombs(t, n, key); tombs != 0 {
			t.Fatalf("%s holds %d removed writes after a janitor pass with everything stable", key, tombs)
		}
	}
	if after := memUsage(t, n, "quiet"); after >= before-50*16 {
		t.Fatalf("quiet set charged %d bytes after collection, %d before", after, before)
	}
	if _, members := setTombs(t, n, "quiet"); len(members) != 3 {
		t.Fatalf("quiet set members %q after collection", members)
	}
	if q := n.tombColls.len(); q != 0 {
		t.Fatalf("%d keys still queued with nothing to collect", q)
	}
	// A remove of a write newer than the stable time queues the key again (one of an older
	// write is collected by the write itself).
	srem(t, n, "quiet", "b")
	if q := n.tombColls.len(); q != 0 {
		t.Fatalf("%d keys queued after removing a stable write", q)
	}
	sadd(t, n, "quiet", "b")
	srem(t, n, "quiet", "b")
	if q := n.tombColls.len(); q != 1 {
		t.Fatalf("%d keys queued after a remove, want 1", q)
	}
}

// Across a partition the peer's silence (within the grace horizon) holds stability back, so
// the writer's removed writes are kept, up to the cap; past it the writer raises the set's
// floor and ships the set whole (shipFloors), so after the heal both replicas converge — on the
// remove-wins outcome for the peer's concurrent member stamped below that floor, the documented
// price of the cap — and once the janitor passes on both with everything stable they hold no
// removed writes and still agree.
func TestElementTombstonesAcrossPartition(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	sadd(t, a, "s", "m", "x")
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	sadd(t, b, "s", "fromb") // concurrent, stamped below what a will churn
	for i := 0; i < 2*elemTombCap; i++ {
		srem(t, a, "s", "m")
		sadd(t, a, "s", "m")
		if i%256 == 0 {
			a.sweep(a.nowMs())
		}
	}
	if tombs, _ := setTombs(t, a, "s"); tombs > elemTombCap || tombs < elemTombCap/2 {
		t.Fatalf("a holds %d removed writes during the partition, want up to the cap %d", tombs, elemTombCap)
	}
	a.sweep(a.nowMs()) // ships the set whole if the cap raised its floor since the last pass
	if q := a.floorColls.len(); q != 0 {
		t.Fatalf("%d keys still queued to ship after a janitor pass", q)
	}
	members := func(n *Node) []string {
		_, ms := setTombs(t, n, "s")
		slices.Sort(ms)
		return ms
	}
	if got := members(b); !slices.Equal(got, []string{"fromb", "m", "x"}) {
		t.Fatalf("b's members during the partition %q", got)
	}
	net.heal()
	converged(t, a, b)
	want := []string{"m", "x"} // fromb: stamped below a's raised floor, not observed by a
	for i, n := range []*Node{a, b} {
		if got := members(n); !slices.Equal(got, want) {
			t.Fatalf("%s's members after the heal %q, want %q", "ab"[i:i+1], got, want)
		}
	}
	// Once both hear each other, everything written is stable: the janitor empties the queues
	// (b, which capped the set too while catching up, ships it on its pass).
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, n := range []*Node{a, b} {
			net.clock(n).Advance(time.Millisecond)
			n.sweep(n.nowMs())
		}
		ta, _ := setTombs(t, a, "s")
		tb, _ := setTombs(t, b, "s")
		if ta == 0 && tb == 0 && a.floorColls.len() == 0 && b.floorColls.len() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed writes left after the heal: a %d, b %d", ta, tb)
		}
		waitTick()
	}
	converged(t, a, b)
	for i, n := range []*Node{a, b} {
		if got := members(n); !slices.Equal(got, want) {
			t.Fatalf("%s's members after the janitor's passes %q, want %q", "ab"[i:i+1], got, want)
		}
	}
}

// A node without peers is the only writer of its keys, so every write there is stable at once:
// a removed or rewritten element leaves no removed write, before any janitor pass, and nothing
// is queued for the janitor; the elements are those of the writes.
func TestElementTombstonesNoneWithoutPeers(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	for i := 0; i < 100; i++ {
		sadd(t, n, "s", "m", "stays")
		srem(t, n, "s", "m")
	}
	tombs, members := setTombs(t, n, "s")
	if tombs != 0 || len(members) != 1 || members[0] != "stays" {
		t.Fatalf("set holds %d removed writes and members %q, want 0 and [stays]", tombs, members)
	}
	for i := 0; i < 10; i++ {
		if _, err := n.UpdateHash(context.Background(), "h", true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
			return h.Set(stamp(), [2][]byte{[]byte("f"), []byte{byte('0' + i)}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	var htombs int
	if _, err := n.ReadHash(context.Background(), "h", func(h *crdt.Hash) {
		got, _ = h.Get("f")
		htombs = h.Tombstones()
	}); err != nil {
		t.Fatal(err)
	}
	if string(got) != "9" || htombs != 0 {
		t.Fatalf("hash f = %q with %d removed writes, want \"9\" and 0", got, htombs)
	}
	if q := n.tombColls.len(); q != 0 {
		t.Fatalf("%d keys queued for the janitor", q)
	}
}
