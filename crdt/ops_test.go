package crdt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// A delta made by local writes is encoded from its ops; the bytes must be those of the same
// delta settled into maps (what every decoder and older encoder saw), including writes that
// observed several concurrent dots and a field written twice in one command.
func TestOpsDeltaEncodesAsSettled(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a, b := NewHash(Version{}), NewHash(Version{})
	sa, sb := NewSet(Version{}), NewSet(Version{})
	za, zb := NewZSet(Version{}), NewZSet(Version{})
	for i := 1; i <= 400; i++ {
		// Two replicas write concurrently, then exchange, so elements hold two dots.
		da := a.Set(Version{TS: Timestamp(i), Replica: 1}, [2][]byte{[]byte(fmt.Sprint("f", rng.IntN(20))), []byte("x")},
			[2][]byte{[]byte(fmt.Sprint("f", rng.IntN(20))), []byte("y")}, [2][]byte{[]byte("f1"), []byte("z")})
		db := b.Set(Version{TS: Timestamp(i), Replica: 2}, [2][]byte{[]byte(fmt.Sprint("f", rng.IntN(20))), []byte("w")})
		for _, d := range []*Hash{da, db} {
			got := d.AppendBinary(nil)
			c := d.Clone() // settles d
			if want := c.AppendBinary(nil); !bytes.Equal(got, want) {
				t.Fatalf("write %d: ops encode %x, settled %x", i, got, want)
			}
		}
		a.Join(db)
		b.Join(da)
		_, ea := sa.Add(Version{TS: Timestamp(i), Replica: 1}, fmt.Sprint("m", rng.IntN(9)), "m1", "m1")
		_, eb := sb.Add(Version{TS: Timestamp(i), Replica: 2}, fmt.Sprint("m", rng.IntN(9)))
		for _, d := range []*Set{ea, eb} {
			got := d.AppendBinary(nil)
			if want := d.Clone().AppendBinary(nil); !bytes.Equal(got, want) {
				t.Fatalf("sadd %d: ops encode %x, settled %x", i, got, want)
			}
		}
		sa.Join(eb)
		sb.Join(ea)
		ya := za.Add(Version{TS: Timestamp(i), Replica: 1}, fmt.Sprint("m", rng.IntN(9)), float64(rng.IntN(5)))
		yb := zb.Add(Version{TS: Timestamp(i), Replica: 2}, fmt.Sprint("m", rng.IntN(9)), float64(rng.IntN(5)))
		for _, d := range []*ZSet{ya, yb} {
			got := d.AppendBinary(nil)
			if want := d.Clone().AppendBinary(nil); !bytes.Equal(got, want) {
				t.Fatalf("zadd %d: ops encode %x, settled %x", i, got, want)
			}
		}
		za.Join(yb)
		zb.Join(ya)
	}
	if !bytes.Equal(a.AppendBinary(nil), b.AppendBinary(nil)) || !bytes.Equal(sa.AppendBinary(nil), sb.AppendBinary(nil)) || !bytes.Equal(za.AppendBinary(nil), zb.AppendBinary(nil)) {
		t.Fatal("replicas exchanging ops deltas diverged")
	}
	if a.Len() == 0 || sa.Len() == 0 || za.Len() == 0 {
		t.Fatal("empty replicas")
	}
}

// A command writing one element twice ships its last write, as the local state holds it.
func TestOpsDeltaRepeatedElement(t *testing.T) {
	z := NewZSet(Version{})
	dot := Version{TS: 5, Replica: 1}
	d := z.AddTo(nil, dot, "m", 1)
	d = z.AddTo(d, dot, "m", 2)
	peer := NewZSet(Version{})
	peer.Join(d)
	if s, _ := peer.Score("m"); s != 2 {
		t.Fatalf("peer score %v, want 2", s)
	}
	if s, _ := z.Score("m"); s != 2 || z.Len() != 1 {
		t.Fatalf("local score %v len %d, want 2 and 1", s, z.Len())
	}
	h := NewHash(Version{})
	hd := h.Set(dot, [2][]byte{[]byte("f"), []byte("a")}, [2][]byte{[]byte("f"), []byte("b")})
	ph := NewHash(Version{})
	ph.Join(hd)
	if v, _ := ph.Get("f"); string(v) != "b" {
		t.Fatalf("peer hash f=%q, want b", v)
	}
}
