package crdt

import (
	"slices"
	"testing"
)

// A replica's apply of an encoded element delta allocates only what it stores. Its view of
// the delta (elements, tombstones, dots: ~350 B) once escaped to the heap per delta, on a
// cluster node the receiving peers' hottest allocation; these pin it off the heap.

// allocCase is a collection type's writer, making encoded deltas, and its replica.
type allocCase struct {
	name string
	// overwrite is what applying a new write of a held element allocates: what it stores.
	// A sorted set's record holds its name and score in one string (elems.go), so a new
	// score is a new string; a hash's same value is kept, and a set stores no payload.
	overwrite float64
	// compacted is overwrite when the replaced write's element has no tombstone (collected
	// since): the new tombstone's entry goes in the map's free slot, its one dot inline
	// (dotSet.first; it was a 16-byte slice) and its name the element's stored one
	// (sharedName), not a copy.
	compacted float64
	write     func(ts Timestamp) []byte // the encoded delta of a write of "member:1" at ts (a one-byte name would not allocate: Go interns those)
	apply     func(src []byte) error    // into the replica
	stable    func(ts Timestamp)        // the replica's compaction, as the node's stability pass
}

func allocCases() []allocCase {
	h, hr := NewHash(Version{}), NewHash(Version{})
	s, sr := NewSet(Version{}), NewSet(Version{})
	z, zr := NewZSet(Version{}), NewZSet(Version{})
	dot := func(ts Timestamp) Version { return Version{TS: ts, Replica: 1} }
	return []allocCase{
		{"hash", 0, 0, func(ts Timestamp) []byte {
			return h.Set(dot(ts), [2][]byte{[]byte("member:1"), []byte("value")}).AppendBinary(nil)
		}, hr.ApplyDelta, hr.Compact},
		{"set", 0, 0, func(ts Timestamp) []byte {
			_, d := s.Add(dot(ts), "member:1")
			return d.AppendBinary(nil)
		}, sr.ApplyDelta, sr.Compact},
		{"zset", 1, 1, func(ts Timestamp) []byte {
			return z.Add(dot(ts), "member:1", float64(ts)).AppendBinary(nil)
		}, zr.ApplyDelta, zr.Compact},
	}
}

func TestApplyDeltaAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	const runs = 100
	for _, c := range allocCases() {
		t.Run(c.name, func(t *testing.T) {
			ts := Timestamp(1)
			d := c.write(ts)
			if err := c.apply(d); err != nil {
				t.Fatal(err)
			}
			// A delta the replica already holds: parsed and merged, nothing stored.
			if n := testing.AllocsPerRun(runs, func() {
				if err := c.apply(d); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("re-applying a held delta: %v allocations, want 0", n)
			}
			// New writes of the held element, each replacing the last.
			var ws [][]byte
			for i := 0; i <= runs; i++ {
				ts++
				ws = append(ws, c.write(ts))
			}
			i := 0
			n := testing.AllocsPerRun(runs, func() {
				if err := c.apply(ws[i]); err != nil {
					t.Fatal(err)
				}
				i++
			})
			if n != c.overwrite {
				t.Errorf("applying an overwrite of a held element: %v allocations, want %v", n, c.overwrite)
			}
			// Each write applied after a compaction that collected the last one's tombstone,
			// as a node compacts a collection before applying a delta to it.
			ws = ws[:0]
			for i := 0; i <= runs; i++ {
				ts++
				ws = append(ws, c.write(ts))
			}
			i = 0
			n = testing.AllocsPerRun(runs, func() {
				c.stable(ts - Timestamp(runs+1) + Timestamp(i))
				if err := c.apply(ws[i]); err != nil {
					t.Fatal(err)
				}
				i++
			})
			if n != c.compacted {
				t.Errorf("applying an overwrite after a compaction: %v allocations, want %v", n, c.compacted)
			}
		})
	}
}

