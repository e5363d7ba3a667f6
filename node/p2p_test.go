package node

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/geocache/geocache/crdt"
)

// Tests over real libp2p on loopback. Partitions are made with the connection gater.

func newP2PNode(t *testing.T, mod func(*Config)) *Node {
	t.Helper()
	// A read-through that gets no answer within its timeout is a miss; on a loaded 2-core
	// machine a loopback peer can take longer than the 250 ms default, so the tests, which
	// assert what is read and not how fast, give it seconds.
	cfg := Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, JanitorInterval: 50 * time.Millisecond,
		ReadThroughTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func joining(seed *Node) func(*Config) {
	return func(c *Config) { c.Join = seed.P2PAddrs() }
}

// p2pCluster starts three nodes joined through the first and waits until all see each other.
func p2pCluster(t *testing.T) (a, b, c *Node) {
	t.Helper()
	a = newP2PNode(t, nil)
	b = newP2PNode(t, joining(a))
	c = newP2PNode(t, joining(a))
	for _, n := range []*Node{a, b, c} {
		waitFor(t, func() bool { return reachablePeers(n) == 2 })
	}
	return a, b, c
}

func reachablePeers(n *Node) int {
	count := 0
	for _, m := range n.Members() {
		if !m.Self && m.Connected && m.Reachable {
			count++
		}
	}
	return count
}

func block(x, y *Node) {
	idX, _ := peer.Decode(x.PeerID())
	idY, _ := peer.Decode(y.PeerID())
	x.cluster.Gater().Block(idY)
	y.cluster.Gater().Block(idX)
}

func unblock(x, y *Node) {
	idX, _ := peer.Decode(x.PeerID())
	idY, _ := peer.Decode(y.PeerID())
	x.cluster.Gater().Unblock(idY)
	y.cluster.Gater().Unblock(idX)
}

func TestP2PConvergeAndPartition(t *testing.T) {
	t.Parallel()
	a, b, c := p2pCluster(t)
	ctx := context.Background()

	// Members know each other's regions through the catalog.
	waitFor(t, func() bool {
		ms := a.Members()
		return len(ms) == 3 && ms[1].State != "" && ms[2].State != ""
	})

	for i := range 200 {
		mustSetCtx(t, []*Node{a, b, c}[i%3], fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	converged(t, a, b, c)
	if got, err := a.WaitReplicated(ctx, 2); err != nil || got != 2 {
		t.Fatalf("WaitReplicated = %d, %v", got, err)
	}

	// Partition a from {b, c}; both sides keep accepting writes.
	block(a, b)
	block(a, c)
	waitFor(t, func() bool { return reachablePeers(a) == 0 })
	va := mustSetCtx(t, a, "side", "a")
	vb := mustSetCtx(t, b, "side", "b")
	want := "b"
	if vb.Less(va) {
		want = "a" // same millisecond: the HLC and replica id decide, the same way everywhere
	}
	mustSetCtx(t, a, "only-a", "1")
	b.Delete(ctx, "k1")
	unblock(a, b)
	unblock(a, c)
	converged(t, a, b, c)
	for _, n := range []*Node{a, b, c} {
		if v, _ := mustGet(t, n, "side"); v != want {
			t.Fatalf("side = %q, want %q", v, want)
		}
		if _, ok := mustGet(t, n, "k1"); ok {
			t.Fatal("k1 deleted on b during the partition is back")
		}
		if v, _ := mustGet(t, n, "only-a"); v != "1" {
			t.Fatalf("only-a = %q", v)
		}
	}
}

func TestP2PRestartCatchesUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newP2PNode(t, nil)
	b := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.DataDir = dir })
	waitFor(t, func() bool { return reachablePeers(a) == 1 })
	oldID, oldReplica := b.PeerID(), b.ReplicaID()
	mustSetCtx(t, a, "before", "1")
	converged(t, a, b)
	b.Close()
	// Writes while b is down.
	for i := range 100 {
		mustSetCtx(t, a, fmt.Sprint("down", i), "x")
	}
	b2 := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.DataDir = dir })
	if b2.PeerID() != oldID {
		t.Fatalf("identity not persisted: %s != %s", b2.PeerID(), oldID)
	}
	if b2.ReplicaID() == oldReplica {
		t.Fatal("restarted node reused its replica id")
	}
	waitFor(t, func() bool { return b2.Ready() })
	converged(t, a, b2)
	if b2.Len() != 101 {
		t.Fatalf("restarted node holds %d keys, want 101", b2.Len())
	}
	// And it writes again under its new replica id.
	mustSetCtx(t, b2, "after", "2")
	converged(t, a, b2)
}

func TestP2PStrangerRefused(t *testing.T) {
	t.Parallel()
	member := newP2PNode(t, nil)
	guarded := newP2PNode(t, func(c *Config) { c.AllowPeers = []string{member.PeerID()} })
	stranger := newP2PNode(t, joining(guarded))
	waitFor(t, func() bool { return guarded.cluster.Stats().Refused > 0 })
	mustSetCtx(t, stranger, "evil", "1")
	if _, found := mustGet(t, guarded, "evil"); found {
		t.Fatal("a stranger's write reached the guarded node")
	}
	if reachablePeers(guarded) != 0 {
		t.Fatal("guarded node lists the stranger as a peer")
	}
}

func mustSetCtx(t *testing.T, n *Node, k, v string) crdt.Version {
	t.Helper()
	r, err := n.Set(context.Background(), k, []byte(v), SetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Version
}

// A DEL issued after a partitioned write (in real time) must win over it everywhere, even when
// the deleting node already holds a tombstone for the key from an earlier DEL: every DEL is a
// write with a fresh version (found by an independent fault-injection checker).
func TestP2PRepeatedDeleteBeatsPartitionedWrite(t *testing.T) {
	t.Parallel()
	a := newP2PNode(t, nil)
	b := newP2PNode(t, joining(a))
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 })
	ctx := context.Background()

	mustSetCtx(t, a, "k", "v0")
	if n, err := a.Delete(ctx, "k"); err != nil || n != 1 {
		t.Fatalf("first DEL = %d, %v", n, err)
	}
	converged(t, a, b)

	block(a, b)
	waitFor(t, func() bool { return reachablePeers(a) == 0 && reachablePeers(b) == 0 })
	vb := mustSetCtx(t, b, "k", "from-b")
	// The second DEL happens strictly later on the shared wall clock.
	waitFor(t, func() bool { return a.nowMs() > vb.TS.Millis() })
	if n, err := a.Delete(ctx, "k"); err != nil || n != 0 {
		t.Fatalf("second DEL of an already deleted key = %d, %v; want 0", n, err)
	}
	unblock(a, b)
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if v, ok := mustGet(t, n, "k"); ok {
			t.Fatalf("%s holds %q: the later DEL lost to an earlier write", n.PeerID(), v)
		}
	}
}
