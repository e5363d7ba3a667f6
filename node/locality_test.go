package node

import (
	"context"
	"fmt"
	"github.com/geocache/geocache/lru"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

func TestP2PReadThrough(t *testing.T) {
	t.Parallel()
	a := newP2PNode(t, nil)
	b := newP2PNode(t, func(c *Config) {
		c.Join = a.P2PAddrs()
		c.MaxMemory = 256 << 10
		c.JanitorInterval = 10 * time.Millisecond
	})
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 })
	v := mustSetCtx(t, a, "far", "value")
	waitFor(t, func() bool { _, ok, _ := b.Peek(context.Background(), "far"); return ok })
	// b evicts it under memory pressure from local writes.
	for i := 0; ; i++ {
		mustSetCtx(t, b, fmt.Sprint("fill", i), strings.Repeat("x", 1000))
		if _, ok, _ := b.Peek(context.Background(), "far"); !ok {
			break
		}
	}
	// b's janitor collects the local tombstone of the eviction once a acknowledged it (on a
	// healthy cluster, within a heartbeat or two). The copy a holds is then still taken back:
	// b remembers the version it evicted (evicted.go). Before, a register b had applied and no
	// longer held a tombstone for was refused, so read-through worked only briefly.
	waitFor(t, func() bool {
		cur, _ := b.store.Apply("far", b.nowMs(), func(lru.Current[value]) lru.Update[value] { return lru.Update[value]{Action: lru.Keep} })
		return !cur.Exists && cur.Floor < uint64(v.TS)
	})
	// An evicted key may live elsewhere: its miss reads through.
	if !b.FillCandidate("far") {
		t.Fatal("FillCandidate false for a key evicted here")
	}
	calls := b.Stats().PeerRequests
	it, ok, err := b.Get(context.Background(), "far")
	if err != nil || !ok || string(it.Value) != "value" || it.Version != v {
		t.Fatalf("read-through = %q %v %v, version %v want %v", it.Value, ok, err, it.Version, v)
	}
	if st := b.Stats(); st.RemoteHits != 1 || st.PeerRequests == calls {
		t.Fatalf("remote hits = %d, peer requests %d -> %d", st.RemoteHits, calls, st.PeerRequests)
	}
	// Stored locally with its original version: the next read is local.
	if _, ok, _ := b.Peek(context.Background(), "far"); !ok {
		t.Fatal("read-through result not kept")
	}
	// An explicit read-through of a key nobody holds is a miss, remembered briefly.
	if _, ok, _ := b.ReadThrough(context.Background(), "nowhere"); ok {
		t.Fatal("absent key found")
	}
	b.ReadThrough(context.Background(), "nowhere")
	if st := b.Stats(); st.RemoteMisses != 1 {
		t.Fatalf("remote misses = %d, want 1 (second miss served by the negative cache)", st.RemoteMisses)
	}
}

// On a warmed node, a key never seen here lives nowhere else either (it would have arrived by
// replication): its miss is answered locally, without a peer request.
func TestP2PNoReadThroughForNeverSeenKey(t *testing.T) {
	t.Parallel()
	a := newP2PNode(t, nil)
	b := newP2PNode(t, joining(a))
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 && b.Ready() })
	// Expired here means expired everywhere (the expiry is replicated): no read-through either.
	mustSet(t, b, "brief", "x", SetOptions{TTL: time.Millisecond})
	waitFor(t, func() bool { _, ok, _ := b.Peek(context.Background(), "brief"); return !ok })
	before := b.Stats()
	for _, k := range []string{"never", "never", "brief"} {
		if b.FillCandidate(k) {
			t.Fatalf("FillCandidate(%q) true on a ready node", k)
		}
		if it, ok, err := b.Get(context.Background(), k); ok || err != nil {
			t.Fatalf("Get(%q) = %q %v %v, want a miss", k, it.Value, ok, err)
		}
	}
	after := b.Stats()
	if after.PeerRequests != before.PeerRequests || after.RemoteMisses != before.RemoteMisses {
		t.Fatalf("peer requests %d -> %d, remote misses %d -> %d: a never-seen key left the node",
			before.PeerRequests, after.PeerRequests, before.RemoteMisses, after.RemoteMisses)
	}
}

// A node that is not warmed yet (joining, restarted) may lack any key: every miss is worth a
// read-through until it is ready; then only evicted keys are.
func TestReadThroughWhileWarmingUp(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a := net.add(t, "a", nil)
	net.add(t, "b", nil) // a connected peer
	a.ready.Store(false)
	if !a.ReadThroughCandidate("never") {
		t.Fatal("no read-through for a miss while warming up")
	}
	a.ready.Store(true)
	if a.ReadThroughCandidate("never") {
		t.Fatal("read-through for a never-seen key on a ready node")
	}
	a.evicted.add("gone", 1)
	if !a.ReadThroughCandidate("gone") {
		t.Fatal("no read-through for an evicted key")
	}
}

