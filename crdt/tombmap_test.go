package crdt

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestTombsRandom drives tombs (one removed write inline, then a map) through random adds,
// drops and clones against a map of sets: the spill of the inline write to the map, a
// second dot of the inline element, and the inline write dropped and taken again.
func TestTombsRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"a", "b", "c"}
	spilled := 0
	for round := 0; round < 400; round++ {
		var tb tombs
		ref := map[string]map[Version]bool{}
		for step := 0; step < 30; step++ {
			switch k := rng.IntN(10); {
			case k < 6:
				e := names[rng.IntN(len(names))]
				d := Version{TS: Timestamp(1 + rng.IntN(30)), Replica: ReplicaID(rng.IntN(2))}
				newElem, added := tb.add(e, d)
				if newElem != (ref[e] == nil) || added == ref[e][d] {
					t.Fatalf("round %d: add(%s, %v) = %v, %v against %v", round, e, d, newElem, added, ref[e])
				}
				if ref[e] == nil {
					ref[e] = map[Version]bool{}
				}
				ref[e][d] = true
			case k < 8:
				cut := Timestamp(rng.IntN(30))
				wd, we, wn := 0, 0, 0
				for e, ds := range ref {
					for d := range ds {
						if d.TS < cut {
							delete(ds, d)
							wd++
						}
					}
					if len(ds) == 0 {
						delete(ref, e)
						we++
						wn += len(e)
					}
				}
				if d, e, n := tb.dropBelow(cut); d != wd || e != we || n != wn {
					t.Fatalf("round %d: dropBelow(%d) = %d, %d, %d, want %d, %d, %d", round, cut, d, e, n, wd, we, wn)
				}
			default:
				c := tb.clone()
				c.add("z", Version{TS: 99, Replica: 9})
				c.dropBelow(1 << 40)
			}
			if tb.m != nil {
				spilled++
			} else if tb.len() > 1 {
				t.Fatalf("round %d: %d elements inline", round, tb.len())
			}
			var want, got []string
			for e := range ref {
				want = append(want, e)
			}
			slices.Sort(want)
			var buf [1]string
			got = append(got, tb.sortedNames(&buf)...)
			if tb.len() != len(ref) || !slices.Equal(got, want) || tb.has("z") {
				t.Fatalf("round %d step %d: elements %v (len %d), want %v", round, step, got, tb.len(), want)
			}
			n := 0
			tb.each(func(e string, ds dotSet) bool {
				n++
				var vb [1]Version
				var w []Version
				for d := range ref[e] {
					w = append(w, d)
				}
				slices.SortFunc(w, Version.Compare)
				if g, ok := tb.getBytes([]byte(e)); !ok || !slices.Equal(ds.sorted(&vb), w) || g.len() != len(w) {
					t.Fatalf("round %d: %s's dots %v, want %v", round, e, ds.sorted(&vb), w)
				}
				return true
			})
			if n != len(ref) {
				t.Fatalf("round %d: each visited %d, want %d", round, n, len(ref))
			}
		}
	}
	if spilled == 0 {
		t.Fatal("no state spilled to the map: the test does not reach it")
	}
}

// TestOneRemovedWriteInline: a rewrite of one element of a hash keeps its removed write in
// the state, with no map; a second removed write moves both to the map, and the encodings of
// the state and of one decoded from it agree throughout.
func TestOneRemovedWriteInline(t *testing.T) {
	h := NewHash(Version{})
	dot := func(ts Timestamp) Version { return Version{TS: ts, Replica: 1} }
	h.Set(dot(1), [2][]byte{[]byte("f"), []byte("v1")})
	h.Set(dot(2), [2][]byte{[]byte("f"), []byte("v2")})
	if h.c.tomb.m != nil || h.Tombstones() != 1 {
		t.Fatalf("one removed write: map %v, %d tombstones", h.c.tomb.m != nil, h.Tombstones())
	}
	check := func(what string) {
		t.Helper()
		enc := h.AppendBinary(nil)
		r, err := DecodeHash(enc)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := r.AppendBinary(nil); string(got) != string(enc) {
			t.Fatalf("%s: a decoded copy encodes differently", what)
		}
	}
	check("inline")
	h.Set(dot(3), [2][]byte{[]byte("g"), []byte("x")})
	h.Set(dot(4), [2][]byte{[]byte("g"), []byte("y")})
	if h.c.tomb.m == nil || h.Tombstones() != 2 || h.c.tomb.len() != 2 {
		t.Fatalf("two removed writes: map %v, %d tombstones", h.c.tomb.m != nil, h.Tombstones())
	}
	check("spilled")
	h.Compact(3)
	if h.Tombstones() != 1 || h.c.tomb.has("f") || !h.c.tomb.has("g") {
		t.Fatalf("after compaction at 3: %d tombstones", h.Tombstones())
	}
	check("compacted")
}

// TestTombsFilterNeverMisses: past tombFilterMin names the map's look-ups are filtered; with
// names added and dropped at random (the filter made, doubled, rebuilt, cloned), every name
// the map holds is still found, and most names it does not hold are ruled out by the filter.
func TestTombsFilterNeverMisses(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(21, 22))
	var tb tombs
	held := map[string]Version{}
	for step := 0; step < 20000; step++ {
		name := "m" + strconv.Itoa(rng.IntN(8000))
		d := Version{TS: Timestamp(step + 1), Replica: 1}
		tb.add(name, d)
		if _, ok := held[name]; !ok {
			held[name] = d // its first removed dot: dropBelow drops the name with its last
		}
		if rng.IntN(3000) == 0 {
			ts := Timestamp(rng.IntN(step + 1))
			tb.dropBelow(ts)
			for e := range held {
				if ds, ok := tb.m[e]; !ok || ds.len() == 0 {
					delete(held, e)
				}
			}
		}
		if rng.IntN(5000) == 0 {
			tb = tb.clone()
		}
	}
	if tb.f == nil {
		t.Fatalf("%d names and no filter", len(tb.m))
	}
	for e := range tb.m {
		if _, ok := tb.get(e); !ok {
			t.Fatalf("%q held, not found", e)
		}
		if _, ok := tb.getBytes([]byte(e)); !ok {
			t.Fatalf("%q held, not found by bytes", e)
		}
	}
	passed := 0
	for i := range 10000 {
		if tb.mayHold("absent" + strconv.Itoa(i)) {
			passed++
		}
	}
	if passed > 1000 {
		t.Fatalf("the filter let %d of 10000 absent names through", passed)
	}
}
