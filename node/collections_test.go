package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/geocache/geocache/crdt"
)

func hset(t *testing.T, n *Node, key string, kv ...string) {
	t.Helper()
	var pairs [][2][]byte
	for i := 0; i < len(kv); i += 2 {
		pairs = append(pairs, [2][]byte{[]byte(kv[i]), []byte(kv[i+1])})
	}
	if _, err := n.UpdateHash(context.Background(), key, true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		return h.Set(stamp(), pairs...)
	}); err != nil {
		t.Fatal(err)
	}
}

func hashOf(t *testing.T, n *Node, key string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, err := n.ReadHash(context.Background(), key, func(h *crdt.Hash) {
		h.Range(func(f string, v []byte) bool { out[f] = string(v); return true })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCollectionsMergeAcrossPartition: concurrent HSETs of different fields merge, a concurrent
// HDEL removes only the write it observed, SADD beats a concurrent SREM, ZINCRBYs on both sides
// sum, and a string SET concurrent with an older hash wins the key (docs/design.md).
func TestCollectionsMergeAcrossPartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	hset(t, a, "h", "f0", "base", "gone", "x")
	if _, err := a.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		_, d := s.Add(stamp(), "m", "n")
		return d
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateZSet(ctx, "z", true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		return z.Add(stamp(), "p", 10)
	}); err != nil {
		t.Fatal(err)
	}
	hset(t, a, "str", "f", "v")
	converged(t, a, b)

	net.partition([]string{"a"}, []string{"b"})
	hset(t, a, "h", "fa", "1", "f0", "updated-by-a")
	hset(t, b, "h", "fb", "2")
	if _, err := b.UpdateHash(ctx, "h", false, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		stamp()
		_, d := h.Del("f0", "gone")
		return d
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateSet(ctx, "s", false, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		_, d := s.Add(stamp(), "m")
		return d
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{a, b} {
		if _, err := n.UpdateZSet(ctx, "z", false, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
			_, d := z.Incr(stamp(), "p", 1)
			return d
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.UpdateSet(ctx, "s", false, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		stamp()
		_, d := s.Rem("m", "n")
		return d
	}); err != nil {
		t.Fatal(err)
	}
	hset(t, a, "str", "g", "w") // element write to the old incarnation
	if _, err := b.Set(ctx, "str", []byte("plain"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	net.heal()
	converged(t, a, b)

	want := map[string]string{"f0": "updated-by-a", "fa": "1", "fb": "2"}
	for _, n := range []*Node{a, b} {
		if got := hashOf(t, n, "h"); !mapsEq(got, want) {
			t.Fatalf("hash = %v, want %v", got, want)
		}
		var members []string
		n.ReadSet(ctx, "s", func(s *crdt.Set) { s.Range(func(m string) bool { members = append(members, m); return true }) })
		if len(members) != 1 || members[0] != "m" {
			t.Fatalf("set = %v, want [m] (add wins over the concurrent remove; n removed)", members)
		}
		var score float64
		n.ReadZSet(ctx, "z", func(z *crdt.ZSet) { score, _ = z.Score("p") })
		if score != 12 {
			t.Fatalf("score = %v, want 12", score)
		}
		if ty, _ := n.KeyType(ctx, "str"); ty != "string" {
			t.Fatalf("str is a %s, want the newer string", ty)
		}
		if _, err := n.ReadHash(ctx, "str", func(*crdt.Hash) {}); !errors.Is(err, ErrWrongType) {
			t.Fatalf("ReadHash of a string: %v", err)
		}
		if _, _, err := n.Get(ctx, "h"); !errors.Is(err, ErrWrongType) {
			t.Fatalf("Get of a hash: %v", err)
		}
	}
}

func mapsEq(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCollectionSnapshotMerges: a node that joins after the log was trimmed gets collections
// as full states and merges them.
func TestCollectionExpiryAndEmptyIsAbsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, _ := newTestNode(t, nil)
	hset(t, n, "h", "a", "1")
	if ok, err := n.Expire(ctx, "h", n.Now().Add(3600e9)); !ok || err != nil {
		t.Fatalf("Expire = %v %v", ok, err)
	}
	if _, _, has, _ := n.TTL(ctx, "h"); !has {
		t.Fatal("no expiry after Expire")
	}
	hset(t, n, "h", "b", "2")
	if _, _, has, _ := n.TTL(ctx, "h"); !has {
		t.Fatal("HSET dropped the expiry")
	}
	n.UpdateHash(ctx, "h", false, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		stamp()
		_, d := h.Del("a", "b")
		return d
	})
	if c, _ := n.Exists(ctx, "h"); c != 0 || n.Len() != 0 {
		t.Fatalf("emptied hash exists=%d len=%d", c, n.Len())
	}
	if ty, _ := n.KeyType(ctx, "h"); ty != "none" {
		t.Fatalf("type %s", ty)
	}
	hset(t, n, "h", "c", "3")
	if _, _, has, _ := n.TTL(ctx, "h"); has {
		t.Fatal("a re-created hash kept the old incarnation's expiry")
	}
	if n.Stats().Bytes < 3 {
		t.Fatal("collection not charged")
	}
}

// Two writes of one hash in a transaction both reach the peer: a collection's writes are
// element deltas, so the unit keeps each of them (not only the last write of the key).
func TestTxHashWritesReplicateWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	err := a.Atomic(ctx, []string{"h"}, func(tx *Tx) error {
		for _, kv := range [][2]string{{"f1", "v1"}, {"f2", "v2"}} {
			if _, err := tx.UpdateHash(ctx, "h", true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
				return h.Set(stamp(), [2][]byte{[]byte(kv[0]), []byte(kv[1])})
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	converged(t, a, b)
	if got := hashOf(t, b, "h"); len(got) != 2 || got["f1"] != "v1" || got["f2"] != "v2" {
		t.Fatalf("peer holds %v, want both fields", got)
	}
}

// A hash, a set and a counter survive a save and a restart with their types.
func TestSnapshotKeepsCollectionsAndCounters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	n, _ := newTestNode(t, func(c *Config) { c.DataDir = dir })
	hset(t, n, "h", "f1", "v1", "f2", "v2")
	if _, err := n.IncrBy(ctx, "c", 7); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	m, _ := newTestNode(t, func(c *Config) { c.DataDir = dir })
	waitFor(t, func() bool { return m.Ready() })
	if got := hashOf(t, m, "h"); len(got) != 2 || got["f1"] != "v1" || got["f2"] != "v2" {
		t.Fatalf("hash after restart: %v", got)
	}
	if v, err := m.IncrBy(ctx, "c", 1); err != nil || v != 8 {
		t.Fatalf("counter after restart: INCR = %d, %v", v, err)
	}
}

// TestReplicatedCollWriteAllocs: a replicated HSET or SADD of an element present allocates
// nothing but, once in many writes, a block its delta's encoding is cut from (the delta itself
// lives in the op's scratch: it is encoded under the key's lock and dropped).
func TestReplicatedCollWriteAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	n, _ := newTestNode(t, nil)
	sent := 0
	n.sink = func(crdt.Delta) { sent++ }
	ctx := context.Background()
	// Made once: the closure capturing the pairs would be the harness' own allocation.
	pairs := [][2][]byte{{[]byte("f"), []byte("v")}}
	set := func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash { return h.Set(stamp(), pairs...) }
	hset := func() { n.UpdateHash(ctx, "h", true, set) }
	sadd := func() {
		n.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), "m")
			return d
		})
	}
	for _, c := range []struct {
		name string
		fn   func()
	}{{"hset", hset}, {"sadd", sadd}} {
		c.fn()
		before := sent
		if allocs := testing.AllocsPerRun(100, c.fn); allocs > 0.1 {
			t.Errorf("%s of a present element, replicated: %.2f allocations, want about 0", c.name, allocs)
		}
		if sent-before != 101 {
			t.Errorf("%s: %d deltas sent for 101 writes", c.name, sent-before)
		}
	}
}

// TestCollDeltaEncodingsKept: the encodings cut from one block stay as each write made them
// while later writes fill the block, and an append to one does not write over the next.
func TestCollDeltaEncodingsKept(t *testing.T) {
	n, _ := newTestNode(t, nil)
	var got, want [][]byte
	n.sink = func(d crdt.Delta) {
		got = append(got, d.Entry.Value)
		want = append(want, bytes.Clone(d.Entry.Value))
	}
	ctx := context.Background()
	for i := range 400 {
		m := fmt.Sprintf("member-%d", i%50)
		if _, err := n.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), m)
			return d
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 400 {
		t.Fatalf("%d deltas sent for 400 writes", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("delta %d changed after it was sent", i)
		}
	}
	_ = append(got[1], 0xff, 0xff, 0xff)
	if !bytes.Equal(got[2], want[2]) {
		t.Fatal("an append to one delta wrote over the next")
	}
	// Each is a set delta a replica merges: the member it added.
	for i := range got {
		d, err := crdt.DecodeSet(got[i])
		if err != nil {
			t.Fatalf("delta %d: %v", i, err)
		}
		if m := fmt.Sprintf("member-%d", i%50); !d.Has(m) {
			t.Fatalf("delta %d does not add %s", i, m)
		}
	}
}

// recordingNode is a test node whose local writes are recorded, with copies of their keys and
// bytes, instead of replicated: a writer's deltas, to hand to replicas as frames would.
func recordingNode(t *testing.T) (*Node, *[]crdt.Delta) {
	src, _ := newTestNode(t, nil)
	var sent []crdt.Delta
	src.sink = func(d crdt.Delta) {
		d.Key, d.Entry.Value = strings.Clone(d.Key), bytes.Clone(d.Entry.Value)
		sent = append(sent, d)
	}
	return src, &sent
}
