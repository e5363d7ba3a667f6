package crdt

import "testing"

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
	write     func(ts Timestamp) []byte // the encoded delta of a write of "m" at ts
	apply     func(src []byte) error    // into the replica
}

func allocCases() []allocCase {
	h, hr := NewHash(Version{}), NewHash(Version{})
	s, sr := NewSet(Version{}), NewSet(Version{})
	z, zr := NewZSet(Version{}), NewZSet(Version{})
	dot := func(ts Timestamp) Version { return Version{TS: ts, Replica: 1} }
	return []allocCase{
		{"hash", 0, func(ts Timestamp) []byte {
			return h.Set(dot(ts), [2][]byte{[]byte("m"), []byte("value")}).AppendBinary(nil)
		}, hr.ApplyDelta},
		{"set", 0, func(ts Timestamp) []byte {
			_, d := s.Add(dot(ts), "m")
			return d.AppendBinary(nil)
		}, sr.ApplyDelta},
		{"zset", 1, func(ts Timestamp) []byte {
			return z.Add(dot(ts), "m", float64(ts)).AppendBinary(nil)
		}, zr.ApplyDelta},
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
		})
	}
}
