package crdt

import (
	"fmt"
	"math"
	"math/rand/v2"
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
		if nd.key != nameKey(l.member(x)) {
			t.Fatalf("node %d: name key %x, member %q", x, nd.key, l.member(x))
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
