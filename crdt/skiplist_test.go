package crdt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkSkiplist verifies l's structure: each level ordered by (score, member) and a sub-list
// of the level below, every span the rank distance it crosses (a tail's: to the end), back
// links, the node count and no empty top level.
func checkSkiplist(t *testing.T, l *skiplist) {
	t.Helper()
	rank := map[uint32]uint32{}
	var order []uint32
	r := uint32(0)
	for x := l.head[0].to; x != 0; x = l.node(x).next[0].to {
		r++
		rank[x] = r
		order = append(order, x)
		if r > uint32(l.n) {
			t.Fatalf("level 0 longer than n=%d", l.n)
		}
	}
	if int(r) != l.n {
		t.Fatalf("level 0 has %d nodes, n=%d", r, l.n)
	}
	for k, x := range order {
		want := uint32(0)
		if k > 0 {
			want = order[k-1]
			p, q := l.node(want), l.node(x)
			if !less(p.score, l.member(want), q.score, l.member(x)) {
				t.Fatalf("nodes %d, %d out of order", want, x)
			}
		}
		if b := l.node(x).back; b != want {
			t.Fatalf("node %d: back %d, want %d", x, b, want)
		}
		nd := l.node(x)
		// Every member shares pre, but in an index of slRekeyMax or more, which keeps pre
		// and keys a member without it as keyOf does a non-member.
		if nd.key != l.keyOf(l.member(x)) || (!strings.HasPrefix(l.member(x), l.pre) && l.n < slRekeyMax) {
			t.Fatalf("node %d: name key %x, member %q, prefix %q", x, nd.key, l.member(x), l.pre)
		}
		if b := nd.up >> 5; (b != 0) != (l.levels(x) > slInline) {
			t.Fatalf("node %d of %d levels: block %d", x, l.levels(x), b)
		} else if b != 0 && (l.blockNode(b) != x || l.up[b+1].span != uint32(l.levels(x)) ||
			math.Float64bits(l.blockScore(b)) != math.Float64bits(nd.score)) {
			t.Fatalf("node %d (score %v, %d levels): block %d names node %d, %d levels, score %v",
				x, nd.score, l.levels(x), b, l.blockNode(b), l.up[b+1].span, l.blockScore(b))
		}
	}
	if l.level > 1 && l.head[l.level-1].to == 0 {
		t.Fatalf("top level %d empty", l.level)
	}
	for i := 0; i < l.level; i++ {
		y := uint32(0)
		for {
			lk := l.link(y, i)
			if y != 0 && l.levels(y) <= i {
				t.Fatalf("node %d on level %d has %d levels", y, i, l.levels(y))
			}
			to := l.nodeAt(lk.to, i)
			if lk.to == 0 {
				if want := uint32(l.n) - rank[y]; lk.span != want && !(lk.span == 0 && y == 0) && y != 0 {
					t.Fatalf("level %d: tail span %d from %d, want %d", i, lk.span, y, want)
				}
				break
			}
			if _, ok := rank[to]; !ok {
				t.Fatalf("level %d links to %d, not on level 0", i, to)
			}
			if l.pos(to, i) != lk.to {
				t.Fatalf("level %d links to position %d, node %d's is %d", i, lk.to, to, l.pos(to, i))
			}
			if want := rank[to] - rank[y]; lk.span != want {
				t.Fatalf("level %d: span %d from %d to %d, want %d", i, lk.span, y, to, want)
			}
			y = to
		}
	}
}

