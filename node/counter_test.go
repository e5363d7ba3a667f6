package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

func mustIncr(t *testing.T, n *Node, key string, d int64) int64 {
	t.Helper()
	v, err := n.IncrBy(context.Background(), key, d)
	if err != nil {
		t.Fatalf("IncrBy(%s, %d): %v", key, d, err)
	}
	return v
}

func TestIncrBy(t *testing.T) {
	t.Parallel()
	n, clk := newTestNode(t, nil)
	ctx := context.Background()
	if v := mustIncr(t, n, "c", 1); v != 1 {
		t.Fatalf("INCR of an absent key = %d", v)
	}
	if v := mustIncr(t, n, "c", -5); v != -4 {
		t.Fatalf("INCRBY -5 = %d", v)
	}
	if v, _ := mustGet(t, n, "c"); v != "-4" {
		t.Fatalf("GET of a counter = %q", v)
	}
	// A register holding an integer becomes a counter from its value, keeping its expiry.
	mustSet(t, n, "r", "10", SetOptions{TTL: time.Minute})
	if v := mustIncr(t, n, "r", 1); v != 11 {
		t.Fatalf("INCR of \"10\" = %d", v)
	}
	if ttl, _, has, _ := n.TTL(ctx, "r"); !has || ttl != time.Minute {
		t.Fatalf("INCR lost the TTL: %v %v", ttl, has)
	}
	// EXPIRE of a counter keeps it a counter.
	if ok, err := n.Expire(ctx, "r", clk.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatalf("EXPIRE: %v %v", ok, err)
	}
	if v := mustIncr(t, n, "r", 1); v != 12 {
		t.Fatalf("INCR after EXPIRE = %d", v)
	}
	if ttl, _, _, _ := n.TTL(ctx, "r"); ttl != time.Hour {
		t.Fatalf("TTL after EXPIRE of a counter = %v", ttl)
	}
	if ok, _ := n.Persist(ctx, "r"); !ok {
		t.Fatal("PERSIST of a counter with a TTL did nothing")
	}
	if _, _, has, _ := n.TTL(ctx, "r"); has {
		t.Fatal("PERSIST left a TTL")
	}
	// Errors change nothing.
	mustSet(t, n, "s", "abc", SetOptions{})
	for _, bad := range []string{"abc", " 1", "1 ", "+1", "01", "1.5", "", "99999999999999999999"} {
		mustSet(t, n, "s", bad, SetOptions{})
		if _, err := n.IncrBy(ctx, "s", 1); !errors.Is(err, ErrNotInteger) {
			t.Fatalf("INCR of %q: %v", bad, err)
		}
		if v, _ := mustGet(t, n, "s"); v != bad {
			t.Fatalf("failed INCR changed %q to %q", bad, v)
		}
	}
	mustSet(t, n, "m", strconv.FormatInt(math.MaxInt64, 10), SetOptions{})
	if _, err := n.IncrBy(ctx, "m", 1); !errors.Is(err, ErrOverflow) {
		t.Fatalf("INCR past max: %v", err)
	}
	if v := mustIncr(t, n, "m", math.MinInt64); v != -1 {
		t.Fatalf("INCRBY min = %d", v)
	}
	if _, err := n.IncrBy(ctx, "m", math.MinInt64); !errors.Is(err, ErrOverflow) {
		t.Fatalf("INCRBY min twice: %v", err)
	}
	if v, _ := mustGet(t, n, "m"); v != "-1" {
		t.Fatalf("a failed INCR changed the counter to %q", v)
	}
	// DEL then INCR starts from 0; SET replaces the counter.
	if c, _ := n.Delete(ctx, "c"); c != 1 {
		t.Fatal("DEL of a counter")
	}
	if v := mustIncr(t, n, "c", 3); v != 3 {
		t.Fatalf("INCR after DEL = %d", v)
	}
	mustSet(t, n, "c", "x", SetOptions{})
	if v, _ := mustGet(t, n, "c"); v != "x" {
		t.Fatalf("SET over a counter: %q", v)
	}
	if k := n.Len(); k != 4 {
		t.Fatalf("Len = %d", k)
	}
}