// TestSharedNameKeepsNoLargeValue checks that a tombstone shares a held element's stored name
// only when that keeps at most sharedTail bytes of value alive, and that the tombstone then
// outlives the element's next write with the right name.
func TestSharedNameKeepsNoLargeValue(t *testing.T) {
	for _, c := range []struct {
		value  string
		shared bool
	}{{"", true}, {"12345678", true}, {"123456789", false}} {
		var tab elemTab[[]byte]
		i := tab.put("field", []Dotted[[]byte]{{Dot: Version{TS: 1, Replica: 1}, P: []byte(c.value)}})
		got := tab.sharedName(i)
		if c.shared && got != "field" || !c.shared && got != "" {
			t.Errorf("value %q: sharedName %q, want shared %v", c.value, got, c.shared)
		}
	}
	h, r := NewHash(Version{}), NewHash(Version{})
	for ts := Timestamp(1); ts <= 3; ts++ {
		d := h.Set(Version{TS: ts, Replica: 1}, [2][]byte{[]byte("field"), {'v', byte('0' + ts)}})
		if err := r.ApplyDelta(d.AppendBinary(nil)); err != nil {
			t.Fatal(err)
		}
	}
	ts, _ := r.c.tomb.get("field")
	if got, want := ts.sorted(new([1]Version)), []Version{{TS: 1, Replica: 1}, {TS: 2, Replica: 1}}; !slices.Equal(got, want) {
		t.Errorf("tombstones of field %v, want %v", got, want)
	}
	if v, ok := r.Get("field"); !ok || string(v) != "v3" {
		t.Errorf("field = %q, %v, want v3", v, ok)
	}
}

// TestLocalWriteAllocs pins a writer's allocations per rewrite of a held element with the
// same payload, its prior write already stable (compacted, as the node does before a write):
// the delta only, its state and the room for its one op in one allocation (withOp); they
// were two.
func TestLocalWriteAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	dot := func(ts Timestamp) Version { return Version{TS: ts, Replica: 1} }
	h, s, z := NewHash(Version{}), NewSet(Version{}), NewZSet(Version{})
	pair := [2][]byte{[]byte("member:1"), []byte("value")}
	for _, c := range []struct {
		name   string
		write  func(ts Timestamp) (int, []byte)
		stable func(ts Timestamp)
	}{
		{"hash", func(ts Timestamp) (int, []byte) { return h.Len(), h.Set(dot(ts), pair).AppendBinary(nil) }, h.Compact},
		{"set", func(ts Timestamp) (int, []byte) {
			_, d := s.Add(dot(ts), "member:1")
			return s.Len(), d.AppendBinary(nil)
		}, s.Compact},
		{"zset", func(ts Timestamp) (int, []byte) { return z.Len(), z.Add(dot(ts), "member:1", 1).AppendBinary(nil) }, z.Compact},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.write(1)
			ts := Timestamp(1)
			n := testing.AllocsPerRun(100, func() {
				c.stable(ts + 1)
				ts++
				if h.Len() > 1 || s.Len() > 1 || z.Len() > 1 {
					t.Fatal("a rewrite added an element")
				}
				switch c.name {
				case "hash":
					h.Set(dot(ts), pair)
				case "set":
					s.Add(dot(ts), "member:1")
				default:
					z.Add(dot(ts), "member:1", 1)
				}
			})
			if n != 1 {
				t.Errorf("a rewrite: %v allocations, want 1 (the delta)", n)
			}
			// The one-allocation delta encodes as before: the element and the removed write.
			got, enc := c.write(ts + 1)
			if got != 1 || len(enc) == 0 {
				t.Fatalf("len %d after a rewrite", got)
			}
		})
	}
}

// TestScratchDelta: an armed scratch is the next write's delta (no allocation), is used once
// (a second write of the command gets a delta of its own, which the first still encodes
// apart from), and encodes as an allocated delta does.
func TestScratchDelta(t *testing.T) {
	dot := func(ts Timestamp) Version { return Version{TS: ts, Replica: 1} }
	h := NewHash(Version{})
	var sc HashScratch
	pair := func(v string) [2][]byte { return [2][]byte{[]byte("member:1"), []byte(v)} }
	ts := Timestamp(0)
	if !testing.Short() {
		p := pair("v")
		h.Set(dot(1), p)
		ts = 1
		n := testing.AllocsPerRun(100, func() {
			ts++
			h.Compact(ts)
			h.UseScratch(&sc)
			h.Set(dot(ts), p)
		})
		if n != 0 {
			t.Errorf("a rewrite into an armed scratch: %v allocations, want 0", n)
		}
	}
	for _, v := range []string{"a", "b"} {
		ref := h.Clone()
		ts++
		h.UseScratch(&sc)
		d1 := h.Set(dot(ts), pair(v))
		r1 := ref.Set(dot(ts), pair(v)).AppendBinary(nil)
		ts++
		d2 := h.Set(dot(ts), [2][]byte{[]byte("other"), []byte(v)})
		if d1 == d2 || d1 != &sc.x.s {
			t.Fatalf("the scratch was not used once: d1 %p d2 %p", d1, d2)
		}
		if e1 := d1.AppendBinary(nil); string(e1) != string(r1) {
			t.Fatalf("the scratch delta encodes %x, an allocated one %x", e1, r1)
		}
		if len(d2.AppendBinary(nil)) == 0 {
			t.Fatal("the second delta is empty")
		}
	}
}
