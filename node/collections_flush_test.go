package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

func setOf(t *testing.T, n *Node, key string) []string {
	t.Helper()
	var out []string
	if _, err := n.ReadSet(context.Background(), key, func(s *crdt.Set) {
		s.Range(func(m string) bool { out = append(out, m); return true })
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func sadd(t *testing.T, n *Node, key string, members ...string) {
	t.Helper()
	if _, err := n.UpdateSet(context.Background(), key, true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		_, d := s.Add(stamp(), members...)
		return d
	}); err != nil {
		t.Fatal(err)
	}
}

// TestFlushDropsOlderCollectionElements: a FLUSHALL in one region while the other writes a new
// element of an older collection leaves only the newer element everywhere: on the writer, the
// flush arrives after the write and prunes the older elements; on the flusher, the element
// delta arrives after the flush on a cleared key and is the whole post-flush state.
func TestFlushDropsOlderCollectionElements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	hset(t, a, "h", "old1", "x", "old2", "y")
	sadd(t, a, "s", "m1", "m2")
	waitFor(t, func() bool { return len(hashOf(t, b, "h")) == 2 && len(setOf(t, b, "s")) == 2 })

	net.partition([]string{"a"}, []string{"b"})
	if _, err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	net.clock(a).Advance(time.Second) // a's next writes are stamped after the flush
	net.clock(b).Advance(time.Second) // (and b accepts them: clocks within MaxClockOffset)
	hset(t, a, "h", "new", "z")
	sadd(t, a, "s", "m3")
	if got := hashOf(t, a, "h"); len(got) != 3 {
		t.Fatalf("before the heal a holds %v", got)
	}
	net.heal()
	want := map[string]string{"new": "z"}
	waitFor(t, func() bool {
		return mapsEq(hashOf(t, a, "h"), want) && mapsEq(hashOf(t, b, "h"), want) &&
			slices.Equal(setOf(t, a, "s"), []string{"m3"}) && slices.Equal(setOf(t, b, "s"), []string{"m3"})
	})
	// The order of arrival does not matter: a late copy of an old element stays gone.
	for _, n := range []*Node{a, b} {
		if ty, _ := n.KeyType(ctx, "h"); ty != "hash" {
			t.Fatalf("type %s", ty)
		}
	}
}

// TestPartialCollectionHidden: element deltas of an incarnation this node never held whole
// (evicted here, or the creating write still in flight) are kept but not served; the
// creating write's full state completes them.
func TestPartialCollectionHidden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	b := net.add(t, "b", nil)
	now := crdt.MakeTimestamp(b.nowMs(), 0)
	v0 := crdt.Version{TS: now, Replica: 99}
	v1 := crdt.Version{TS: now + 1, Replica: 99}
	h := crdt.NewHash(v0)
	h.MarkFull()
	h.Set(v0, [2][]byte{[]byte("f1"), []byte("1")})
	creating := crdt.Delta{Key: "h", Entry: crdt.Entry{Type: crdt.TypeHash, Value: h.AppendBinary(nil), Version: v0, Seq: 1}}
	later := h.Set(v1, [2][]byte{[]byte("f2"), []byte("2")})
	if later.Full() {
		t.Fatal("an element delta claims to be full")
	}
	second := crdt.Delta{Key: "h", Entry: crdt.Entry{Type: crdt.TypeHash, Value: later.AppendBinary(nil), Version: v1, Seq: 2}}

	b.repl.apply(&second)
	if ok, err := b.ReadHash(ctx, "h", func(*crdt.Hash) {}); ok || err != nil {
		t.Fatalf("partial hash served: %v %v", ok, err)
	}
	if ty, _ := b.KeyType(ctx, "h"); ty != "none" {
		t.Fatalf("partial hash has type %s", ty)
	}
	b.repl.apply(&creating)
	if got := hashOf(t, b, "h"); !mapsEq(got, map[string]string{"f1": "1", "f2": "2"}) {
		t.Fatalf("after the full state: %v", got)
	}
}

// TestRenameCopyCollection: RENAME and COPY move a collection with its elements, scores and
// expiry; the copy replicates.
func TestRenameCopyCollection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	hset(t, a, "h", "f", "v", "g", "w")
	if ok, err := a.Expire(ctx, "h", a.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatalf("Expire = %v %v", ok, err)
	}
	if _, err := a.UpdateZSet(ctx, "z", true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		return z.Add(stamp(), "p", 1.5)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateZSet(ctx, "z", true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		_, d := z.Incr(stamp(), "p", 2)
		return d
	}); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Rename(ctx, "h", "h2", false); !ok || err != nil {
		t.Fatalf("Rename = %v %v", ok, err)
	}
	if ok, err := a.Copy(ctx, "z", "z2", false); !ok || err != nil {
		t.Fatalf("Copy = %v %v", ok, err)
	}
	want := map[string]string{"f": "v", "g": "w"}
	waitFor(t, func() bool {
		var s float64
		b.ReadZSet(ctx, "z2", func(z *crdt.ZSet) { s, _ = z.Score("p") })
		return mapsEq(hashOf(t, b, "h2"), want) && s == 3.5
	})
	for _, n := range []*Node{a, b} {
		if ty, _ := n.KeyType(ctx, "h"); ty != "none" {
			t.Fatalf("renamed source is a %s", ty)
		}
		if _, _, has, _ := n.TTL(ctx, "h2"); !has {
			t.Fatal("RENAME dropped the expiry")
		}
	}
}

// TestLargeCollectionSnapshot: a collection bigger than MaxValueSize reaches a node that needs
// it by snapshot (its writer's log no longer covers it).
func TestLargeCollectionSnapshot(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a := net.addWith(t, "a", nil, replConfig{LogBytes: 64 << 10})
	val := strings.Repeat("v", 8<<10)
	const fields = 300 // ~2.4 MB, over the 1 MiB value limit
	for i := range fields {
		hset(t, a, "big", fmt.Sprint("f", i), val)
	}
	b := net.add(t, "b", nil)
	waitFor(t, func() bool { return len(hashOf(t, b, "big")) == fields })
	if a.ReplicationStats().SnapshotsSent == 0 {
		t.Fatal("no snapshot was sent: the test did not exercise the snapshot path")
	}
}