func TestModify(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, func(c *Config) { c.MaxValueSize = 8 })
	ctx := context.Background()
	app := func(s string) func([]byte, bool) ([]byte, bool, error) {
		return func(cur []byte, _ bool) ([]byte, bool, error) {
			return append(append([]byte(nil), cur...), s...), true, nil
		}
	}
	if v, err := n.Modify(ctx, "k", app("ab")); err != nil || string(v) != "ab" {
		t.Fatalf("append to absent: %q %v", v, err)
	}
	mustIncr(t, n, "c", 41)
	if v, err := n.Modify(ctx, "c", app("x")); err != nil || string(v) != "41x" {
		t.Fatalf("append to a counter: %q %v", v, err)
	}
	if _, err := n.Modify(ctx, "k", app("1234567")); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	boom := errors.New("boom")
	if _, err := n.Modify(ctx, "k", func([]byte, bool) ([]byte, bool, error) { return nil, true, boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error: %v", err)
	}
	if v, _ := mustGet(t, n, "k"); v != "ab" {
		t.Fatalf("failed Modify changed the value to %q", v)
	}
}

// counterValue reads key on n as a decimal.
func counterValue(t *testing.T, n *Node, key string) string {
	t.Helper()
	v, _ := mustGet(t, n, key)
	return v
}

// Concurrent INCRBYs on three nodes cut off from each other sum exactly after the heal, and a
// counter's delta is the writer's contribution only.
func TestCounterSumsThroughPartition(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b, c := net.add(t, "a", nil), net.add(t, "b", nil), net.add(t, "c", nil)
	nodes := []*Node{a, b, c}
	var want int64
	rng := rand.New(rand.NewPCG(3, 4))
	incr := func() {
		for range 50 {
			d := rng.Int64N(2001) - 1000
			mustIncr(t, nodes[rng.IntN(3)], "hits", d)
			want += d
		}
	}
	incr()
	mustSet(t, a, "rate", "7", SetOptions{TTL: time.Hour})
	converged(t, a, b, c)
	net.partition([]string{"a"}, []string{"b", "c"})
	net.partition([]string{"b"}, []string{"c"})
	incr()
	rate := int64(7)
	for i, n := range nodes {
		mustIncr(t, n, "rate", int64(i+1))
		rate += int64(i + 1)
	}
	// An EXPIRE on one side does not undo the increments on the others.
	if ok, err := b.Expire(context.Background(), "rate", net.clock(b).Now().Add(2*time.Hour)); err != nil || !ok {
		t.Fatal("EXPIRE", ok, err)
	}
	net.heal()
	converged(t, a, b, c)
	for _, n := range nodes {
		if got := counterValue(t, n, "hits"); got != strconv.FormatInt(want, 10) {
			t.Fatalf("hits = %s, want %d", got, want)
		}
		if got := counterValue(t, n, "rate"); got != strconv.FormatInt(rate, 10) {
			t.Fatalf("rate = %s, want %d", got, rate)
		}
		if ttl, _, _, _ := n.TTL(context.Background(), "rate"); ttl != 2*time.Hour {
			t.Fatalf("rate TTL = %v, want b's EXPIRE", ttl)
		}
	}
}

// A SET that the increments elsewhere did not observe wins over them (observed reset), in any
// order of delivery; increments that observed it add to it.
func TestCounterResetWinsOverUnobservedIncrements(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	mustIncr(t, a, "k", 5)
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	mustIncr(t, b, "k", 100)
	mustSet(t, a, "k", "40", SetOptions{}) // concurrent with b's increment, earlier or not
	mustIncr(t, a, "k", 2)                 // observed the SET: adds
	net.clock(b).Advance(50 * time.Millisecond)
	mustIncr(t, b, "k", 100) // later in time, but did not observe the SET: lost to it
	net.heal()
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if got := counterValue(t, n, "k"); got != "42" {
			t.Fatalf("k = %s, want 42", got)
		}
	}
	// A DEL works the same way; INCR after it starts from 0 on its version.
	net.partition([]string{"a"}, []string{"b"})
	if _, err := a.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	mustIncr(t, a, "k", 1)
	mustIncr(t, b, "k", 1000)
	net.heal()
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if got := counterValue(t, n, "k"); got != "1" {
			t.Fatalf("k after DEL = %s, want 1", got)
		}
	}
}

// A node that joins after the delta log no longer covers the writes gets the counters by
// snapshot, including contributions of replicas whose newest write to the key is not theirs.
func TestCounterSnapshot(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	for _, n := range []*Node{a, b} {
		n.repl.mu.Lock()
		n.repl.log = newDeltaLog(1 << 10)
		n.repl.mu.Unlock()
	}
	for i := range 100 {
		mustIncr(t, a, fmt.Sprint("c", i%10), 1)
		mustSet(t, a, fmt.Sprint("pad", i), "................................................", SetOptions{})
	}
	converged(t, a, b)
	for i := range 10 {
		mustIncr(t, b, fmt.Sprint("c", i), 5) // b's write is now each counter's newest
	}
	converged(t, a, b)
	c := net.add(t, "c", nil)
	converged(t, a, b, c)
	for i := range 10 {
		if got := counterValue(t, c, fmt.Sprint("c", i)); got != "15" {
			t.Fatalf("c%d on the new node = %s, want 15", i, got)
		}
	}
	if a.ReplicationStats().SnapshotsSent+b.ReplicationStats().SnapshotsSent == 0 {
		t.Fatal("expected a snapshot")
	}
}

