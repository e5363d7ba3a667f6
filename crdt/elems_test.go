package crdt

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestElemTabMatchesMap drives the compact element table and a map through random puts
// (inline and multi-write), deletes and clones, and checks every element, the count and the
// iteration against the map after each step. Over 3 names the table keeps its index in itself
// (s0); over 5 it moves to slots of its own and back each time it empties; over 3000 it grows
// past its first page.
func TestElemTabMatchesMap(t *testing.T) {
	for _, c := range []struct{ names, every int }{{3, 3}, {5, 3}, {3000, 997}} {
		t.Run(fmt.Sprint(c.names), func(t *testing.T) { elemTabMatchesMap(t, c.names, c.every) })
	}
}

func elemTabMatchesMap(t *testing.T, names, every int) {
	rng := rand.New(rand.NewPCG(7, uint64(names)))
	var tab elemTab[[]byte]
	ref := map[string][]Dotted[[]byte]{}
	var snap *elemTab[[]byte]
	var snapRef map[string][]Dotted[[]byte]
	check := func(step int, tab *elemTab[[]byte], ref map[string][]Dotted[[]byte]) {
		t.Helper()
		if tab.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(ref))
		}
		var buf [1]Dotted[[]byte]
		for e, want := range ref {
			got := tab.get(e, &buf)
			if !sameWrites(got, want) {
				t.Fatalf("step %d: %q holds %v, want %v", step, e, got, want)
			}
		}
		seen := map[string]bool{}
		tab.each(func(e string, ds []Dotted[[]byte]) bool {
			if seen[e] || !sameWrites(ds, ref[e]) {
				t.Fatalf("step %d: each gave %q %v (seen %v), want %v", step, e, ds, seen[e], ref[e])
			}
			seen[e] = true
			return true
		})
		if len(seen) != len(ref) {
			t.Fatalf("step %d: each visited %d, want %d", step, len(seen), len(ref))
		}
	}
	for step := 0; step < 20000; step++ {
		e := fmt.Sprintf("e%d", rng.IntN(names))
		if step%1000 == 999 {
			e = "" // the empty name is an element like any other
		}
		switch k := rng.IntN(10); {
		case k < 5:
			ds := []Dotted[[]byte]{{Dot: Version{TS: Timestamp(step), Replica: ReplicaID(rng.IntN(12))}, P: []byte(fmt.Sprint("v", rng.IntN(3)))}}
			if k == 0 {
				ds = append(ds, Dotted[[]byte]{Dot: Version{TS: Timestamp(step + 1), Replica: 99}, P: []byte{}})
			}
			if k == 1 {
				ds[0].P = []byte{}
			}
			tab.put(e, ds)
			ref[e] = slices.Clone(ds)
		default:
			_, was := ref[e]
			if got := tab.del(e); got != was {
				t.Fatalf("step %d: del(%q) %v, want %v", step, e, got, was)
			}
			delete(ref, e)
		}
		if step%every == 0 {
			check(step, &tab, ref)
			if snapRef != nil {
				check(step, snap, snapRef) // the clone is untouched by later writes
			}
			snap, snapRef = tab.clone(), maps.Clone(ref)
		}
	}
	check(-1, &tab, ref)
	for e := range ref {
		tab.del(e)
	}
	check(-2, &tab, map[string][]Dotted[[]byte]{})
}

func sameWrites(a, b []Dotted[[]byte]) bool {
	return slices.EqualFunc(a, b, func(x, y Dotted[[]byte]) bool {
		return x.Dot == y.Dot && string(x.P) == string(y.P) && (x.P == nil) == (y.P == nil)
	})
}

// A ZSet reset in place by value (the node's *c.zset = *NewZSet(v)) indexes its own members:
// its skiplist reads member names from its records, not from the copied-from value's.
func TestZSetCopiedByValue(t *testing.T) {
	z := NewZSet(Version{TS: 1, Replica: 1})
	z.Add(Version{TS: 2, Replica: 1}, "old", 5)
	*z = *NewZSet(Version{TS: 3, Replica: 1})
	for i, m := range []string{"c", "a", "b"} {
		z.Add(Version{TS: Timestamp(4 + i), Replica: 1}, m, float64(10-i))
	}
	var got []string
	z.Walk(0, false, func(m string, s float64) bool { got = append(got, fmt.Sprint(m, s)); return true })
	if want := []string{"b8", "a9", "c10"}; !slices.Equal(got, want) {
		t.Fatalf("walk %v, want %v", got, want)
	}
	if r, ok := z.Rank("c"); !ok || r != 2 {
		t.Fatalf("rank of c %d %v, want 2", r, ok)
	}
}

