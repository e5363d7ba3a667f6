package crdt

import (
	"slices"
	"testing"
)

// TestDotSetSmallAndBig: membership, dropBelow and sorted agree with a naive reference on both
// sides of the slice-to-map switch.
func TestDotSetSmallAndBig(t *testing.T) {
	for _, n := range []int{3, smallDots, smallDots + 1, 100} {
		var s dotSet
		var ref []Version
		for i := n; i > 0; i-- {
			d := Version{TS: Timestamp(i * 10), Replica: ReplicaID(i % 3)}
			if !s.add(d) || s.add(d) {
				t.Fatalf("n=%d: add(%v) not new once", n, d)
			}
			ref = append(ref, d)
		}
		if s.len() != n || !s.has(ref[0]) || s.has(Version{TS: 5}) {
			t.Fatalf("n=%d: len %d, membership wrong", n, s.len())
		}
		c := s.clone()
		cut := Timestamp(n/2*10 + 1)
		dropped := s.dropBelow(cut)
		ref = slices.DeleteFunc(ref, func(d Version) bool { return d.TS < cut })
		slices.SortFunc(ref, Version.Compare)
		if dropped != n-len(ref) || !slices.Equal(s.sorted(), ref) {
			t.Fatalf("n=%d: dropBelow(%d) dropped %d, left %v, want %v", n, cut, dropped, s.sorted(), ref)
		}
		if c.len() != n {
			t.Fatalf("n=%d: the clone shares state (len %d)", n, c.len())
		}
	}
}
