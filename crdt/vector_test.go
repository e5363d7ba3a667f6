package crdt

import (
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// tsOf is the HLC the tests give write seq of replica r: increasing in seq,
// as a real replica's clock is.
func tsOf(r ReplicaID, seq uint64) Timestamp {
	return MakeTimestamp(int64(seq)*10, uint16(r))
}

// vec builds a vector by adding the given seqs of one replica in order.
func vec(r ReplicaID, seqs ...uint64) *Vector {
	v := NewVector()
	for _, s := range seqs {
		v.Add(Dot{r, s}, tsOf(r, s))
	}
	return v
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestVectorAdd(t *testing.T) {
	t.Parallel()
	v := NewVector()
	steps := []struct {
		seq       uint64
		added     bool
		prefix    uint64
		extra     []uint64
		prefixSeq uint64 // whose timestamp the prefix carries
	}{
		{1, true, 1, nil, 1},
		{1, false, 1, nil, 1},
		{3, true, 1, []uint64{3}, 1},
		{5, true, 1, []uint64{3, 5}, 1},
		{3, false, 1, []uint64{3, 5}, 1},
		{2, true, 3, []uint64{5}, 3}, // fills the gap, folds 3
		{4, true, 5, nil, 5},         // folds 5
		{0, false, 5, nil, 5},        // seq 0 is not a write
		{7, true, 5, []uint64{7}, 5},
	}
	for i, s := range steps {
		if got := v.Add(Dot{1, s.seq}, tsOf(1, s.seq)); got != s.added {
			t.Fatalf("step %d: Add(%d) = %v, want %v", i, s.seq, got, s.added)
		}
		seq, ts := v.Prefix(1)
		if seq != s.prefix || ts != tsOf(1, s.prefixSeq) {
			t.Fatalf("step %d: Prefix = %d %v, want %d %v", i, seq, ts, s.prefix, tsOf(1, s.prefixSeq))
		}
		want := []ReplicaState{{Replica: 1, Prefix: s.prefix, PrefixTS: tsOf(1, s.prefixSeq), Extra: s.extra}}
		if got := v.Summary(); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: Summary = %+v, want %+v", i, got, want)
		}
	}
	for seq, want := range map[uint64]bool{0: true, 1: true, 5: true, 6: false, 7: true, 8: false} {
		if got := v.Contains(Dot{1, seq}); got != want {
			t.Errorf("Contains(%d) = %v, want %v", seq, got, want)
		}
	}
	if v.Contains(Dot{2, 1}) {
		t.Error("Contains on unknown replica")
	}
	if seq, ts := v.Prefix(2); seq != 0 || ts != 0 {
		t.Error("Prefix of unknown replica not zero")
	}
}

func TestVectorZeroAndNil(t *testing.T) {
	t.Parallel()
	var nilVec *Vector
	if nilVec.Contains(Dot{1, 1}) || nilVec.Replicas() != nil || len(nilVec.Summary()) != 0 || nilVec.Clone() == nil {
		t.Error("nil vector must read as empty")
	}
	if !nilVec.Covers(nil) || !vec(1, 1).Covers(nilVec) || nilVec.Covers(vec(1, 1)) {
		t.Error("Covers with nil")
	}
	if got := nilVec.Missing(vec(1, 1, 2)); !reflect.DeepEqual(got, []Range{{1, 1, 2}}) {
		t.Errorf("nil.Missing = %v", got)
	}
	var zero Vector
	if !zero.Add(Dot{1, 1}, 5) || !zero.Contains(Dot{1, 1}) {
		t.Error("zero Vector not usable")
	}
}

func TestVectorOutOfOrderBound(t *testing.T) {
	t.Parallel()
	v := NewVector()
	// Every other seq from 3: each a run of its own, up to the bound.
	last := uint64(1 + 2*MaxOutOfOrder)
	for s := uint64(3); s <= last; s += 2 {
		if !v.Add(Dot{1, s}, tsOf(1, s)) {
			t.Fatalf("Add(%d) = false", s)
		}
	}
	over := last + 2
	if !v.Add(Dot{1, over}, tsOf(1, over)) {
		t.Fatal("Add beyond the bound must still report new")
	}
	if v.Contains(Dot{1, over}) {
		t.Fatal("dot beyond the bound must not be remembered")
	}
	if !v.Add(Dot{1, over}, tsOf(1, over)) {
		t.Fatal("forgotten dot is new again")
	}
	// A seq next to a remembered run extends it: no new slot.
	if !v.Add(Dot{1, last + 1}, tsOf(1, last+1)) || !v.Contains(Dot{1, last + 1}) {
		t.Fatal("seq extending the last run not remembered")
	}
	if n := len(v.Summary()[0].Extra); n != MaxOutOfOrder {
		t.Fatalf("%d extras in the summary, want %d", n, MaxOutOfOrder)
	}
	if n := len(v.Runs()); n != MaxOutOfOrder {
		t.Fatalf("%d runs remembered, want %d", n, MaxOutOfOrder)
	}
	// Filling the gaps folds every remembered run.
	for s := uint64(1); s <= last+1; s++ {
		v.Add(Dot{1, s}, tsOf(1, s))
	}
	if seq, ts := v.Prefix(1); seq != last+1 || ts != tsOf(1, last+1) {
		t.Fatalf("Prefix = %d %v", seq, ts)
	}
	if st := v.Summary()[0]; st.Extra != nil {
		t.Fatalf("extras left after fold: %d", len(st.Extra))
	}
	if got := v.Missing(vec(1, seqRange(1, over)...)); !reflect.DeepEqual(got, []Range{{1, over, over}}) {
		t.Fatalf("Missing = %v, want the forgotten dot", got)
	}
}

// TestVectorRemembersLongRunAfterGap is the write flood after a lost batch:
// every write after the gap stays remembered, however many, so a repair
// asks only for the gap.
func TestVectorRemembersLongRunAfterGap(t *testing.T) {
	t.Parallel()
	v := NewVector()
	for s := uint64(1); s <= 100; s++ {
		v.Add(Dot{1, s}, tsOf(1, s))
	}
	const top = 100 + 64 + 10*MaxOutOfOrder
	for s := uint64(165); s <= top; s++ { // 101..164 lost
		if !v.Add(Dot{1, s}, tsOf(1, s)) {
			t.Fatalf("Add(%d) = false", s)
		}
	}
	if got := v.Missing(vec(1, seqRange(1, top)...)); !reflect.DeepEqual(got, []Range{{1, 101, 164}}) {
		t.Fatalf("Missing = %v, want only the lost batch", got)
	}
	if got := v.Runs(); !reflect.DeepEqual(got, []Range{{1, 165, top}}) {
		t.Fatalf("Runs = %v", got)
	}
	// A summary lists the lowest MaxOutOfOrder of them: it never claims more than v holds.
	st := v.Summary()[0]
	if len(st.Extra) != MaxOutOfOrder || st.Extra[0] != 165 || st.Extra[MaxOutOfOrder-1] != 164+MaxOutOfOrder {
		t.Fatalf("Summary extras: %d from %d", len(st.Extra), st.Extra[0])
	}
	// A summary plus the runs rebuilds v exactly.
	back := VectorFromSummary(v.Summary())
	for _, rg := range v.Runs() {
		back.AddRange(rg, 0)
	}
	if !back.Covers(v) || !v.Covers(back) {
		t.Fatal("summary + runs do not rebuild the vector")
	}
	// The repair fills the gap: one prefix, at the newest write's time.
	for s := uint64(101); s <= 164; s++ {
		v.Add(Dot{1, s}, tsOf(1, s))
	}
	if seq, ts := v.Prefix(1); seq != top || ts != tsOf(1, top) || v.Runs() != nil {
		t.Fatalf("Prefix = %d %v, runs %v", seq, ts, v.Runs())
	}
}

func TestVectorAddRange(t *testing.T) {
	t.Parallel()
	from := func(prefix uint64, extra ...uint64) *Vector {
		return vec(1, append(seqRange(1, prefix), extra...)...)
	}
	for _, tc := range []struct {
		name  string
		v     *Vector
		rg    Range
		isNew bool
		want  *Vector
	}{
		{"held by the prefix", from(10), Range{1, 3, 9}, false, from(10)},
		{"held by a run", from(2, 5, 6, 7, 8), Range{1, 6, 7}, false, from(2, 5, 6, 7, 8)},
		{"extends the prefix and folds runs", from(2, 9, 12), Range{1, 3, 9}, true, from(9, 12)},
		{"joins two runs", from(1, 4, 5, 9, 10), Range{1, 6, 8}, true, from(1, 4, 5, 6, 7, 8, 9, 10)},
		{"overlaps a run", from(1, 5, 6), Range{1, 6, 8}, true, from(1, 5, 6, 7, 8)},
		{"alone", from(1, 9), Range{1, 4, 5}, true, from(1, 4, 5, 9)},
		{"zero from refused", from(1), Range{1, 0, 5}, false, from(1)},
	} {
		got := tc.v.AddRange(tc.rg, tsOf(1, tc.rg.To))
		if got != tc.isNew {
			t.Errorf("%s: AddRange = %v, want %v", tc.name, got, tc.isNew)
		}
		if !tc.v.Covers(tc.want) || !tc.want.Covers(tc.v) {
			t.Errorf("%s: vector %v, want %v", tc.name, tc.v.Summary(), tc.want.Summary())
		}
	}
}

func TestVectorMissing(t *testing.T) {
	t.Parallel()
	// from builds a vector of replica 1 with a prefix and extras.
	from := func(prefix uint64, extra ...uint64) *Vector {
		return vec(1, append(seqRange(1, prefix), extra...)...)
	}
	tests := []struct {
		name string
		v, o *Vector
		want []Range
	}{
		{"empty vs prefix", NewVector(), from(5), []Range{{1, 1, 5}}},
		{"behind", from(3), from(10), []Range{{1, 4, 10}}},
		{"equal", from(10), from(10), nil},
		{"ahead", from(10), from(3), nil},
		{"own extras are not requested", from(3, 5, 7), from(10), []Range{{1, 4, 4}, {1, 6, 6}, {1, 8, 10}}},
		{"other's extras requested", from(3), from(2, 5, 6, 9), []Range{{1, 5, 6}, {1, 9, 9}}},
		{"both extras", from(3, 6), from(4, 6, 7, 8), []Range{{1, 4, 4}, {1, 7, 8}}},
		{"own extras cover other's", from(1, 5, 6, 7), from(0, 5, 7), nil},
		{"own extra at start of other's run", from(2, 4), from(2, 4, 5, 6, 9), []Range{{1, 5, 6}, {1, 9, 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.v.Missing(tt.o); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Missing = %v, want %v", got, tt.want)
			}
			if got := tt.v.Covers(tt.o); got != (tt.want == nil) {
				t.Fatalf("Covers = %v, want %v", got, tt.want == nil)
			}
		})
	}
	// Several replicas: sorted by replica; replicas only v knows are ignored.
	v, o := NewVector(), NewVector()
	for _, s := range seqRange(1, 4) {
		v.Add(Dot{9, s}, 1)
		o.Add(Dot{3, s}, 1)
		o.Add(Dot{7, s}, 1)
	}
	v.Add(Dot{7, 1}, 1)
	want := []Range{{3, 1, 4}, {7, 2, 4}}
	if got := v.Missing(o); !reflect.DeepEqual(got, want) {
		t.Fatalf("Missing = %v, want %v", got, want)
	}
}

func TestVectorFromSummaryNormalises(t *testing.T) {
	t.Parallel()
	in := []ReplicaState{
		{Replica: 5, Prefix: 2, PrefixTS: 20, Extra: []uint64{9, 1, 4, 3, 9, 2}}, // unsorted, dup, <= prefix, contiguous
		{Replica: 1, Prefix: 0, Extra: seqRange(2, MaxOutOfOrder+10)},            // over the bound
		{Replica: 5, Prefix: 1, PrefixTS: 10, Extra: []uint64{11}},               // repeated replica: union
	}
	v := VectorFromSummary(in)
	want := []ReplicaState{
		{Replica: 1, Prefix: 0, Extra: seqRange(2, MaxOutOfOrder+1)},
		{Replica: 5, Prefix: 4, PrefixTS: 20, Extra: []uint64{9, 11}},
	}
	if got := v.Summary(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Summary = %+v, want %+v", got[1], want[1])
	}
	// A long contiguous run folds into the prefix instead of hitting the bound.
	v = VectorFromSummary([]ReplicaState{{Replica: 1, Prefix: 1, PrefixTS: 7, Extra: seqRange(2, 3*MaxOutOfOrder)}})
	if seq, ts := v.Prefix(1); seq != 3*MaxOutOfOrder || ts != 7 {
		t.Fatalf("Prefix = %d %v, want %d 7 (lower bound)", seq, ts, 3*MaxOutOfOrder)
	}
	// Extras from a summary have no timestamp; folding them later must not
	// move the prefix timestamp backwards.
	v = VectorFromSummary([]ReplicaState{{Replica: 1, Prefix: 1, PrefixTS: tsOf(1, 1), Extra: []uint64{3}}})
	v.Add(Dot{1, 2}, tsOf(1, 2))
	if seq, ts := v.Prefix(1); seq != 3 || ts != tsOf(1, 2) {
		t.Fatalf("Prefix = %d %v, want 3 %v", seq, ts, tsOf(1, 2))
	}
}

func TestVectorClone(t *testing.T) {
	t.Parallel()
	v := vec(1, 1, 3)
	c := v.Clone()
	c.Add(Dot{1, 5}, 1)
	c.Add(Dot{2, 1}, 1)
	if v.Contains(Dot{1, 5}) || v.Contains(Dot{2, 1}) {
		t.Fatal("Clone shares state")
	}
	if !reflect.DeepEqual(v.Summary(), vec(1, 1, 3).Summary()) {
		t.Fatal("original changed")
	}
}

// naiveVec is the reference model: a plain set of dots.
type naiveVec map[ReplicaID]map[uint64]bool

func (n naiveVec) add(d Dot) bool {
	if n[d.Replica] == nil {
		n[d.Replica] = map[uint64]bool{}
	}
	had := n[d.Replica][d.Seq]
	n[d.Replica][d.Seq] = true
	return !had
}

func (n naiveVec) prefix(r ReplicaID) uint64 {
	var p uint64
	for n[r][p+1] {
		p++
	}
	return p
}

// missing is o \ n as runs of consecutive seqs, sorted.
func (n naiveVec) missing(o naiveVec) []Range {
	var out []Range
	for _, id := range slices.Sorted(maps.Keys(o)) {
		var seqs []uint64
		for s := range o[id] {
			if !n[id][s] {
				seqs = append(seqs, s)
			}
		}
		slices.Sort(seqs)
		for _, s := range seqs {
			if k := len(out); k > 0 && out[k-1].Replica == id && out[k-1].To+1 == s {
				out[k-1].To = s
				continue
			}
			out = append(out, Range{id, s, s})
		}
	}
	return out
}

// TestVectorModel compares Vector with a set of dots over random adds:
// Add's result, Contains, Prefix (and its timestamp), Missing, Covers and
// the Summary round trip.
func TestVectorModel(t *testing.T) {
	t.Parallel()
	const maxSeq = 40
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 4))
		vs := []*Vector{NewVector(), NewVector(), NewVector()}
		ns := []naiveVec{{}, {}, {}}
		for step := 0; step < 150; step++ {
			i := rng.IntN(len(vs))
			d := Dot{ReplicaID(1 + rng.IntN(3)), 1 + uint64(rng.IntN(maxSeq))}
			if rng.IntN(3) == 0 { // bias toward in-order growth so prefixes get long
				p, _ := vs[i].Prefix(d.Replica)
				d.Seq = p + 1
			}
			if rng.IntN(5) == 0 { // a run a peer reported holding
				rg := Range{d.Replica, d.Seq, d.Seq + uint64(rng.IntN(6))}
				want := false
				for s := rg.From; s <= rg.To; s++ {
					want = ns[i].add(Dot{d.Replica, s}) || want
				}
				if got := vs[i].AddRange(rg, tsOf(rg.Replica, rg.To)); got != want {
					t.Fatalf("seed %d step %d: AddRange(%v) = %v, want %v", seed, step, rg, got, want)
				}
				continue
			}
			want := ns[i].add(d)
			if got := vs[i].Add(d, tsOf(d.Replica, d.Seq)); got != want {
				t.Fatalf("seed %d step %d: Add(%v) = %v, want %v", seed, step, d, got, want)
			}
		}
		for i, v := range vs {
			n := ns[i]
			for r := ReplicaID(0); r <= 4; r++ {
				for s := uint64(1); s <= maxSeq+1; s++ {
					if got, want := v.Contains(Dot{r, s}), n[r][s]; got != want {
						t.Fatalf("seed %d: Contains(%v) = %v, want %v", seed, Dot{r, s}, got, want)
					}
				}
				wantP := n.prefix(r)
				wantTS := Timestamp(0)
				if wantP > 0 {
					wantTS = tsOf(r, wantP)
				}
				if p, ts := v.Prefix(r); p != wantP || ts != wantTS {
					t.Fatalf("seed %d: Prefix(%d) = %d %v, want %d %v", seed, r, p, ts, wantP, wantTS)
				}
			}
			back := VectorFromSummary(v.Summary())
			if !reflect.DeepEqual(back.Summary(), v.Summary()) {
				t.Fatalf("seed %d: summary round trip differs", seed)
			}
			for j, o := range vs {
				want := n.missing(ns[j])
				got := v.Missing(o)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: Missing(%d,%d) = %v, want %v", seed, i, j, got, want)
				}
				if v.Covers(o) != (len(want) == 0) {
					t.Fatalf("seed %d: Covers(%d,%d) = %v, want %v", seed, i, j, v.Covers(o), len(want) == 0)
				}
				// Sending the missing ranges makes v cover o.
				c := v.Clone()
				for _, rg := range got {
					for s := rg.From; s <= rg.To; s++ {
						if !c.Add(Dot{rg.Replica, s}, tsOf(rg.Replica, s)) {
							t.Fatalf("seed %d: Missing returned held dot %d:%d", seed, rg.Replica, s)
						}
					}
				}
				if !c.Covers(o) {
					t.Fatalf("seed %d: after applying Missing, still not covering", seed)
				}
			}
		}
	}
}