// An emptied collection keeps nothing of its former size (it stays as a state for a
// tombstone's lifetime), and a sorted set emptied and refilled indexes the new members only.
func TestEmptiedCollectionsShrink(t *testing.T) {
	h := NewHash(Version{})
	z := NewZSet(Version{})
	var names []string
	for i := 0; i < 3000; i++ {
		names = append(names, fmt.Sprint("f", i))
		h.Set(Version{TS: Timestamp(i + 1), Replica: 1}, [2][]byte{[]byte(names[i]), []byte("v")})
		z.Add(Version{TS: Timestamp(i + 1), Replica: 1}, names[i], float64(i%7))
	}
	h.Del(names...)
	z.Rem(names...)
	if h.Len() != 0 || h.c.elems.pages != nil || h.c.elems.slots != nil || h.c.elems.free != nil {
		t.Fatalf("emptied hash holds %d elements, %d pages, %d slots, %d free records",
			h.Len(), len(h.c.elems.pages), len(h.c.elems.slots), len(h.c.elems.free))
	}
	if z.Len() != 0 || z.sl.n != 0 || z.sl.pages != nil || z.sl.up != nil {
		t.Fatalf("emptied sorted set holds %d members, %d nodes, %d pages", z.Len(), z.sl.n, len(z.sl.pages))
	}
	for i, m := range []string{"c", "a", "b"} {
		z.Add(Version{TS: Timestamp(5000 + i), Replica: 1}, m, 1)
	}
	z.Rem("a")
	var got []string
	z.Walk(0, false, func(m string, _ float64) bool { got = append(got, m); return true })
	if !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("refilled sorted set walks %v, want [b c]", got)
	}
}

// Collect gives back the slab of a collection that shrank to under a quarter of its
// high-water size; its elements, and a sorted set's order and ranks, are unchanged, and later
// writes and removes work on the renumbered records.
func TestCollectShrinksTable(t *testing.T) {
	h := NewHash(Version{})
	z := NewZSet(Version{})
	var gone []string
	for i := 0; i < 5000; i++ {
		m := fmt.Sprint("m", i)
		h.Set(Version{TS: Timestamp(i + 1), Replica: 1}, [2][]byte{[]byte(m), []byte(fmt.Sprint("v", i))})
		z.Add(Version{TS: Timestamp(i + 1), Replica: ReplicaID(1 + i%2)}, m, float64(i%100))
		if i%5 != 0 {
			gone = append(gone, m)
		}
	}
	// A concurrent write keeps one member's writes aside (multi) across the renumbering.
	z.Join(NewZSet(Version{}).Add(Version{TS: 3, Replica: 9}, "m10", 0))
	if len(z.c.elems.multi) != 1 {
		t.Fatalf("%d members with concurrent writes, want m10", len(z.c.elems.multi))
	}
	h.Del(gone...)
	z.Rem(gone...)
	pages := len(h.c.elems.pages)
	h.Collect(0, 1<<20)
	z.Collect(0, 1<<20)
	if len(h.c.elems.pages) >= pages || h.c.elems.top != 1000 || len(z.c.elems.pages) >= pages || len(z.c.elems.multi) != 1 {
		t.Fatalf("after Collect: %d pages (%d before), %d records", len(h.c.elems.pages), pages, h.c.elems.top)
	}
	for i := 0; i < 5000; i += 5 {
		m := fmt.Sprint("m", i)
		if v, ok := h.Get(m); !ok || string(v) != fmt.Sprint("v", i) {
			t.Fatalf("%s: %q %v after the shrink", m, v, ok)
		}
	}
	check := func() {
		t.Helper()
		var prev string
		var prevS float64
		n := 0
		z.Walk(0, false, func(m string, s float64) bool {
			if n > 0 && less(s, m, prevS, prev) {
				t.Fatalf("walk out of order: %s %v after %s %v", m, s, prev, prevS)
			}
			if r, ok := z.Rank(m); !ok || r != n {
				t.Fatalf("rank of %s %d %v, want %d", m, r, ok, n)
			}
			prev, prevS = m, s
			n++
			return true
		})
		if n != z.Len() {
			t.Fatalf("walked %d, len %d", n, z.Len())
		}
	}
	check()
	if z.Len() != 1000 {
		t.Fatalf("len %d, want 1000", z.Len())
	}
	z.Add(Version{TS: 9000, Replica: 1}, "new", 50.5)
	z.Rem("m0", "m5")
	z.Add(Version{TS: 9001, Replica: 1}, "m10", -1)
	check()
	if s, _ := z.Score("m10"); s != -1 || z.Len() != 999 {
		t.Fatalf("m10 %v, len %d; want -1, 999", s, z.Len())
	}
}

// A table of up to 3 elements keeps its index in itself (no slots of its own), and moves it
// out at the 4th.
func TestSmallTableIndexInline(t *testing.T) {
	var tab elemTab[[]byte]
	for i := range 4 {
		e := fmt.Sprint("f", i)
		tab.put(e, []Dotted[[]byte]{{Dot: Version{TS: Timestamp(i + 1), Replica: 1}, P: []byte("v")}})
		if inline := i < 3; tab.inl != inline || (tab.slots == nil) != inline {
			t.Fatalf("%d elements: index inline %v, slots %d, want inline %v", i+1, tab.inl, len(tab.slots), inline)
		}
		for j := 0; j <= i; j++ {
			if !tab.has(fmt.Sprint("f", j)) {
				t.Fatalf("%d elements: f%d not found", i+1, j)
			}
		}
	}
}
