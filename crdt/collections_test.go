package crdt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// refOp is one write in the naive reference model: the (element, dot) pairs it added with
// their payloads and the (element, dot) pairs it observed and removed.
type refOp struct {
	adds    map[[2]string]string // {elem, dot} -> payload
	removes [][2]string
}

// refValue is the reference's visible state from a causal history: every added (elem, dot)
// that no op in the history removed. Values are "payload" strings keyed by element; with
// several survivors the highest dot wins (dots are formatted so strings sort like versions).
func refValue(hist map[int]*refOp) map[string]string {
	removed := map[[2]string]bool{}
	for _, op := range hist {
		for _, r := range op.removes {
			removed[r] = true
		}
	}
	best := map[string][2]string{} // elem -> {dot, payload}
	for _, op := range hist {
		for k, p := range op.adds {
			if removed[k] {
				continue
			}
			if b, ok := best[k[0]]; !ok || b[0] < k[1] {
				best[k[0]] = [2]string{k[1], p}
			}
		}
	}
	out := map[string]string{}
	for e, b := range best {
		out[e] = b[1]
	}
	return out
}

func dotKey(v Version) string { return fmt.Sprintf("%016x%016x", uint64(v.TS), uint64(v.Replica)) }

func hashValue(h *Hash) map[string]string {
	out := map[string]string{}
	h.Range(func(f string, v []byte) bool { out[f] = string(v); return true })
	return out
}

type delivery struct {
	id int
	d  *Hash
}

