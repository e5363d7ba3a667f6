package crdt

import (
	"bytes"
	"strconv"
	"testing"
)

// TestDeltaElem reads the first element a delta applies of each kind of delta a write makes,
// and nothing from a delta of no element or from malformed input.
func TestDeltaElem(t *testing.T) {
	v := func(ts int) Version { return Version{TS: Timestamp(ts), Replica: 1} }
	s := NewSet(Version{})
	s.Add(v(1), "a", "b")
	_, add := s.Add(v(2), "m2", "m1")
	_, rem := s.Rem("b")
	h := NewHash(Version{})
	hset := h.Set(v(3), [2][]byte{[]byte("field"), []byte("value")})
	z := NewZSet(Version{})
	zadd := z.Add(v(4), "member", 1.5)
	full := s.AppendBinary(nil)
	for _, c := range []struct {
		name string
		src  []byte
		want string
	}{
		{"sadd", add.AppendBinary(nil), "m1"}, // elements are encoded in order
		{"srem", rem.AppendBinary(nil), "b"},
		{"hset", hset.AppendBinary(nil), "field"},
		{"zadd", zadd.AppendBinary(nil), "member"},
		{"state", full, "a"},
		{"expiry", s.SetExpiry(v(5), 1000).AppendBinary(nil), ""},
		{"truncated", full[:len(full)-2], "a"}, // only the first element is read
		{"cut in the name", full[:bytes.Index(full, []byte("a"))], ""},
		{"empty", nil, ""},
		{"not a collection", []byte{0xff, 0, 0}, ""},
	} {
		if got := DeltaElem(c.src); got != c.want {
			t.Errorf("%s: DeltaElem = %q, want %q", c.name, got, c.want)
		}
	}
}

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
