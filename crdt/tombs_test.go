package crdt

import (
	"bytes"
	"testing"
)

// A hot member added and removed in a loop while nothing is stable (stable time 0: a member
// silent but within the grace horizon) keeps its removed writes under the cap, and the visible
// state is the reference's at every step.
func TestCollectBoundsRemovedWritesWhileNothingStable(t *testing.T) {
	const limit = 100
	s := NewSet(Version{TS: 1, Replica: 1})
	for i := 2; i < 5000; i++ {
		dot := Version{TS: Timestamp(i), Replica: 1}
		if i%2 == 0 {
			s.Add(dot, "m", "keep")
		} else {
			s.Rem("m")
		}
		s.Collect(0, limit)
		if s.Tombstones() > limit {
			t.Fatalf("step %d: %d removed writes held, cap %d", i, s.Tombstones(), limit)
		}
		if want := i%2 == 0; s.Has("m") != want || !s.Has("keep") {
			t.Fatalf("step %d: has m %v, want %v; has keep %v", i, s.Has("m"), want, s.Has("keep"))
		}
	}
	if s.Tombstones() < limit-limit/8-1 {
		t.Fatalf("the cap dropped more than it needed: %d held", s.Tombstones())
	}
	// Bytes stays bounded too (elements and dots), not only the count.
	if b := s.Bytes(); b > 2*(limit*tombDotCost+tombCost+2*elemCost+16) {
		t.Fatalf("set charged %d bytes after 5000 writes of one member", b)
	}
}

// Collect forgets exactly the removed writes stamped before the stable time it is given; a
// cap below MinTombstoneCap counts as MinTombstoneCap.
func TestCollectAtStableTime(t *testing.T) {
	h := NewHash(Version{TS: 1, Replica: 1})
	for i := 10; i < 20; i++ {
		h.Set(Version{TS: Timestamp(i), Replica: 2}, [2][]byte{[]byte("f"), []byte{byte(i)}})
	}
	// Nine overwritten writes of f (TS 10..18) are removed; the write at 19 survives.
	if got := h.Tombstones(); got != 9 {
		t.Fatalf("tombstones %d, want 9", got)
	}
	if dropped := h.Collect(15, 1); dropped != 0 || h.Tombstones() != 4 || h.Floor() != 15 {
		t.Fatalf("Collect(15): cap dropped %d, %d held, floor %d; want 0, 4 (16,17,18... from 15), 15", dropped, h.Tombstones(), h.Floor())
	}
	if v, ok := h.Get("f"); !ok || v[0] != 19 {
		t.Fatalf("f = %v %v, want 19", v, ok)
	}
	h.Collect(10, 1) // an older stable time never lowers the floor
	if h.Floor() != 15 {
		t.Fatalf("floor lowered to %d", h.Floor())
	}
}

// Past the cap the causal context is coarsened: a late concurrent add stamped below the raised
// floor counts as observed and removed, and replicas still converge once they exchange full
// states (each drops what the other's floor covers).
func TestCollectCapCoarsensAndConverges(t *testing.T) {
	reset := Version{TS: 1, Replica: 1}
	a, b := NewZSet(reset), NewZSet(reset)
	a.MarkFull()
	b.MarkFull()
	// B adds x at TS 5 during a partition; A churns member y far past the cap.
	bd := b.Add(Version{TS: 5, Replica: 2}, "x", 1)
	for i := 10; i < 10+3*MinTombstoneCap; i++ {
		a.Add(Version{TS: Timestamp(i), Replica: 1}, "y", float64(i))
		a.Collect(0, MinTombstoneCap)
	}
	if a.Floor() <= 5 {
		t.Fatalf("floor %d: the cap did not coarsen past the late add", a.Floor())
	}
	// Under the cap a concurrent add would win (add-wins); below the raised floor it is lost.
	a.Join(bd)
	if _, ok := a.Score("x"); ok {
		t.Fatal("an add stamped below the raised floor was adopted")
	}
	a2, b2 := a.Clone(), b.Clone()
	a2.Join(b)
	b2.Join(a)
	if !bytes.Equal(a2.AppendBinary(nil), b2.AppendBinary(nil)) {
		t.Fatal("replicas differ after exchanging full states")
	}
	if _, ok := b2.Score("x"); ok {
		t.Fatal("B kept x below A's floor")
	}
	if s, ok := b2.Score("y"); !ok || s != float64(9+3*MinTombstoneCap) {
		t.Fatalf("y = %v %v", s, ok)
	}
	// A write above the floor is unaffected: the add-wins rule holds for it.
	b3 := b2.Add(Version{TS: a.Floor() + 1000, Replica: 2}, "z", 7)
	a2.Join(b3)
	if s, ok := a2.Score("z"); !ok || s != 7 {
		t.Fatalf("z = %v %v after the cap", s, ok)
	}
}

