package lru

import (
	"fmt"
	"testing"
)

// floorOf returns the Floor Apply presents for an absent key.
func floorOf(c *Cache[string, uint64], key string) uint64 {
	cur, _ := c.Apply(key, 0, func(Current[uint64]) Update[uint64] { return Update[uint64]{} })
	return cur.Floor
}

func TestTombstonesFromEviction(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, uint64]{MaxEntries: 1, Shards: 1, Stamp: func(v uint64) uint64 { return v }})
	c.Set("a", 10, 0, 0)
	c.Set("b", 20, 0, 0) // evicts a
	if f := floorOf(c, "a"); f != 10 {
		t.Fatalf("floor of evicted key = %d, want 10", f)
	}
	if f := floorOf(c, "never"); f != 0 {
		t.Fatalf("floor of unknown key = %d, want 0", f)
	}
	c.Set("a", 30, 0, 0) // re-insert removes a's tombstone, evicts b
	if st := c.Stats(); st.Tombstones != 1 || st.Evictions != 2 {
		t.Fatalf("stats %+v, want 1 tombstone (b) and 2 evictions", st)
	}
	c.Set("b", 5, 0, 0) // evicts a again, leaving stamp 30; b's tombstone (20) removed
	if f := floorOf(c, "a"); f != 30 {
		t.Fatalf("floor %d, want 30", f)
	}
	// Without Stamp there are no tombstones.
	n := mustNew(t, Options[string, uint64]{MaxEntries: 1, Shards: 1})
	n.Set("a", 1, 0, 0)
	n.Set("b", 1, 0, 0)
	if n.Stats().Tombstones != 0 {
		t.Fatal("tombstone without Stamp")
	}
}

// TestTombstoneBoundAndFloor: when the bound is hit the lowest stamps go, the floor rises to
// the highest stamp dropped, and absent keys see max(own tombstone, floor).
func TestTombstoneBoundAndFloor(t *testing.T) {
	t.Parallel()
	const bound = 16
	c := mustNew(t, Options[string, uint64]{MaxEntries: 1, Shards: 1, MaxTombstones: bound,
		Stamp: func(v uint64) uint64 { return v }})
	// Evict keys k0..k99 with stamps 100..199 (k(i) evicted by k(i+1)).
	for i := range 101 {
		c.Set(fmt.Sprint("k", i), uint64(100+i), 0, 0)
		if st := c.Stats(); st.Tombstones > bound {
			t.Fatalf("%d tombstones over bound %d", st.Tombstones, bound)
		}
	}
	st := c.Stats()
	if st.TombstonesDropped+st.Tombstones != 100 {
		t.Fatalf("dropped %d + kept %d != 100 evictions", st.TombstonesDropped, st.Tombstones)
	}
	floor := c.Floor()
	if floor == 0 || floor != st.Floor {
		t.Fatalf("floor %d (stats %d) not raised", floor, st.Floor)
	}
	// Kept tombstones are exactly the stamps above the floor.
	if got := uint64(199 - floor); got != st.Tombstones {
		t.Fatalf("floor %d with %d tombstones kept; want stamps floor+1..199", floor, st.Tombstones)
	}
	for i := range 100 {
		stamp := uint64(100 + i)
		want := max(stamp, floor)
		if stamp <= floor {
			want = floor
		}
		if got := floorOf(c, fmt.Sprint("k", i)); got != want {
			t.Fatalf("k%d: floor %d, want %d", i, got, want)
		}
	}
	if got := floorOf(c, "never"); got != floor {
		t.Fatalf("unknown key floor %d, want global floor %d", got, floor)
	}
	// A stamp at or below the floor adds nothing.
	c.Set("low", 1, 0, 0) // evicts k100 (stamp 200)
	c.Set("x", 0, 0, 0)   // evicts low (stamp 1 <= floor)
	if got := floorOf(c, "k100"); got != 200 {
		t.Fatalf("k100 floor %d, want 200", got)
	}
	if got, f := floorOf(c, "low"), c.Floor(); got != f {
		t.Fatalf("low floor %d, want the global floor %d", got, f)
	}
	checkInvariants(t, c)
}

func TestCollectTombstones(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, uint64]{MaxEntries: 1, Shards: 1, Stamp: func(v uint64) uint64 { return v }})
	for i := range 11 {
		c.Set(fmt.Sprint(i), uint64(i+1), 0, 0) // tombstones 1..10
	}
	if got := c.CollectTombstones(6); got != 5 {
		t.Fatalf("collected %d, want 5 (stamps 1..5)", got)
	}
	st := c.Stats()
	if st.Tombstones != 5 || st.TombstonesCollected != 5 || st.TombstonesDropped != 0 || st.Floor != 0 {
		t.Fatalf("stats %+v", st)
	}
	if f := floorOf(c, "2"); f != 0 {
		t.Fatalf("collected tombstone still seen: %d", f)
	}
	if f := floorOf(c, "7"); f != 8 {
		t.Fatalf("kept tombstone: floor %d, want 8", f)
	}
	if got := c.CollectTombstones(0); got != 0 {
		t.Fatalf("collected %d below 0", got)
	}
}
