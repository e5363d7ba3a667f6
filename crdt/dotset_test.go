package crdt

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDotSetSmallAndBig: membership, dropBelow and sorted agree with a naive reference on both
// sides of the slice-to-map switch.
func TestDotSetSmallAndBig(t *testing.T) {
	for _, n := range []int{1, 2, 3, smallDots, smallDots + 1, 100} {
		var s dotSet
		var ref []Version
		for i := n; i > 0; i-- {
			d := Version{TS: Timestamp(i * 10), Replica: ReplicaID(i % 3)}
			if !s.add(d) || s.add(d) {
				t.Fatalf("n=%d: add(%v) not new once", n, d)
			}
			ref = append(ref, d)
		}
		if s.len() != n || !s.has(ref[0]) || s.has(Version{TS: 5}) || s.has(Version{}) {
			t.Fatalf("n=%d: len %d, membership wrong", n, s.len())
		}
		c := s.clone()
		cut := Timestamp(n/2*10 + 1)
		dropped := s.dropBelow(cut)
		ref = slices.DeleteFunc(ref, func(d Version) bool { return d.TS < cut })
		slices.SortFunc(ref, Version.Compare)
		var buf [1]Version
		if dropped != n-len(ref) || !slices.Equal(s.sorted(&buf), ref) {
			t.Fatalf("n=%d: dropBelow(%d) dropped %d, left %v, want %v", n, cut, dropped, s.sorted(&buf), ref)
		}
		if c.len() != n {
			t.Fatalf("n=%d: the clone shares state (len %d)", n, c.len())
		}
	}
}

// TestDotSetRandom drives a dotSet (its first dot held inline, then a slice, then a map)
// through random adds, drops and clones, against a map: the inline dot emptied by a drop
// while the slice holds dots, and filled again by the next add, must lose nothing.
func TestDotSetRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 300; round++ {
		var s dotSet
		ref := map[Version]bool{}
		for step := 0; step < 60; step++ {
			switch k := rng.IntN(10); {
			case k < 6:
				d := Version{TS: Timestamp(1 + rng.IntN(40)), Replica: ReplicaID(rng.IntN(3))}
				if got := s.add(d); got == ref[d] {
					t.Fatalf("round %d: add(%v) = %v with %v held", round, d, got, ref[d])
				}
				ref[d] = true
			case k < 8:
				cut := Timestamp(rng.IntN(40))
				want := 0
				for d := range ref {
					if d.TS < cut {
						delete(ref, d)
						want++
					}
				}
				if got := s.dropBelow(cut); got != want {
					t.Fatalf("round %d: dropBelow(%d) = %d, want %d", round, cut, got, want)
				}
			default:
				c := s.clone()
				c.add(Version{TS: 1000, Replica: 9}) // must not show in s
				c.dropBelow(1 << 40)
			}
			var want []Version
			for d := range ref {
				want = append(want, d)
			}
			slices.SortFunc(want, Version.Compare)
			var buf [1]Version
			if got := s.sorted(&buf); s.len() != len(ref) || !slices.Equal(got, want) {
				t.Fatalf("round %d step %d: len %d, dots %v, want %v", round, step, s.len(), got, want)
			}
			for _, d := range want {
				if !s.has(d) {
					t.Fatalf("round %d: has(%v) false", round, d)
				}
			}
			if s.has(Version{TS: 1000, Replica: 9}) {
				t.Fatalf("round %d: a clone's add shows in the original", round)
			}
		}
	}
}