// Both replicas' caps raised their floors past a late add that only one holds: the other's full
// state must remove it whatever the receiver's own floor (equal to the sender's, or above it),
// through Join and through ApplyDelta's encoded path alike, so the two converge.
func TestCollectCapBothRaisedConverge(t *testing.T) {
	reset := Version{TS: 1, Replica: 1}
	for _, extra := range []int{0, 2 * MinTombstoneCap} { // b's floor equal to a's, then above
		a, b := NewSet(reset), NewSet(reset)
		a.MarkFull()
		b.MarkFull()
		b.Add(Version{TS: 5, Replica: 2}, "x") // b's late add, never seen by a
		// Both churn y with the same writes (b applies a's deltas), b more of its own after.
		for i := 10; i < 10+3*MinTombstoneCap; i++ {
			_, d := a.Add(Version{TS: Timestamp(i), Replica: 1}, "y")
			a.Collect(0, MinTombstoneCap)
			b.Join(d)
			b.Collect(0, MinTombstoneCap)
		}
		for i := 0; i < extra; i++ {
			b.Add(Version{TS: Timestamp(10 + 3*MinTombstoneCap + i), Replica: 2}, "y")
			b.Collect(0, MinTombstoneCap)
		}
		if a.Floor() <= 5 || b.Floor() < a.Floor() || !b.Has("x") || a.Has("x") {
			t.Fatalf("extra %d: floors a %d b %d, x on a %v on b %v", extra, a.Floor(), b.Floor(), a.Has("x"), b.Has("x"))
		}
		if extra == 0 && a.Floor() != b.Floor() {
			t.Fatalf("floors a %d b %d, want equal", a.Floor(), b.Floor())
		}
		aBytes, bBytes := a.AppendBinary(nil), b.AppendBinary(nil)
		a2, b2 := a.Clone(), b.Clone()
		a2.Join(b)
		b2.Join(a)
		a3, b3 := a.Clone(), b.Clone()
		if err := a3.ApplyDelta(bBytes); err != nil {
			t.Fatal(err)
		}
		if err := b3.ApplyDelta(aBytes); err != nil {
			t.Fatal(err)
		}
		want := a2.AppendBinary(nil)
		for name, s := range map[string]*Set{"b joins a": b2, "a applies b": a3, "b applies a": b3} {
			if got := s.AppendBinary(nil); !bytes.Equal(got, want) {
				t.Fatalf("extra %d: %s differs from a joining b", extra, name)
			}
			if s.Has("x") || !s.Has("y") {
				t.Fatalf("extra %d: %s: x %v y %v, want x removed (below a's floor), y kept", extra, name, s.Has("x"), s.Has("y"))
			}
		}
	}
}

// A partial state (not complete: element deltas only) whose floor is not above the receiver's
// does not remove the receiver's elements it lacks: it never held them (floorRules).
func TestPartialFloorRemovesNothingBelowReceivers(t *testing.T) {
	reset := Version{TS: 1, Replica: 1}
	c := NewSet(reset)
	c.MarkFull()
	c.Add(Version{TS: 5, Replica: 1}, "old")
	c.Compact(10)
	p := NewSet(reset) // partial: never marked full
	p.Add(Version{TS: 20, Replica: 2}, "new")
	p.Compact(10)
	for name, apply := range map[string]func(*Set){
		"Join":       func(s *Set) { s.Join(p) },
		"ApplyDelta": func(s *Set) { _ = s.ApplyDelta(p.AppendBinary(nil)) },
	} {
		s := c.Clone()
		apply(s)
		if !s.Has("old") || !s.Has("new") {
			t.Fatalf("%s: old %v new %v, want both", name, s.Has("old"), s.Has("new"))
		}
	}
}
