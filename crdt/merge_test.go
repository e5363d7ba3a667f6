package crdt

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func lww(val string, ms int64, replica ReplicaID, seq uint64) Entry {
	return Entry{
		Value:   []byte(val),
		Version: Version{TS: MakeTimestamp(ms, 0), Replica: replica},
		Seq:     seq,
		Type:    TypeLWW,
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	old := lww("old", 100, 1, 1)
	newer := lww("new", 200, 1, 2)
	tie := lww("tie", 100, 2, 1) // same ms, higher replica
	del := Entry{Version: Version{TS: MakeTimestamp(300, 0), Replica: 2}, Seq: 2, Type: TypeLWW, Flags: FlagTombstone}
	tests := []struct {
		name    string
		cur     Entry
		ok      bool
		in      Entry
		want    Entry
		outcome Outcome
	}{
		{"absent", Entry{}, false, old, old, Applied},
		{"newer wins", old, true, newer, newer, Applied},
		{"older is stale", newer, true, old, newer, Stale},
		{"duplicate", old, true, old, old, Duplicate},
		{"replica breaks tie", old, true, tie, tie, Applied},
		{"replica breaks tie, reverse", tie, true, old, tie, Stale},
		{"tombstone wins", newer, true, del, del, Applied},
		{"late write cannot resurrect", del, true, newer, del, Stale},
	}
	for _, tt := range tests {
		got, oc := Merge(tt.cur, tt.ok, tt.in)
		if oc != tt.outcome || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Merge = %v %s, want %v %s", tt.name, got.Version, oc, tt.want.Version, tt.outcome)
		}
	}
	for o, s := range map[Outcome]string{Applied: "applied", Duplicate: "duplicate", Stale: "stale", 0: "Outcome(0)"} {
		if o.String() != s {
			t.Errorf("Outcome(%d).String() = %q, want %q", o, o.String(), s)
		}
	}
}

// write is one replicated write: a key and the entry written.
type write struct {
	key string
	e   Entry
}

// randWrites returns n writes over a few keys. Versions are drawn from a
// small space so ties on the timestamp are common, but each version is
// written once: like the real system, a version identifies one write.
func randWrites(rng *rand.Rand, n int) []write {
	keys := []string{"a", "b", "c", "d"}
	seen := map[Version]bool{}
	seq := map[ReplicaID]uint64{}
	var out []write
	for len(out) < n {
		v := Version{TS: MakeTimestamp(rng.Int64N(6), uint16(rng.IntN(3))), Replica: ReplicaID(1 + rng.IntN(3))}
		if seen[v] {
			continue
		}
		seen[v] = true
		seq[v.Replica]++
		e := Entry{Version: v, Seq: seq[v.Replica], Type: TypeLWW, Value: []byte(v.String())}
		if rng.IntN(5) == 0 {
			e.Flags, e.Value = FlagTombstone, nil
		}
		if rng.IntN(3) == 0 {
			e.Expiry = rng.Int64N(1000)
		}
		out = append(out, write{keys[rng.IntN(len(keys))], e})
	}
	return out
}

// reference is the naive model: per key, the write with the highest version.
func reference(ws []write) map[string]Entry {
	m := map[string]Entry{}
	for _, w := range ws {
		if cur, ok := m[w.key]; !ok || cur.Version.Less(w.e.Version) {
			m[w.key] = w.e
		}
	}
	return m
}

// TestMergeConvergence delivers the same writes to several replicas in
// random orders with random duplicates; every replica must end in the
// reference state, and the outcomes must agree with the versions.
func TestMergeConvergence(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2))
		ws := randWrites(rng, 1+rng.IntN(30))
		want := reference(ws)
		for replica := 0; replica < 4; replica++ {
			var deliveries []write
			for _, w := range ws {
				for k := 1 + rng.IntN(3); k > 0; k-- {
					deliveries = append(deliveries, w)
				}
			}
			rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
			state := map[string]Entry{}
			for _, w := range deliveries {
				cur, ok := state[w.key]
				got, oc := Merge(cur, ok, w.e)
				switch {
				case !ok || cur.Version.Less(w.e.Version):
					if oc != Applied || !reflect.DeepEqual(got, w.e) {
						t.Fatalf("seed %d: newer write got %s", seed, oc)
					}
				case cur.Version == w.e.Version:
					if oc != Duplicate || !reflect.DeepEqual(got, cur) {
						t.Fatalf("seed %d: duplicate got %s", seed, oc)
					}
				default:
					if oc != Stale || !reflect.DeepEqual(got, cur) {
						t.Fatalf("seed %d: older write got %s", seed, oc)
					}
				}
				state[w.key] = got
			}
			if !reflect.DeepEqual(state, want) {
				t.Fatalf("seed %d replica %d: state differs from reference\n got %v\nwant %v", seed, replica, state, want)
			}
		}
	}
}

// join is Merge as a binary operator on present entries.
func join(a, b Entry) Entry {
	e, _ := Merge(a, true, b)
	return e
}

func TestMergeLaws(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 3))
	var es []Entry
	for _, w := range randWrites(rng, 40) {
		es = append(es, w.e)
	}
	for _, a := range es {
		if got, oc := Merge(a, true, a); oc != Duplicate || !reflect.DeepEqual(got, a) {
			t.Fatalf("idempotence: Merge(a, a) = %v %s", got.Version, oc)
		}
		for _, b := range es {
			if !reflect.DeepEqual(join(a, b), join(b, a)) {
				t.Fatalf("commutativity: %v vs %v", a.Version, b.Version)
			}
			if !reflect.DeepEqual(join(join(a, b), b), join(a, b)) {
				t.Fatalf("idempotence after join: %v, %v", a.Version, b.Version)
			}
			for _, c := range es {
				if !reflect.DeepEqual(join(join(a, b), c), join(a, join(b, c))) {
					t.Fatalf("associativity: %v %v %v", a.Version, b.Version, c.Version)
				}
			}
		}
	}
	// Folding all permutations of a subset gives the max.
	sub := es[:5]
	want := slices.MaxFunc(sub, func(x, y Entry) int { return x.Version.Compare(y.Version) })
	permute(sub, func(p []Entry) {
		got, ok := Entry{}, false
		for _, e := range p {
			got, _ = Merge(got, ok, e)
			ok = true
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fold of permutation = %v, want %v", got.Version, want.Version)
		}
	})
}

func permute(s []Entry, f func([]Entry)) {
	var rec func(k int)
	p := slices.Clone(s)
	rec = func(k int) {
		if k == len(p) {
			f(p)
			return
		}
		for i := k; i < len(p); i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}