// Moving members to random scores (skiplist.move: delete's and insert's walks as one descent)
// keeps the index's structure, order and ranks, including ties of score, moves onto a
// neighbour's place and moves that keep the rank.
func TestZSetMoveKeepsIndex(t *testing.T) {
	for _, scores := range []int{3, 50, 1 << 20} {
		t.Run(fmt.Sprint(scores), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(scores)))
			z := NewZSet(Version{})
			const n = 3000
			ts := Timestamp(0)
			for i := 0; i < n; i++ {
				ts++
				z.Add(Version{TS: ts, Replica: 1}, fmt.Sprintf("m%d", i), float64(rng.IntN(scores)))
			}
			for step := 0; step < 4000; step++ {
				ts++
				m := fmt.Sprintf("m%d", rng.IntN(n))
				z.Add(Version{TS: ts, Replica: 1}, m, float64(rng.IntN(scores)))
				if step%200 == 0 {
					checkSkiplist(t, z.ix())
				}
			}
			checkSkiplist(t, z.ix())
			prev, k := "", 0
			z.Walk(0, false, func(m string, s float64) bool {
				if r, _ := z.Rank(m); r != k {
					t.Fatalf("rank of %s = %d, want %d", m, r, k)
				}
				if got, _ := z.Score(m); got != s {
					t.Fatalf("%s: index score %v, score %v", m, s, got)
				}
				prev, k = m, k+1
				return true
			})
			if k != n || prev == "" {
				t.Fatalf("walked %d members, want %d", k, n)
			}
		})
	}
}

// nameKey orders names as their strings do wherever the keys differ.
func TestNameKeyOrder(t *testing.T) {
	names := []string{"", "a", "a\x00", "a\x00b", "ab", "abcdefg", "abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgi", "b", "\xff", "m1", "m10", "m2"}
	for _, a := range names {
		for _, b := range names {
			ka, kb := nameKey(a), nameKey(b)
			if (ka < kb && !(a < b)) || (ka > kb && !(a > b)) {
				t.Errorf("nameKey(%q)=%x, nameKey(%q)=%x: order differs from the names'", a, ka, b, kb)
			}
		}
	}
	if nameKey("abcdefghZ") != nameKey("abcdefgh") || nameKey("ab") != 0x6162<<48 {
		t.Errorf("nameKey is not the first 8 bytes, zero-padded")
	}
}

// The index against a naive reference under random adds, re-adds and removes: members whose
// names share long prefixes first and then names that shorten the index's prefix (keyOf), ties
// of score, names that are prefixes of others. Order, scores, ranks, rank look-ups (Walk from
// r), counts (firstAtLeast) and the structure (checkSkiplist) must agree after every batch.
func TestSkiplistAgainstReference(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			var names []string
			for i := 0; i < 300; i++ {
				names = append(names, fmt.Sprintf("player:0000000000:%d", i))
			}
			for i := 0; i < 100; i++ {
				names = append(names, fmt.Sprintf("player:%d", i))
			}
			names = append(names, "", "p", "player:", "player:0000000000", "a", "zzz", "\xff", "player\x00")
			z := NewZSet(Version{})
			ref := map[string]float64{}
			ts := Timestamp(0)
			for step := 0; step < 6000; step++ {
				// The first third draws from the long-prefixed names only.
				pool := names[:300]
				if step > 2000 {
					pool = names
				}
				m := pool[rng.IntN(len(pool))]
				ts++
				if rng.IntN(4) == 0 {
					z.Rem(m)
					delete(ref, m)
				} else {
					s := float64(rng.IntN(8))
					z.Add(Version{TS: ts, Replica: 1}, m, s)
					ref[m] = s
				}
				if step%500 == 0 || step == 5999 {
					checkAgainst(t, z, ref)
				}
			}
		})
	}
}

