package crdt

import (
	"bytes"
	"strconv"
	"testing"
)

// TestWarmChangesNothing warms a set large enough to be walked, a hash and a sorted set with
// names present, absent and removed, more than WarmMax of them, and checks that each state
// encodes as before and still finds what it held.
func TestWarmChangesNothing(t *testing.T) {
	const n = WarmMinElems + 500
	s, h, z := NewSet(Version{}), NewHash(Version{}), NewZSet(Version{})
	var names []string
	for i := range n {
		m := "m" + strconv.Itoa(i)
		ver := Version{TS: Timestamp(i + 1), Replica: ReplicaID(1 + i%3)}
		s.Add(ver, m)
		h.Set(ver, [2][]byte{[]byte(m), []byte("v")})
		z.Add(ver, m, float64(i))
		if i%100 == 0 {
			names = append(names, m, "absent"+strconv.Itoa(i))
		}
	}
	s.Rem(names[0])
	if s.c.elems.len() < WarmMinElems || s.c.elems.inl {
		t.Fatalf("set of %d elements is not walked by warm", s.c.elems.len())
	}
	before := [][]byte{s.AppendBinary(nil), h.AppendBinary(nil), z.AppendBinary(nil)}
	for i := 0; i < len(names); i += WarmMax / 2 {
		s.Warm(names[i:])
		h.Warm(names[i:])
		z.Warm(names[i:])
	}
	after := [][]byte{s.AppendBinary(nil), h.AppendBinary(nil), z.AppendBinary(nil)}
	for i := range before {
		if !bytes.Equal(before[i], after[i]) {
			t.Fatalf("state %d encodes differently after Warm", i)
		}
	}
	for i, m := range names {
		if want := i%2 == 0 && i > 0; s.Has(m) != want {
			t.Fatalf("set has %q: %v, want %v", m, !want, want)
		}
	}
}