func TestP2PGetOrLoadOncePerCluster(t *testing.T) {
	t.Parallel()
	a, b, c := p2pCluster(t)
	var loads atomic.Int32
	load := func(ctx context.Context, key string) ([]byte, time.Duration, error) {
		loads.Add(1)
		return []byte("origin:" + key), time.Minute, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for _, n := range []*Node{a, b, c} {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				it, err := n.GetOrLoad(context.Background(), "cold", load)
				if err == nil && string(it.Value) != "origin:cold" {
					err = fmt.Errorf("got %q", it.Value)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := loads.Load(); got != 1 {
		t.Fatalf("origin loaded %d times for 30 callers in 3 regions, want 1", got)
	}
}

func TestP2PNearest(t *testing.T) {
	t.Parallel()
	eu := newP2PNode(t, func(c *Config) { c.Region, c.Lat, c.Lon = "eu-west", 53.3, -6.3 })
	us := newP2PNode(t, func(c *Config) { c.Region, c.Lat, c.Lon, c.Join = "us-east", 38.9, -77.0, eu.P2PAddrs() })
	waitFor(t, func() bool {
		ms := eu.Members()
		return len(ms) == 2 && ms[1].Region == "us-east" && reachablePeers(eu) == 1
	})
	got := eu.Nearest(40.7, -74.0, 2) // New York
	if len(got) != 2 || got[0].Region != "us-east" || got[1].Region != "eu-west" {
		t.Fatalf("nearest to New York: %+v", got)
	}
	_ = us
}

// A read-through must not bring back a register older than what expired (or was deleted) here.
// Found by testnet's skew scenario: a node whose clock ran 1.5 s ahead wrote a key with a TTL;
// its peers rejected the write (too far ahead) and kept an older value; once the write expired
// on the writer, its GET read the older value through from a peer and served it.
func TestP2PReadThroughNotOlderThanLocalExpiry(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{}
	clk.ms.Store(time.Now().UnixMilli())
	a := newP2PNode(t, nil)
	b := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.Now = clk.Now })
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 })
	// b's clock stands still; bring it to the present so that a's writes are not "ahead" of it
	// by more than MaxClockOffset however long the start took (slow under -race).
	clk.ms.Store(time.Now().UnixMilli())
	old := mustSetCtx(t, a, "k", "old")
	waitFor(t, func() bool { _, ok, _ := b.Peek(context.Background(), "k"); return ok })

	// b's clock jumps beyond MaxClockOffset: a rejects b's write and keeps "old".
	clk.Advance(2 * time.Second)
	res, err := b.Set(context.Background(), "k", []byte("new"), SetOptions{TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !old.Less(res.Version) {
		t.Fatalf("b's write %v is not newer than a's %v", res.Version, old)
	}
	waitFor(t, func() bool { return a.ReplicationStats().ClockSkewRejected > 0 })
	if it, ok, _ := a.Peek(context.Background(), "k"); !ok || string(it.Value) != "old" {
		t.Fatalf("a holds %q %v, want the older value", it.Value, ok)
	}

	clk.Advance(1500 * time.Millisecond) // b's write expires on b
	// An expired key is not a read-through candidate (it expired everywhere); ask explicitly,
	// as a node warming up or one that evicted the key would.
	b.Get(context.Background(), "k")
	it, ok, err := b.ReadThrough(context.Background(), "k")
	if err != nil || ok {
		t.Fatalf("GET after the newer write expired = %q %v %v (version %v), want a miss", it.Value, ok, err, it.Version)
	}
	if _, ok, _ := b.Peek(context.Background(), "k"); ok {
		t.Fatal("the older value was stored under the newer expiry's tombstone")
	}
}

// A copy of a write this node applied itself and has since superseded must not come back by
// read-through once the tombstone of the newer write is collected (found by testnet seed 92,
// a monotonic-reads violation). A register that was never here, or whose removal stamp is its
// own version (evicted), is still taken.
func TestStoreFetchedRefusesOwnSupersededWrite(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a := net.add(t, "a", nil)
	ctx := context.Background()
	old := mustSet(t, a, "k", "old", SetOptions{})
	fetched := crdt.Delta{Key: "k", Entry: crdt.Entry{Value: []byte("old"), Version: old.Version,
		Seq: 1, Type: crdt.TypeLWW}}
	mustSet(t, a, "k", "new", SetOptions{TTL: time.Second})
	net.clock(a).Advance(2 * time.Second)
	a.sweep(a.nowMs())                            // expires "new", leaving its tombstone
	mustSet(t, a, "unrelated", "x", SetOptions{}) // the clock moves past it
	a.sweep(a.nowMs())                            // alone, the node holds every write: collected
	if st := a.Stats(); st.LocalTombstones != 0 || st.Expirations != 1 {
		t.Fatalf("want the expiry's tombstone collected, stats %+v", st)
	}
	if it, ok := a.storeFetched(&fetched); ok {
		t.Fatalf("storeFetched served the superseded write back: %q %v", it.Value, it.Version)
	}
	if _, ok, _ := a.Peek(ctx, "k"); ok {
		t.Fatal("the superseded write was stored")
	}

	other := crdt.Delta{Key: "j", Entry: crdt.Entry{Value: []byte("x"), Seq: 1, Type: crdt.TypeLWW,
		Version: crdt.Version{TS: crdt.Timestamp(uint64(a.nowMs()) << 16), Replica: 99}}}
	if it, ok := a.storeFetched(&other); !ok || string(it.Value) != "x" {
		t.Fatalf("storeFetched of a register never here = %q %v, want it stored", it.Value, ok)
	}
}
