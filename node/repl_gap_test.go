package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// slowRepl is a replication config under which neither the gap rule's two heartbeat intervals
// nor a periodic round elapse during a test: only the rules under test start sessions.
var slowRepl = replConfig{HeartbeatInterval: time.Hour, SyncInterval: time.Hour}

// idle waits until n runs no anti-entropy session (the ones its connects started are over).
func idle(t *testing.T, n *Node) {
	t.Helper()
	waitFor(t, func() bool {
		n.repl.mu.Lock()
		defer n.repl.mu.Unlock()
		for _, p := range n.repl.peers {
			if p.syncing {
				return false
			}
		}
		return true
	})
}

// TestOwnWritesLostFetchedAtOnce: a peer's heartbeat travels behind its writes on one ordered
// stream, so the writes it announces and the receiver lacks were lost; the receiver fetches
// them at once, not two heartbeat intervals later (by then a small delta log had often moved
// past them, and a store snapshot was sent instead).
func TestOwnWritesLostFetchedAtOnce(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.addWith(t, "a", nil, slowRepl), net.addWith(t, "b", nil, slowRepl)
	idle(t, a)
	idle(t, b)
	sessions := b.ReplicationStats().SyncSessions
	net.mu.Lock()
	net.drop = 1 // every delta to b is lost
	net.mu.Unlock()
	for i := range 20 {
		mustSet(t, a, fmt.Sprint("k", i), "v", SetOptions{})
	}
	waitFor(t, func() bool { return a.ReplicationStats().DeltasSent == 20 })
	net.mu.Lock()
	net.drop = 0
	net.mu.Unlock()
	if b.Len() != 0 {
		t.Fatalf("b holds %d keys before the repair, want 0", b.Len())
	}
	// The pause after the connect sessions (syncPause) is not under test here: a CI run under
	// load delivered the one heartbeat below within it, and the repair it paced waited for a
	// next heartbeat that never comes (an hour away).
	b.repl.mu.Lock()
	b.repl.peerLocked("a").syncQuiet = time.Time{}
	b.repl.mu.Unlock()
	b.repl.onMessage("a", a.repl.heartbeatFrame(nil)) // a's next heartbeat
	waitFor(t, func() bool { return b.Len() == 20 })
	if got := b.ReplicationStats().SyncSessions; got != sessions+1 {
		t.Fatalf("%d sessions for the repair, want 1", got-sessions)
	}
}

// TestThirdPartyWritesLeftToTheirWriter: writes of a that b shows and c lacks are not a gap
// while a's own heartbeats reach c (they may be on their way, and a's heartbeats reveal a
// loss); once a is cut off from c they are, and c fetches them from b.
func TestThirdPartyWritesLeftToTheirWriter(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a := net.addWith(t, "a", nil, slowRepl)
	b := net.addWith(t, "b", nil, slowRepl)
	c := net.addWith(t, "c", nil, slowRepl)
	for _, n := range []*Node{a, b, c} {
		idle(t, n)
	}
	c.repl.onMessage("a", a.repl.heartbeatFrame(nil)) // c hears a directly
	// b claims 100 writes of a that c has not seen.
	hb := heartbeat{replica: b.replica, vector: []crdt.ReplicaState{{Replica: a.replica, Prefix: 100, PrefixTS: 1}}}
	gap := func() bool {
		c.repl.onMessage("b", appendHeartbeat(nil, &hb))
		c.repl.mu.Lock()
		defer c.repl.mu.Unlock()
		return c.repl.peers["b"].gapVec != nil
	}
	if gap() {
		t.Fatal("writes of a live, directly heard writer were taken for a gap")
	}
	net.partition([]string{"a"}, []string{"c"})
	if !gap() {
		t.Fatal("writes of a writer cut off from c were not taken for a gap")
	}
}

// TestPeriodicSyncNeedsAStuckDifference: a periodic round starts a session only for a
// difference that the previous round saw too and that is still open, not for writes in flight.
func TestPeriodicSyncNeedsAStuckDifference(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.addWith(t, "a", nil, slowRepl), net.addWith(t, "b", nil, slowRepl)
	idle(t, a)
	idle(t, b)
	net.mu.Lock()
	net.drop = 1
	net.mu.Unlock()
	mustSet(t, a, "k", "v", SetOptions{})
	waitFor(t, func() bool { return a.ReplicationStats().DeltasSent == 1 })
	net.mu.Lock()
	net.drop = 0
	net.mu.Unlock()
	// b's view of a, as a heartbeat would bring it, without a's own loss rule firing.
	b.repl.mu.Lock()
	b.repl.peers["a"].vector = a.repl.vec.Clone()
	b.repl.mu.Unlock()
	syncing := func() bool {
		b.repl.mu.Lock()
		defer b.repl.mu.Unlock()
		return b.repl.peers["a"].syncing // set by startSync before it returns
	}
	b.repl.periodicSync() // first sight of the difference: it may be in flight
	if syncing() || b.Len() != 0 {
		t.Fatal("a difference seen once started a session")
	}
	// Still open a round later: a session starts — once the connect session's pause has passed
	// (syncPause: three times its length, longer than a round here under load), so the rounds
	// repeat until it has.
	waitFor(t, func() bool {
		b.repl.periodicSync()
		return b.Len() == 1
	})
}
