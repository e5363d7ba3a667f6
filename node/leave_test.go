package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/geocache/geocache/crdt"
)

// waitWithin waits until cond holds, failing the test after d.
func waitWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %s", what, d)
		case <-tick.C:
		}
	}
}

// memberOf returns n's view of peer id, and whether it lists it.
func memberOf(n *Node, id string) (Member, bool) {
	for _, m := range n.Members() {
		if m.PeerID == id {
			return m, true
		}
	}
	return Member{}, false
}

func stateOf(n *Node, id string) string {
	m, ok := memberOf(n, id)
	if !ok {
		return "(absent)"
	}
	return m.State
}

// TestLeaveAnnounced: a node that closes is "left" on its peers within a second, they stop
// dialling it, and it stops holding back their causal stability.
func TestLeaveAnnounced(t *testing.T) {
	t.Parallel()
	a, b, c := p2pCluster(t)
	for _, n := range []*Node{a, b} {
		waitFor(t, func() bool { return stateOf(n, c.PeerID()) == "serving" })
	}
	mustSetCtx(t, c, "from-c", "1")
	cid := c.PeerID()
	closed := time.Now()
	c.Close()
	for _, n := range []*Node{a, b} {
		waitWithin(t, time.Second-time.Since(closed), "peer sees left", func() bool { return stateOf(n, cid) == "left" })
	}
	if v, _ := mustGet(t, a, "from-c"); v != "1" {
		t.Fatalf("the write c made before leaving is lost on a: %q", v)
	}
	for _, m := range a.Nearest(0, 0, 10) {
		if m.PeerID == cid {
			t.Fatal("a left member is listed as nearest")
		}
	}

	// Causal stability no longer waits for c: without the goodbye, c's last heartbeat clock
	// would bound a's stable time for TombstoneTTL.
	a.clockMu.Lock()
	after := a.clock.Now(a.nowMs())
	a.clockMu.Unlock()
	waitWithin(t, 5*time.Second, "stable time passes c's departure", func() bool {
		return a.stableTime(a.nowMs()) > after
	})

	// And nobody dials it any more (c is no Join address of b).
	id, _ := peer.Decode(cid)
	dials := b.cluster.Stats().Dials
	waitFor(t, func() bool { return b.cluster.Stats().Disconnects > 0 })
	for _, p := range b.cluster.ConnectedPeers() {
		if p == id {
			t.Fatal("b still connected to c")
		}
	}
	// Give the dialler several of its rounds (it wakes every 250 ms) by waiting for two more
	// heartbeats of a, then check no dial went to c.
	hb := b.ReplicationStats().HeartbeatsRecv
	waitFor(t, func() bool { return b.ReplicationStats().HeartbeatsRecv >= hb+8 })
	if got := b.cluster.Stats().Dials; got != dials {
		t.Fatalf("b dialled %d times after c left", got-dials)
	}
}

// TestLeftMemberComesBack: the same peer id started again (a data directory) is a member again.
func TestLeftMemberComesBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newP2PNode(t, nil)
	c := newP2PNode(t, func(cfg *Config) { cfg.Join = a.P2PAddrs(); cfg.DataDir = dir })
	cid := c.PeerID()
	waitFor(t, func() bool { return stateOf(a, cid) == "serving" })
	c.Close()
	waitWithin(t, time.Second, "a sees c left", func() bool { return stateOf(a, cid) == "left" })

	c2 := newP2PNode(t, func(cfg *Config) { cfg.Join = a.P2PAddrs(); cfg.DataDir = dir })
	if c2.PeerID() != cid {
		t.Fatalf("restarted with a new identity %s", c2.PeerID())
	}
	waitFor(t, func() bool {
		m, ok := memberOf(a, cid)
		return ok && m.State == "serving" && m.Connected && m.Reachable
	})
	mustSetCtx(t, c2, "back", "yes")
	waitFor(t, func() bool { v, _ := mustGet(t, a, "back"); return v == "yes" })
}

// TestForget: an operator forgets an unreachable member on one node; every node drops it, its
// writes stay, and connected members, this node and strangers are refused.
func TestForget(t *testing.T) {
	t.Parallel()
	a, b, c := p2pCluster(t)
	ctx := context.Background()
	mustSetCtx(t, c, "from-c", "kept")
	converged(t, a, b, c)
	cid := c.PeerID()

	if err := a.Forget(ctx, a.PeerID()); !errors.Is(err, ErrForgetSelf) {
		t.Fatalf("forget self: %v", err)
	}
	if err := a.Forget(ctx, cid); !errors.Is(err, ErrMemberConnected) {
		t.Fatalf("forget a connected member: %v", err)
	}
	if err := a.Forget(ctx, "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("forget a stranger: %v", err)
	}
	if err := a.Forget(ctx, "not-a-peer"); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("forget garbage: %v", err)
	}
	if _, ok := memberOf(a, cid); !ok {
		t.Fatal("a refused forget changed the member list")
	}

	// c becomes unreachable (it does not leave): cut it off from both.
	block(a, c)
	block(b, c)
	waitFor(t, func() bool { m, _ := memberOf(a, cid); return !m.Connected })
	if err := a.Forget(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if _, ok := memberOf(a, cid); ok {
		t.Fatal("a still lists c after forgetting it")
	}
	waitFor(t, func() bool { m, ok := memberOf(b, cid); return !ok || !m.Connected })
	waitFor(t, func() bool { _, ok := memberOf(b, cid); return !ok }) // through the catalog
	// Replication drops the member once it holds every write the member announced (forget):
	// at once when its last heartbeat was already applied, a moment later on a loaded machine.
	waitFor(t, func() bool {
		a.repl.mu.Lock()
		defer a.repl.mu.Unlock()
		_, held := a.repl.peers[cid]
		return !held
	})
	if v, _ := mustGet(t, a, "from-c"); v != "kept" {
		t.Fatalf("a forgotten member's write is gone: %q", v)
	}
	if err := a.Forget(ctx, cid); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("forget twice: %v", err)
	}

	// c was alive all along: once it can talk again it rewrites its record and is back.
	unblock(a, c)
	unblock(b, c)
	for _, n := range []*Node{a, b} {
		waitFor(t, func() bool { m, ok := memberOf(n, cid); return ok && m.Connected && m.State == "serving" })
	}
}

