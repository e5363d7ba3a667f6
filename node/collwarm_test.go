package node

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// TestBatchOfOneCollectionMatchesOneByOne applies a writer's deltas to a large set (large
// enough for its elements to be warmed), a hash and a small set, in random frames where runs
// of deltas to one key are merged as one (applyDeltas, mergeRun: warmed, under one lock and
// one store update, stopped by an expiry written or a new incarnation), and one delta at a
// time to another replica: both must end with the same states.
func TestBatchOfOneCollectionMatchesOneByOne(t *testing.T) {
	t.Parallel()
	src, sent := recordingNode(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	sadd := func(key, m string) {
		src.UpdateSet(ctx, key, true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), m)
			return d
		})
	}
	const big = 10000
	for i := range big {
		sadd("s", "m"+strconv.Itoa(i))
	}
	for range 20000 {
		m := "m" + strconv.Itoa(rng.IntN(big+2000))
		switch k := rng.IntN(10); {
		case k < 6:
			sadd("s", m)
		case k < 8:
			src.UpdateSet(ctx, "s", false, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
				stamp()
				_, d := s.Rem(m)
				return d
			})
		case k < 9:
			src.UpdateHash(ctx, "h", true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
				return h.Set(stamp(), [2][]byte{[]byte(m), []byte(strconv.Itoa(k))})
			})
		default:
			switch rng.IntN(50) {
			case 0: // a new incarnation of t in the middle of a run of its deltas
				src.Delete(ctx, "t")
			case 1: // the expiry written in the middle of a run
				src.Expire(ctx, "t", time.Now().Add(time.Hour+time.Duration(rng.IntN(1000))*time.Second))
			case 2:
				src.Persist(ctx, "t")
			}
			sadd("t", m)
		}
	}
	deltas := *sent
	batched := newMemNet().add(t, "b", nil)
	single := newMemNet().add(t, "o", nil)
	for i := 0; i < len(deltas); {
		j := min(len(deltas), i+1+rng.IntN(100))
		if got := batched.repl.applyBatch(deltas[i:j], true); got != j-i {
			t.Fatalf("batch of %d applied %d", j-i, got)
		}
		for k := i; k < j; k++ {
			if single.repl.applyBatch(deltas[k:k+1], true) != 1 {
				t.Fatalf("delta %d not applied", k)
			}
		}
		i = j
	}
	// The replicas keep removed writes the writer has collected (their stability differs),
	// so the two replicas' states are compared whole, and their elements with the writer's.
	for _, key := range []string{"s", "h", "t"} {
		got, want := batched.mustColl(t, key), single.mustColl(t, key)
		if !bytes.Equal(got.encode(), want.encode()) {
			t.Fatalf("%s: batched and one-by-one replicas differ", key)
		}
		if g, w := elemsOf(got), elemsOf(src.mustColl(t, key)); g != w {
			t.Fatalf("%s: replica holds %d bytes of elements, writer %d, or they differ", key, len(g), len(w))
		}
	}
	if n := src.mustColl(t, "s").length(); n < big/2 {
		t.Fatalf("set of %d members: too small to be warmed", n)
	}
}

// mustColl returns key's collection.
func (n *Node) mustColl(t *testing.T, key string) *coll {
	t.Helper()
	v, _, ok := n.store.Peek(key, n.nowMs())
	if !ok || v.obj() == nil {
		t.Fatalf("%s: no collection", key)
	}
	return v.obj()
}

// elemsOf lists c's elements (and a hash's values) in order, as one string.
func elemsOf(c *coll) string {
	var b strings.Builder
	var names []string
	switch c.typ {
	case crdt.TypeSet:
		c.set.Range(func(m string) bool { names = append(names, m); return true })
	case crdt.TypeHash:
		c.hash.Range(func(f string, v []byte) bool { names = append(names, f+"="+string(v)); return true })
	}
	slices.Sort(names)
	for _, m := range names {
		b.WriteString(m + "\n")
	}
	return b.String()
}

// TestBigCollectionTurnsWarmingOn: a small store is not warmed, until a collection large
// enough for its elements to be warmed is written; the janitor's pass turns it off again and
// the next write of that collection back on.
func TestBigCollectionTurnsWarmingOn(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	sadd := func(ms ...string) {
		n.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), ms...)
			return d
		})
	}
	var ms []string
	for i := range crdt.WarmMinElems - 1 {
		ms = append(ms, "m"+strconv.Itoa(i))
	}
	sadd(ms...)
	n.sweep(n.nowMs())
	if n.Warming() {
		t.Fatalf("a store of one set of %d members is warmed", len(ms))
	}
	sadd("last")
	if !n.Warming() {
		t.Fatalf("a set of %d members written: not warmed", crdt.WarmMinElems)
	}
	n.sweep(n.nowMs())
	if n.Warming() {
		t.Fatal("still warmed after the janitor's pass")
	}
	sadd("m1")
	if !n.Warming() {
		t.Fatal("the set written again: not warmed")
	}
}
