package crdt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// applyRunOf and collectOf reach ApplyRun and Collect of an applyKind's state.
func applyRunOf(x any, ds [][]byte, maxTombs int) int {
	src := func(i int) []byte { return ds[i] }
	switch s := x.(type) {
	case *Hash:
		return s.ApplyRun(len(ds), src, maxTombs)
	case *Set:
		return s.ApplyRun(len(ds), src, maxTombs)
	}
	return x.(*ZSet).ApplyRun(len(ds), src, maxTombs)
}

func collectOf(x any, maxTombs int) {
	switch s := x.(type) {
	case *Hash:
		s.Collect(0, maxTombs)
	case *Set:
		s.Collect(0, maxTombs)
	default:
		x.(*ZSet).Collect(0, maxTombs)
	}
}

// TestApplyRunMatchesOneByOne: a replica merging a writer's deltas in runs (ApplyRun, as the
// node merges a batch's deltas to one key, then capping its removed writes) ends every batch
// with the state of a replica merging them one at a time (ApplyDelta, then the cap), byte for
// byte, though the runs hold deltas of another incarnation, malformed ones, expiry writes
// and enough rewrites to pass the removed-writes cap (where a run must stop).
func TestApplyRunMatchesOneByOne(t *testing.T) {
	t.Parallel()
	const maxTombs = MinTombstoneCap
	for _, k := range applyKinds {
		t.Run(k.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			reset := Version{TS: 1, Replica: 9}
			w, other := k.mk(reset), k.mk(Version{TS: 2, Replica: 9})
			runs, single := k.mk(reset), k.mk(reset)
			stops := 0
			for ts := Timestamp(10); ts < 4000; {
				var ds [][]byte
				for n := 1 + rng.IntN(60); len(ds) < n; ts++ {
					dot := Version{TS: ts, Replica: 1 + ReplicaID(rng.IntN(2))}
					var d []byte
					switch r := rng.IntN(40); {
					case r == 0:
						d = k.write(other, rng, dot) // another incarnation: refused
					case r == 1:
						if d = k.write(w, rng, dot); len(d) > 2 {
							d = d[:len(d)-1] // malformed: refused, and the writer's write lost
						}
					default:
						d = k.write(w, rng, dot)
					}
					if d != nil {
						ds = append(ds, d)
					}
				}
				for _, d := range ds {
					k.apply(single, d)
					collectOf(single, maxTombs)
				}
				for i := 0; i < len(ds); {
					m := applyRunOf(runs, ds[i:], maxTombs)
					if m == 0 {
						k.apply(runs, ds[i]) // as the node merges a delta the run does not take
						m = 1
					} else if i+m < len(ds) {
						stops++
					}
					collectOf(runs, maxTombs)
					i += m
				}
				if got, want := k.enc(runs), k.enc(single); !bytes.Equal(got, want) {
					t.Fatalf("at %d: runs and one by one differ", ts)
				}
				if got, want := k.cmp(runs), k.cmp(single); got != want {
					t.Fatalf("at %d: runs %s, one by one %s", ts, got, want)
				}
			}
			if stops == 0 {
				t.Fatal("no run stopped early: the test exercises nothing")
			}
		})
	}
}

// FuzzParseOne: wherever the fast path takes an encoded delta, it gives the view the general
// parser gives (and the general parser accepts it), for every payload type.
func FuzzParseOne(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range applyKinds {
		x := k.mk(Version{TS: 1, Replica: 9})
		for i := 0; i < 30; i++ {
			if d := k.write(x, rng, Version{TS: Timestamp(10 + i), Replica: 1}); d != nil {
				f.Add(d)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParseOne[[]byte](t, b)
		checkParseOne[struct{}](t, b)
		checkParseOne[zpay](t, b)
	})
}

func checkParseOne[P any](t *testing.T, b []byte) {
	var fast, slow viewBufs[P]
	v, ok := parseOne(b, &fast)
	if !ok {
		return
	}
	w, err := parseView(b, &slow)
	if err != nil {
		t.Fatalf("%T: fast path took input the parser rejects: %v", fast, err)
	}
	if got, want := viewString(v), viewString(w); got != want {
		t.Fatalf("%T: fast path view %s, parser's %s", fast, got, want)
	}
}

// viewString renders what a view says (not where its slices point).
func viewString[P any](v deltaView[P]) string {
	var s string
	s += fmt.Sprintf("%+v|", v.h)
	for _, e := range v.elems {
		s += fmt.Sprintf("e %q %v|", e.name, v.dots[e.lo:e.hi])
	}
	for _, e := range v.tombs {
		s += fmt.Sprintf("t %q %v|", e.name, v.rm[e.lo:e.hi])
	}
	return s
}