// TestForgetAfterHorizon: a member unreachable for ForgetAfter is forgotten by itself.
func TestForgetAfterHorizon(t *testing.T) {
	t.Parallel()
	fast := func(cfg *Config) { cfg.TombstoneTTL = time.Second; cfg.ForgetAfter = 2 * time.Second }
	a := newP2PNode(t, fast)
	b := newP2PNode(t, func(cfg *Config) { fast(cfg); cfg.Join = a.P2PAddrs() })
	bid := b.PeerID()
	waitFor(t, func() bool { return stateOf(a, bid) == "serving" })
	block(a, b)
	waitFor(t, func() bool { m, _ := memberOf(a, bid); return !m.Connected })
	cut := time.Now()
	waitFor(t, func() bool { _, ok := memberOf(a, bid); return !ok })
	if d := time.Since(cut); d < 2*time.Second {
		t.Fatalf("forgotten after %s, before the 2s horizon", d)
	}
	if a.cluster.Stats().Forgotten == 0 {
		t.Fatal("not counted")
	}
}

func TestForgetAfterValidation(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{TombstoneTTL: time.Hour, ForgetAfter: time.Minute}); err == nil || !strings.Contains(err.Error(), "ForgetAfter") {
		t.Fatalf("ForgetAfter below TombstoneTTL: %v", err)
	}
	for _, tc := range []struct{ tomb, forget, want time.Duration }{
		{0, 0, 24 * time.Hour},
		{48 * time.Hour, 0, 48 * time.Hour},
		{0, -1, 0},
		{0, 2 * time.Hour, 2 * time.Hour},
	} {
		c, err := Config{TombstoneTTL: tc.tomb, ForgetAfter: tc.forget}.withDefaults()
		if err != nil || c.ForgetAfter != tc.want {
			t.Errorf("TombstoneTTL %s ForgetAfter %s: got %s, %v; want %s", tc.tomb, tc.forget, c.ForgetAfter, err, tc.want)
		}
	}
}

// TestNotReadyWhileJoinUnreachable: a node told to join an address where nobody answers is not
// ready, however long it waits, and says why.
func TestNotReadyWhileJoinUnreachable(t *testing.T) {
	t.Parallel()
	gone := newP2PNode(t, nil)
	addrs := gone.P2PAddrs()
	gone.Close()
	n := newP2PNode(t, func(cfg *Config) { cfg.Join = addrs; cfg.WarmupTimeout = 100 * time.Millisecond })
	// Several failed dials take well over the old warm-up timeout (backoff 250 ms, 500 ms, ...).
	waitFor(t, func() bool { return n.cluster.Stats().DialFailures >= 3 })
	ready, why := n.ReadyReason()
	if ready || n.Ready() || !strings.Contains(why, "never reached a member of --join") || !strings.Contains(why, addrs[0]) {
		t.Fatalf("ReadyReason = %v, %q", ready, why)
	}
}

// TestRestartWithDataDirReadyOnlyWhenSynced: a node restarted with its data directory knows
// members from its catalog and is not ready before it holds their data.
func TestRestartWithDataDirReadyOnlyWhenSynced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newP2PNode(t, func(cfg *Config) { cfg.DataDir = dir })
	b := newP2PNode(t, joining(a))
	const keys = 300
	for i := range keys {
		mustSetCtx(t, b, fmt.Sprint("k", i), "v")
	}
	converged(t, a, b)
	waitFor(t, func() bool { return stateOf(a, b.PeerID()) == "serving" })
	a.Close()

	a2 := newP2PNode(t, func(cfg *Config) { cfg.DataDir = dir }) // no --join: a seed restarting
	for !a2.Ready() {
		ready, why := a2.ReadyReason()
		if !ready && why == "" {
			t.Fatal("not ready without a reason")
		}
		waitTick()
	}
	if got := len(state(a2)); got != keys {
		t.Fatalf("ready holding %d of %d keys", got, keys)
	}
}

// TestClosingNodeNotReady: Close makes the node not ready first (load balancers drain it).
func TestClosingNodeNotReady(t *testing.T) {
	t.Parallel()
	a := newP2PNode(t, nil)
	if !a.Ready() {
		t.Fatal("a new cluster's first node is not ready")
	}
	a.Close()
	if ready, why := a.ReadyReason(); ready || why != "shutting down" {
		t.Fatalf("after Close: %v %q", ready, why)
	}
	if err := a.Forget(context.Background(), "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Forget after Close: %v", err)
	}
}

func TestGoodbyeCodec(t *testing.T) {
	t.Parallel()
	g := heartbeat{replica: 7, seq: 1 << 40, hlc: crdt.Timestamp(123456789)}
	b := appendGoodbye(nil, &g)
	got, err := decodeGoodbye(b)
	if err != nil || got.replica != g.replica || got.seq != g.seq || got.hlc != g.hlc {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(b, 0)} {
		if _, err := decodeGoodbye(bad); err == nil {
			t.Errorf("decodeGoodbye(%x) accepted", bad)
		}
	}
}