func checkAgainst(t *testing.T, z *ZSet, ref map[string]float64) {
	t.Helper()
	type ms struct {
		m string
		s float64
	}
	var want []ms
	for m, s := range ref {
		want = append(want, ms{m, s})
	}
	slices.SortFunc(want, func(a, b ms) int {
		if less(a.s, a.m, b.s, b.m) {
			return -1
		}
		return 1
	})
	if z.sl != nil && z.sl.n > 0 {
		checkSkiplist(t, z.ix())
	}
	if z.Len() != len(want) {
		t.Fatalf("%d members, want %d", z.Len(), len(want))
	}
	k := 0
	z.Walk(0, false, func(m string, s float64) bool {
		if k >= len(want) || want[k].m != m || want[k].s != s {
			t.Fatalf("member %d: %q %v, want %v", k, m, s, want[min(k, len(want)-1)])
		}
		k++
		return true
	})
	if k != len(want) {
		t.Fatalf("walked %d members, want %d", k, len(want))
	}
	for r, w := range want {
		if got, ok := z.Rank(w.m); !ok || got != r {
			t.Fatalf("rank of %q = %d %v, want %d", w.m, got, ok, r)
		}
		if r%7 == 0 {
			z.Walk(r, r%2 == 0, func(m string, _ float64) bool {
				if m != w.m {
					t.Fatalf("walk from rank %d starts at %q, want %q", r, m, w.m)
				}
				return false
			})
		}
	}
	for _, p := range []string{"", "a", "p", "player:1", "player:5", "zz"} {
		n := 0
		for _, w := range want {
			if w.s == 0 && w.m < p {
				n++
			}
		}
		// Members of score 0 ordered by name: below is true for a prefix of them and false
		// for every member of a higher score.
		got := z.CountName(func(m string) bool { return ref[m] == 0 && m < p })
		if got != n {
			t.Fatalf("count of score-0 names below %q = %d, want %d", p, got, n)
		}
	}
	for s := -1.0; s < 9; s++ {
		n := 0
		for _, w := range want {
			if w.s < s {
				n++
			}
		}
		if got := z.CountScore(func(x float64) bool { return x < s }); got != n {
			t.Fatalf("count below %v = %d, want %d", s, got, n)
		}
	}
}

// A name without the members' prefix (a delta's index, made after its members were written,
// looks for them) is found absent, orders before or after every member, and leaves the index
// as it was.
func TestSkiplistNameWithoutPrefix(t *testing.T) {
	z := NewZSet(Version{})
	for i := 0; i < 200; i++ {
		z.Add(Version{TS: Timestamp(i + 1), Replica: 1}, fmt.Sprintf("user:%03d", i), float64(i%3))
	}
	sl := z.ix()
	if sl.pre != "user:" {
		t.Fatalf("prefix %q, want %q", sl.pre, "user:")
	}
	for _, m := range []string{"", "u", "use", "user", "a", "user;", "zzzzzzzzzzzz"} {
		for s := 0.0; s < 3; s++ {
			if x := sl.delete(s, m); x != 0 {
				t.Fatalf("delete(%v, %q) removed node %d", s, m, x)
			}
			r := sl.rank(s, m)
			want := 0
			z.Walk(0, false, func(w string, ws float64) bool {
				if !less(ws, w, s, m) {
					return false
				}
				want++
				return true
			})
			if r != want {
				t.Fatalf("members before (%v, %q): %d, want %d", s, m, r, want)
			}
		}
	}
	checkSkiplist(t, sl)
	if z.Len() != 200 {
		t.Fatalf("%d members, want 200", z.Len())
	}
}

// An index of slRekeyMax members or more keeps its prefix when members without it arrive (no
// walk of every node): those get the least or the greatest key, and order, ranks and counts
// still agree with a naive reference, the structure with its invariants.
func TestSkiplistLargeKeepsPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	z := NewZSet(Version{})
	ref := map[string]float64{}
	ts := Timestamp(0)
	add := func(m string, s float64) {
		ts++
		z.Add(Version{TS: ts, Replica: 1}, m, s)
		ref[m] = s
	}
	for i := 0; i < slRekeyMax+1000; i++ {
		add(fmt.Sprintf("user:%08d", i), float64(rng.IntN(4)))
	}
	pre := z.sl.pre
	if pre != "user:0000" {
		t.Fatalf("prefix %q, want the members' shared %q", pre, "user:0000")
	}
	others := []string{"", "a", "user", "user:", "user:0", "user:00", "user;", "zzz", "\xff", "u", "user:001"}
	for step := 0; step < 3000; step++ {
		m := others[rng.IntN(len(others))]
		if rng.IntN(3) == 0 {
			m = fmt.Sprintf("user:%08d", rng.IntN(slRekeyMax+1200))
		}
		if rng.IntN(4) == 0 {
			ts++
			z.Rem(m)
			delete(ref, m)
		} else {
			add(m, float64(rng.IntN(4)))
		}
		if step%300 == 0 {
			checkAgainst(t, z, ref)
		}
	}
	checkAgainst(t, z, ref)
	if z.sl.pre != pre {
		t.Fatalf("prefix %q became %q: an index this large must not walk its nodes again", pre, z.sl.pre)
	}
}