// TestHashConvergesToReference drives three replicas through random local writes and deletes,
// out-of-order and duplicated delta deliveries and full-state joins, and checks after every
// step that each replica's hash equals the reference computed from the writes it has seen.
func TestHashConvergesToReference(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		reset := Version{TS: 1, Replica: 99}
		type replica struct {
			h    *Hash
			hist map[int]*refOp
		}
		reps := make([]*replica, 3)
		for i := range reps {
			reps[i] = &replica{h: NewHash(reset), hist: map[int]*refOp{}}
		}
		var sent []delivery
		ops := map[int]*refOp{}
		ts := Timestamp(10)
		fields := []string{"a", "b", "c", "d"}
		for step := 0; step < 300; step++ {
			r := rng.IntN(3)
			rp := reps[r]
			switch k := rng.IntN(10); {
			case k < 4: // HSET of 1-2 fields
				ts++
				dot := Version{TS: ts, Replica: ReplicaID(r + 1)}
				op := &refOp{adds: map[[2]string]string{}}
				var pairs [][2][]byte
				for j := 0; j <= rng.IntN(2); j++ {
					f := fields[rng.IntN(len(fields))]
					v := fmt.Sprintf("v%d", step)
					pairs = append(pairs, [2][]byte{[]byte(f), []byte(v)})
				}
				// Later pairs of one field win; the reference records the last.
				for _, p := range pairs {
					f := string(p[0])
					for _, x := range rp.h.c.elems.get(f, new([1]Dotted[[]byte])) {
						op.removes = append(op.removes, [2]string{f, dotKey(x.Dot)})
					}
					op.adds[[2]string{f, dotKey(dot)}] = string(p[1])
				}
				d := rp.h.Set(dot, pairs...)
				ops[step] = op
				rp.hist[step] = op
				sent = append(sent, delivery{step, d})
			case k < 6: // HDEL
				f := fields[rng.IntN(len(fields))]
				op := &refOp{}
				for _, x := range rp.h.c.elems.get(f, new([1]Dotted[[]byte])) {
					op.removes = append(op.removes, [2]string{f, dotKey(x.Dot)})
				}
				if _, d := rp.h.Del(f); d != nil {
					ops[step] = op
					rp.hist[step] = op
					sent = append(sent, delivery{step, d})
				}
			case k < 9: // deliver a random (possibly duplicate, out-of-order) delta
				if len(sent) == 0 {
					continue
				}
				dl := sent[rng.IntN(len(sent))]
				dec, err := DecodeHash(dl.d.AppendBinary(nil))
				if err != nil {
					t.Fatal(err)
				}
				rp.h.Join(dec)
				rp.hist[dl.id] = ops[dl.id]
			default: // full-state join from another replica
				o := reps[rng.IntN(3)]
				rp.h.Join(o.h.Clone())
				for id, op := range o.hist {
					rp.hist[id] = op
				}
			}
			for i, x := range reps {
				if got, want := hashValue(x.h), refValue(x.hist); !mapsEqual(got, want) {
					t.Fatalf("seed %d step %d replica %d: got %v, want %v", seed, step, i, got, want)
				}
			}
		}
		// Everyone joins everyone: identical states.
		for _, a := range reps {
			for _, b := range reps {
				a.h.Join(b.h.Clone())
			}
		}
		for _, a := range reps {
			for _, b := range reps {
				b.h.Join(a.h.Clone())
			}
		}
		e0 := reps[0].h.AppendBinary(nil)
		for i, x := range reps[1:] {
			if !bytes.Equal(e0, x.h.AppendBinary(nil)) {
				t.Fatalf("seed %d: replica %d diverged after full exchange", seed, i+1)
			}
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// randomHashes returns states of one incarnation reached by random writes on three replicas
// with partial exchanges, for the merge-law tests.
func randomHashes(seed uint64) []*Hash {
	rng := rand.New(rand.NewPCG(seed, 3))
	reset := Version{TS: 1, Replica: 99}
	hs := []*Hash{NewHash(reset), NewHash(reset), NewHash(reset)}
	ts := Timestamp(10)
	for step := 0; step < 40; step++ {
		r := rng.IntN(3)
		f := string(rune('a' + rng.IntN(4)))
		switch rng.IntN(4) {
		case 0, 1:
			ts++
			hs[r].Set(Version{TS: ts, Replica: ReplicaID(r + 1)}, [2][]byte{[]byte(f), []byte(fmt.Sprint(step))})
		case 2:
			hs[r].Del(f)
		default:
			hs[r].Join(hs[rng.IntN(3)].Clone())
		}
	}
	return hs
}

func joined(a, b *Hash) *Hash {
	x := a.Clone()
	x.Join(b.Clone())
	return x
}

func TestHashJoinLaws(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		hs := randomHashes(seed)
		a, b, c := hs[0], hs[1], hs[2]
		enc := func(h *Hash) []byte { return h.AppendBinary(nil) }
		if !bytes.Equal(enc(joined(a, b)), enc(joined(b, a))) {
			t.Fatalf("seed %d: join not commutative", seed)
		}
		if !bytes.Equal(enc(joined(joined(a, b), c)), enc(joined(a, joined(b, c)))) {
			t.Fatalf("seed %d: join not associative", seed)
		}
		if !bytes.Equal(enc(joined(a, a)), enc(a)) {
			t.Fatalf("seed %d: join not idempotent", seed)
		}
		// Compaction at a time every replica has seen changes nothing visible.
		x := joined(joined(a, b), c)
		before := hashValue(x)
		x.Compact(Timestamp(1 << 40))
		if !mapsEqual(before, hashValue(x)) || x.Tombstones() != 0 {
			t.Fatalf("seed %d: compaction changed the value or kept tombstones", seed)
		}
	}
}

func TestHashConcurrentDelRemovesOnlyObserved(t *testing.T) {
	reset := Version{TS: 1, Replica: 9}
	a, b := NewHash(reset), NewHash(reset)
	d := a.Set(Version{TS: 2, Replica: 1}, [2][]byte{[]byte("f"), []byte("1")})
	b.Join(d)
	// Concurrently: A updates f, B deletes the f it saw.
	da := a.Set(Version{TS: 3, Replica: 1}, [2][]byte{[]byte("f"), []byte("2")}, [2][]byte{[]byte("g"), []byte("x")})
	_, db := b.Del("f")
	a.Join(db)
	b.Join(da)
	for _, h := range []*Hash{a, b} {
		if v, ok := h.Get("f"); !ok || string(v) != "2" {
			t.Fatalf("f = %q %v, want the concurrent update 2", v, ok)
		}
		if h.Len() != 2 {
			t.Fatalf("len %d", h.Len())
		}
	}
	// A later delete that observed it removes it everywhere.
	_, dd := a.Del("f")
	b.Join(dd)
	if _, ok := b.Get("f"); ok {
		t.Fatal("f survived a delete that observed it")
	}
}

func TestIncarnationHigherResetWins(t *testing.T) {
	old, newer := NewHash(Version{TS: 5, Replica: 1}), NewHash(Version{TS: 7, Replica: 2})
	old.Set(Version{TS: 6, Replica: 1}, [2][]byte{[]byte("x"), []byte("1")})
	newer.Set(Version{TS: 8, Replica: 2}, [2][]byte{[]byte("y"), []byte("2")})
	a, b := old.Clone(), newer.Clone()
	a.Join(newer)
	b.Join(old)
	if !bytes.Equal(a.AppendBinary(nil), b.AppendBinary(nil)) || a.Len() != 1 {
		t.Fatal("incarnations did not resolve to the newer one on both sides")
	}
	if _, ok := a.Get("y"); !ok {
		t.Fatal("newer incarnation lost")
	}
}

func TestSetAddWins(t *testing.T) {
	reset := Version{TS: 1, Replica: 9}
	a, b := NewSet(reset), NewSet(reset)
	_, d := a.Add(Version{TS: 2, Replica: 1}, "m", "n")
	b.Join(d)
	_, rem := b.Rem("m")
	_, add := a.Add(Version{TS: 3, Replica: 1}, "x")
	// Concurrent re-add of m on A after a remove there: SREM then SADD.
	_, ra := a.Rem("m")
	_, readd := a.Add(Version{TS: 4, Replica: 1}, "m")
	for _, x := range []*Set{rem} {
		a.Join(x)
	}
	for _, x := range []*Set{add, ra, readd} {
		b.Join(x)
	}
	for _, s := range []*Set{a, b} {
		if !s.Has("m") || !s.Has("n") || !s.Has("x") || s.Len() != 3 {
			t.Fatalf("members wrong: len %d", s.Len())
		}
	}
	if !bytes.Equal(a.AppendBinary(nil), b.AppendBinary(nil)) {
		t.Fatal("sets diverged")
	}
}

func TestZSetIncrementsSumAndAddResets(t *testing.T) {
	reset := Version{TS: 1, Replica: 9}
	a, b := NewZSet(reset), NewZSet(reset)
	b.Join(a.Add(Version{TS: 2, Replica: 1}, "m", 10))
	_, da := a.Incr(Version{TS: 3, Replica: 1}, "m", 1)
	_, da2 := a.Incr(Version{TS: 4, Replica: 1}, "m", 2)
	_, db := b.Incr(Version{TS: 5, Replica: 2}, "m", 5)
	a.Join(db)
	b.Join(da2) // out of order: da2 folds da
	b.Join(da)
	for _, z := range []*ZSet{a, b} {
		if s, _ := z.Score("m"); s != 18 {
			t.Fatalf("score %v, want 10+1+2+5", s)
		}
	}
	if ds := a.c.elems.get("m", new([1]Dotted[zpay])); len(ds) != 3 {
		t.Fatalf("A holds %d writes of m, want abs + one increment per replica", len(ds))
	}
	// A ZADD that observed everything resets; a concurrent increment of the old epoch no
	// longer counts.
	dz := a.Add(Version{TS: 6, Replica: 1}, "m", 100)
	_, di := b.Incr(Version{TS: 7, Replica: 2}, "m", 1)
	a.Join(di)
	b.Join(dz)
	for _, z := range []*ZSet{a, b} {
		if s, _ := z.Score("m"); s != 100 {
			t.Fatalf("score %v, want 100", s)
		}
	}
}

// TestZSetIndexMatchesScores checks the skiplist against a sort of the score map after random
// adds, increments, removes and joins.
func TestZSetIndexMatchesScores(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	reset := Version{TS: 1, Replica: 9}
	zs := []*ZSet{NewZSet(reset), NewZSet(reset)}
	ts := Timestamp(5)
	for step := 0; step < 3000; step++ {
		z := zs[rng.IntN(2)]
		m := fmt.Sprintf("m%d", rng.IntN(60))
		ts++
		dot := Version{TS: ts, Replica: ReplicaID(1 + rng.IntN(2))}
		switch rng.IntN(5) {
		case 0, 1:
			z.Add(dot, m, float64(rng.IntN(20)))
		case 2:
			z.Incr(dot, m, float64(rng.IntN(5)))
		case 3:
			z.Rem(m)
		default:
			z.Join(zs[rng.IntN(2)].Clone())
		}
		for _, z := range zs {
			type kv struct {
				m string
				s float64
			}
			var want []kv
			z.c.elems.each(func(m string, ds []Dotted[zpay]) bool {
				s, _ := score(ds) // the index must agree with the scores computed from the writes
				want = append(want, kv{m, s})
				return true
			})
			sort.Slice(want, func(i, j int) bool { return less(want[i].s, want[i].m, want[j].s, want[j].m) })
			var got []kv
			z.Walk(0, false, func(m string, s float64) bool { got = append(got, kv{m, s}); return true })
			if !slices.Equal(got, want) || z.Len() != len(want) {
				t.Fatalf("step %d: index %v, want %v", step, got, want)
			}
			for i, w := range want {
				if r, _ := z.Rank(w.m); r != i {
					t.Fatalf("step %d: rank of %s = %d, want %d", step, w.m, r, i)
				}
			}
			if len(want) > 0 {
				var rev []kv
				z.Walk(len(want)-1, true, func(m string, s float64) bool { rev = append(rev, kv{m, s}); return true })
				slices.Reverse(rev)
				if !slices.Equal(rev, want) {
					t.Fatalf("step %d: reverse walk differs", step)
				}
			}
		}
	}
}

func FuzzDecodeHash(f *testing.F) {
	for _, h := range randomHashes(5) {
		f.Add(h.AppendBinary(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHash(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if h.c.part != nil {
			return // a part re-encodes as a state (its range is the transport's)
		}
		if !bytes.Equal(h.AppendBinary(nil), b) {
			t.Fatal("decoded hash does not re-encode to its input")
		}
	})
}

func FuzzDecodeSet(f *testing.F) {
	s := NewSet(Version{TS: 1, Replica: 2})
	s.Add(Version{TS: 3, Replica: 2}, "a", "b")
	s.Rem("a")
	f.Add(s.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSet(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if s.c.part != nil {
			return
		}
		if !bytes.Equal(s.AppendBinary(nil), b) {
			t.Fatal("decoded set does not re-encode to its input")
		}
	})
}

func FuzzDecodeZSet(f *testing.F) {
	z := NewZSet(Version{TS: 1, Replica: 2})
	z.Add(Version{TS: 3, Replica: 2}, "a", 1.5)
	z.Incr(Version{TS: 4, Replica: 2}, "b", 2)
	z.Rem("a")
	f.Add(z.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := DecodeZSet(b)
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		if z.c.part != nil {
			return
		}
		if !bytes.Equal(z.AppendBinary(nil), b) {
			t.Fatal("decoded zset does not re-encode to its input")
		}
		n := 0
		z.Walk(0, false, func(string, float64) bool { n++; return true })
		if n != z.Len() {
			t.Fatal("index and members disagree")
		}
	})
}

// A score change that keeps the member's rank is made in place (skiplist.rescore, no walk);
// one that moves it is not, and the index stays ordered either way.
func TestZSetRescoreInPlace(t *testing.T) {
	z := NewZSet(Version{TS: 1, Replica: 1})
	for i, m := range []string{"a", "b", "c"} {
		z.Add(Version{TS: Timestamp(2 + i), Replica: 1}, m, float64(i+1))
	}
	i, _ := z.c.elems.find("b")
	sl := z.ix()
	for _, c := range []struct {
		from, to float64
		inPlace  bool
	}{{2, 2.5, true}, {2.5, 1, true}, {1, 0.5, false}, {1, 3, true}, {3, 3.5, false}, {3, 2, true}, {7, 2, false}} {
		if got := sl.rescore(i+1, c.from, c.to); got != c.inPlace {
			t.Fatalf("rescore b %v -> %v: %v, want %v", c.from, c.to, got, c.inPlace)
		}
	}
	// (1, b) after (1, a), (3, b) before (3, c): in place; 0.5 and 3.5 would pass a neighbour,
	// and 7 is not b's score. Through Add: 1 in place, then 5 moves b past c.
	for k, s := range []float64{1, 5} {
		z.Add(Version{TS: Timestamp(10 + k), Replica: 1}, "b", s)
	}
	var got []string
	z.Walk(0, false, func(m string, s float64) bool { got = append(got, fmt.Sprint(m, s)); return true })
	if want := []string{"a1", "c3", "b5"}; !slices.Equal(got, want) {
		t.Fatalf("walk %v, want %v", got, want)
	}
	if r, _ := z.Rank("b"); r != 2 {
		t.Fatalf("rank of b %d, want 2", r)
	}
}

// TestHashSetCounted: SetCounted reports the fields the hash did not hold, a field named twice
// once, whether the write is applied in place or (below the floor) joined.
func TestHashSetCounted(t *testing.T) {
	t.Parallel()
	pairs := func(fs ...string) [][2][]byte {
		var out [][2][]byte
		for _, f := range fs {
			out = append(out, [2][]byte{[]byte(f), []byte("v" + f)})
		}
		return out
	}
	for _, below := range []bool{false, true} {
		h := NewHash(Version{TS: 1, Replica: 1})
		h.Set(Version{TS: 10, Replica: 1}, pairs("a", "b")...)
		dot := Version{TS: 20, Replica: 1}
		if below {
			h.Compact(30) // the floor above the next write's stamp: Set joins its delta
		}
		n, d := h.SetCounted(dot, pairs("a", "c", "c", "d")...)
		if n != 2 || d == nil {
			t.Fatalf("below floor %v: %d new fields, want 2 (c and d)", below, n)
		}
		if v, ok := h.Get("d"); !below && (!ok || string(v) != "vd") {
			t.Fatalf("d = %q, %v after the write", v, ok)
		}
	}
}

// TestSetAddBytesMatchesAdd: AddBytes gives the state and the delta Add gives, for members
// held, new and repeated in one command, in place and below the floor, and keeps none of the
// bytes it was given: they are overwritten after each call.
func TestSetAddBytesMatchesAdd(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(31, 32))
	reset := Version{TS: 1, Replica: 1}
	a, b := NewSet(reset), NewSet(reset)
	for i := 0; i < 3000; i++ {
		dot := Version{TS: Timestamp(10 + i), Replica: 1 + ReplicaID(rng.IntN(2))}
		var ms []string
		var bs [][]byte
		for range 1 + rng.IntN(3) {
			m := fmt.Sprint("m", rng.IntN(200))
			ms = append(ms, m)
			bs = append(bs, []byte(m))
		}
		if i%500 == 499 {
			a.Compact(dot.TS + 5) // the next writes land below the floor
			b.Compact(dot.TS + 5)
		}
		na, da := a.Add(dot, ms...)
		nb, db := b.AddBytes(dot, bs)
		if na != nb || !bytes.Equal(da.AppendBinary(nil), db.AppendBinary(nil)) {
			t.Fatalf("write %d: Add %d new, AddBytes %d, or their deltas differ", i, na, nb)
		}
		for _, x := range bs {
			for j := range x {
				x[j] = '#'
			}
		}
		if !bytes.Equal(a.AppendBinary(nil), b.AppendBinary(nil)) || a.Bytes() != b.Bytes() {
			t.Fatalf("write %d: the states differ", i)
		}
	}
}