// The delta of one increment stays small however many replicas contributed.
func TestCounterDeltaBytes(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	nodes := []*Node{net.add(t, "a", nil), net.add(t, "b", nil), net.add(t, "c", nil)}
	for _, n := range nodes {
		mustIncr(t, n, "k", 1)
	}
	converged(t, nodes...)
	var got []crdt.Delta
	nodes[0].sink = func(d crdt.Delta) { got = append(got, d) }
	mustIncr(t, nodes[0], "k", 1)
	if len(got) != 1 {
		t.Fatalf("%d deltas", len(got))
	}
	n := len(crdt.AppendDelta(nil, &got[0]))
	if n > 30+len("k") {
		t.Fatalf("one increment is %d bytes on the wire", n)
	}
	t.Logf("one INCR of key %q: %d bytes in a delta (value %d bytes)", "k", n, len(got[0].Entry.Value))
	// A counter started from a SET carries the base's value and version (17 bytes more).
	mustSet(t, nodes[0], "s", "100", SetOptions{})
	mustIncr(t, nodes[0], "s", 1)
	n = len(crdt.AppendDelta(nil, &got[len(got)-1]))
	if n > 30+len("s")+17 {
		t.Fatalf("one increment of a counter started from a SET is %d bytes on the wire", n)
	}
	t.Logf("one INCR of key %q after SET: %d bytes in a delta", "s", n)
}

// The same over libp2p: three nodes cut off from each other increment one key; after the heal
// every node shows the sum of every acknowledged increment.
func TestP2PCounterSumsAfterPartition(t *testing.T) {
	t.Parallel()
	a, b, c := p2pCluster(t)
	nodes := []*Node{a, b, c}
	mustIncr(t, a, "k", 1)
	converged(t, a, b, c)
	block(a, b)
	block(a, c)
	block(b, c)
	for _, n := range nodes {
		waitFor(t, func() bool { return reachablePeers(n) == 0 })
	}
	want := int64(1)
	for i := range 30 {
		d := int64(i%7 - 2)
		mustIncr(t, nodes[i%3], "k", d)
		want += d
	}
	unblock(a, b)
	unblock(a, c)
	unblock(b, c)
	converged(t, a, b, c)
	for _, n := range nodes {
		if got := counterValue(t, n, "k"); got != strconv.FormatInt(want, 10) {
			t.Fatalf("%s: k = %s, want %d", n.PeerID(), got, want)
		}
	}
}

// BenchmarkIncrBy measures a local increment of one hot key and of many keys, standalone
// (compare BenchmarkSet).
//
//	go test ./node -run '^$' -bench 'BenchmarkIncrBy' -benchmem
func BenchmarkIncrBy(b *testing.B) {
	for _, keys := range []int{1, 1 << 16} {
		b.Run("keys="+strconv.Itoa(keys), func(b *testing.B) {
			n, err := New(Config{MaxMemory: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			names := make([]string, keys)
			for i := range names {
				names[i] = "counter:" + strconv.Itoa(i)
			}
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				if _, err := n.IncrBy(ctx, names[i%keys], 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The rate-limiter pattern across regions: INCR + EXPIRE, the window ends on every node at the
// same moment, and the next window's increments made on both sides of a partition add up
// (both restart from the same base, derived from the expired counter's version).
func TestCounterWindowAfterExpiry(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	ctx := context.Background()
	mustIncr(t, a, "rl", 1)
	mustIncr(t, b, "rl", 1)
	if ok, err := a.Expire(ctx, "rl", net.clock(a).Now().Add(10*time.Second)); err != nil || !ok {
		t.Fatal("EXPIRE", ok, err)
	}
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		net.clock(n).Advance(11 * time.Second)
		if _, ok := mustGet(t, n, "rl"); ok {
			t.Fatal("the window did not expire")
		}
	}
	net.partition([]string{"a"}, []string{"b"})
	if v := mustIncr(t, a, "rl", 1); v != 1 {
		t.Fatalf("first INCR of the new window on a = %d", v)
	}
	mustIncr(t, b, "rl", 1)
	mustIncr(t, b, "rl", 1)
	net.heal()
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if got := counterValue(t, n, "rl"); got != "3" {
			t.Fatalf("new window = %s, want 3", got)
		}
	}
}
