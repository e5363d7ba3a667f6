package crdt

import (
	"math"
	"math/rand/v2"
	"strings"
)

// skiplist orders sorted-set members by (score, member) with spans, as Redis's zskiplist does:
// insert, delete, rank and the k-th element in O(log n), so a range of k members costs
// O(log n + k). A skiplist rather than a B-tree because rank needs per-link spans, which a
// skiplist keeps with two integers per level, and its deletes touch no siblings.
//
// A node is a member's element record (elems.go) by number: node r is record r-1, its member
// name the record's (so the index holds no string of its own), and nodes live in pages of a
// slab beside the records. A node is 32 bytes: its score, its back link, its links of levels 1
// and 2, and where its higher links are in a shared pool (a sixteenth of nodes have any). Links
// are node numbers and 32-bit spans. Node 0 is the head: as a link target it means none.
//
// The level-2 link is in the node, not the pool, because a walk's steps at the two lowest
// levels are the ones that miss the cache (the nodes of the higher levels are few, and hot):
// a step there then loads one line, the node with its score and its links, where a level-2
// step loaded the node and then its links in the pool, two dependent misses. (Redis's node
// holds all its levels in one allocation; a node of fixed size keeps the slab.)
type skiplist struct {
	pages  [][]slNode
	up     []slLink // links of levels 2 and above, in blocks of a node's level - 1
	freeUp [slMaxLevel][]uint32
	head   [slMaxLevel]slLink
	level  int
	n      int
	rng    *rand.Rand
	tab    *elemTab[zpay]
}

const slMaxLevel = 32

// slNodeCost is what a node costs (charged by ZSet.Bytes): its 32 bytes and, on average, a
// twelfth of a pooled link.
const slNodeCost = 32 + 1

// slInline is how many of a node's levels have their link in the node.
const slInline = 2

type slNode struct {
	score float64
	back  uint32 // the previous node (0: none)
	up    uint32 // level-1 in the low 5 bits; the offset of the node's pooled links in up above
	next  [slInline]slLink
}

type slLink struct {
	to   uint32 // node number, 0: none
	span uint32
}

func newSkiplist(seed uint64, tab *elemTab[zpay]) *skiplist {
	return &skiplist{level: 1, tab: tab, rng: slRand(seed)}
}

func (l *skiplist) node(x uint32) *slNode {
	i := x - 1
	return &l.pages[i>>pageBits][i&(pageSize-1)]
}

// link is node x's link at level i (x 0: the head's).
func (l *skiplist) link(x uint32, i int) *slLink {
	if x == 0 {
		return &l.head[i]
	}
	nd := l.node(x)
	if i < slInline {
		return &nd.next[i]
	}
	return &l.up[int(nd.up>>5)+i-slInline]
}

func (l *skiplist) levels(x uint32) int { return int(l.node(x).up&31) + 1 }

func (l *skiplist) member(x uint32) string { return l.tab.name(x - 1) }

// before reports whether node x orders before (score, member).
func (l *skiplist) before(x uint32, score float64, member string) bool {
	s := l.node(x).score
	return s < score || (s == score && l.member(x) < member)
}

// less orders (score, member) pairs.
func less(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

func (l *skiplist) randomLevel() int {
	lv := 1
	for lv < slMaxLevel && l.rng.Uint32()&3 == 0 {
		lv++
	}
	return lv
}

// alloc makes node x (record x-1) exist with lv levels and no links.
func (l *skiplist) alloc(x uint32, lv int) {
	i := x - 1
	for int(i>>pageBits) >= len(l.pages) {
		c := pageSize
		if len(l.pages) == 0 {
			c = 1 // a delta's index stays small; the first page grows
		}
		l.pages = append(l.pages, make([]slNode, 0, c))
	}
	p := &l.pages[i>>pageBits]
	if k := int(i&(pageSize-1)) + 1; k > len(*p) {
		*p = append(*p, make([]slNode, k-len(*p))...)
	}
	var off int
	if lv > slInline {
		if f := l.freeUp[lv-1]; len(f) > 0 {
			off, l.freeUp[lv-1] = int(f[len(f)-1]), f[:len(f)-1]
			clear(l.up[off : off+lv-slInline])
		} else {
			off = len(l.up)
			l.up = append(l.up, make([]slLink, lv-slInline)...)
		}
	}
	*l.node(x) = slNode{up: uint32(off)<<5 | uint32(lv-1)}
}

// release frees node x's pooled links (x was deleted and is not reinserted).
func (l *skiplist) release(x uint32) {
	nd := l.node(x)
	if lv := int(nd.up&31) + 1; lv > slInline {
		l.freeUp[lv-1] = append(l.freeUp[lv-1], nd.up>>5)
	}
	*nd = slNode{}
	if l.n == 0 {
		// Empty: keep nothing of its former size (the element table restarts its numbers).
		*l = skiplist{level: 1, rng: l.rng, tab: l.tab}
	}
}

// insert adds node x, of member record x-1, at score. reuse means x was just deleted (a
// member that moves): it keeps its level and links' storage, so a ZADD that changes a score
// allocates nothing here.
func (l *skiplist) insert(score float64, x uint32, reuse bool) {
	member := l.member(x)
	var update [slMaxLevel]uint32
	var rank [slMaxLevel]uint32
	y := uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		if i < l.level-1 {
			rank[i] = rank[i+1]
		}
		for lk := l.link(y, i); lk.to != 0 && l.before(lk.to, score, member); lk = l.link(y, i) {
			rank[i] += lk.span
			y = lk.to
		}
		update[i] = y
	}
	l.linkIn(score, x, reuse, &update, &rank)
}

// linkIn links node x in at score after update[i] at each level i, whose ranks are rank[i]
// (insert's walk, or move's).
func (l *skiplist) linkIn(score float64, x uint32, reuse bool, update, rank *[slMaxLevel]uint32) {
	var lv int
	if reuse {
		lv = l.levels(x)
		nd := l.node(x)
		nd.back, nd.next = 0, [slInline]slLink{}
		for i := slInline; i < lv; i++ {
			*l.link(x, i) = slLink{}
		}
	} else {
		lv = l.randomLevel()
		l.alloc(x, lv)
	}
	l.node(x).score = score
	if lv > l.level {
		for i := l.level; i < lv; i++ {
			rank[i] = 0
			update[i] = 0
			l.head[i].span = uint32(l.n)
		}
		l.level = lv
	}
	for i := 0; i < lv; i++ {
		u, me := l.link(update[i], i), l.link(x, i)
		me.to = u.to
		u.to = x
		me.span = u.span - (rank[0] - rank[i])
		u.span = rank[0] - rank[i] + 1
	}
	for i := lv; i < l.level; i++ {
		l.link(update[i], i).span++
	}
	nd := l.node(x)
	nd.back = update[0]
	if nd.next[0].to != 0 {
		l.node(nd.next[0].to).back = x
	}
	l.n++
}

// rescore changes node x's score from old to score in place when the node keeps its rank, as
// Redis's zslUpdateScore does: its neighbours at the lowest level still order around it, so no
// link or span changes, and the update costs no walk (a delete and an insert are two walks from
// the top, the larger part of a ZADD that changes a score; a leaderboard's ZINCRBY or a
// timestamp's small step mostly keeps the rank). It reports false, changing nothing, when the
// node would move or x is not a node at old.
func (l *skiplist) rescore(x uint32, old, score float64) bool {
	if !l.isNode(x) {
		return false
	}
	nd := l.node(x)
	if math.Float64bits(nd.score) != math.Float64bits(old) {
		return false
	}
	m := l.member(x)
	if nd.back != 0 && !l.before(nd.back, score, m) {
		return false
	}
	if next := nd.next[0].to; next != 0 && !l.after(next, score, m) {
		return false
	}
	nd.score = score
	return true
}

// move moves node x from score old to score, as a delete and an insert would (rescore first:
// a move that keeps the rank costs no walk), and reports false, changing nothing, when x is
// not a node at old. Their two walks are one descent with two cursors stepped in turn: each
// step of a walk at the lowest levels is a cache miss that the next step depends on, so two
// walks one after the other wait for twice as many misses in a row (the larger part of a
// replica's ZADD of a 100k-member sorted set), where two cursors' misses are independent
// loads that overlap. The insert's cursor walks the list with x still in it: where it would
// stop at x it stops at x's predecessor, and the ranks it counts past x are one too many.
func (l *skiplist) move(x uint32, old, score float64) bool {
	if !l.isNode(x) || l.node(x).score != old {
		return false
	}
	member := l.member(x)
	var ua, ub, ra, rb [slMaxLevel]uint32
	ya, yb := uint32(0), uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		if i < l.level-1 {
			ra[i], rb[i] = ra[i+1], rb[i+1]
		}
		la, lb := l.link(ya, i), l.link(yb, i)
		moreA := la.to != 0 && l.before(la.to, old, member)
		moreB := lb.to != 0 && l.before(lb.to, score, member)
		for moreA || moreB {
			if moreA {
				ra[i] += la.span
				ya = la.to
				la = l.link(ya, i)
				moreA = la.to != 0 && l.before(la.to, old, member)
			}
			if moreB {
				rb[i] += lb.span
				yb = lb.to
				lb = l.link(yb, i)
				moreB = lb.to != 0 && l.before(lb.to, score, member)
			}
		}
		ua[i], ub[i] = ya, yb
	}
	if l.link(ua[0], 0).to != x {
		return false
	}
	rx := ra[0] + 1 // x's rank, counting from 1
	for i := 0; i < l.level; i++ {
		if ub[i] == x {
			ub[i] = ua[i]
			rb[i] -= l.link(ua[i], i).span
		} else if rb[i] > rx {
			rb[i]--
		}
	}
	l.unlink(x, &ua)
	l.linkIn(score, x, true, &ub, &rb)
	return true
}

// isNode reports whether node x exists in the slab (a record with no node yet does not).
func (l *skiplist) isNode(x uint32) bool {
	i := x - 1
	return x != 0 && int(i>>pageBits) < len(l.pages) && int(i&(pageSize-1)) < len(l.pages[i>>pageBits])
}

// delete removes (score, member) and returns its node (0 when absent), which insert may reuse
// and release must otherwise free. The node's record still names member (elems.go keeps a
// removed record's name until the record is reused).
func (l *skiplist) delete(score float64, member string) uint32 {
	var update [slMaxLevel]uint32
	y := uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		for lk := l.link(y, i); lk.to != 0 && l.before(lk.to, score, member); lk = l.link(y, i) {
			y = lk.to
		}
		update[i] = y
	}
	x := l.link(y, 0).to
	if x == 0 || l.node(x).score != score || l.member(x) != member {
		return 0
	}
	l.unlink(x, &update)
	return x
}

// unlink removes node x, whose predecessor at each level i is update[i].
func (l *skiplist) unlink(x uint32, update *[slMaxLevel]uint32) {
	for i := 0; i < l.level; i++ {
		u := l.link(update[i], i)
		if u.to == x {
			me := l.link(x, i)
			u.span += me.span - 1
			u.to = me.to
		} else {
			u.span--
		}
	}
	nd := l.node(x)
	if nd.next[0].to != 0 {
		l.node(nd.next[0].to).back = nd.back
	}
	for l.level > 1 && l.head[l.level-1].to == 0 {
		l.level--
	}
	l.n--
}

// rank returns the 0-based rank of (score, member), which must be present.
func (l *skiplist) rank(score float64, member string) int {
	r := uint32(0)
	y := uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		for lk := l.link(y, i); lk.to != 0 && !l.after(lk.to, score, member); lk = l.link(y, i) {
			r += lk.span
			y = lk.to
		}
		if y != 0 && l.node(y).score == score && l.member(y) == member {
			return int(r) - 1
		}
	}
	return int(r) - 1
}

// after reports whether node x orders after (score, member).
func (l *skiplist) after(x uint32, score float64, member string) bool {
	s := l.node(x).score
	return s > score || (s == score && strings.Compare(l.member(x), member) > 0)
}

// at returns the node of 0-based rank r, or 0.
func (l *skiplist) at(r int) uint32 {
	if r < 0 || r >= l.n {
		return 0
	}
	want := uint32(r + 1)
	t := uint32(0)
	y := uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		for lk := l.link(y, i); lk.to != 0 && t+lk.span <= want; lk = l.link(y, i) {
			t += lk.span
			y = lk.to
		}
		if t == want {
			return y
		}
	}
	return 0
}

// firstAtLeast returns the first node for which below is false (nodes are ordered so that below
// is true for a prefix), or 0, with its rank.
func (l *skiplist) firstAtLeast(below func(score float64, member string) bool) (uint32, int) {
	y := uint32(0)
	r := uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		for lk := l.link(y, i); lk.to != 0 && below(l.node(lk.to).score, l.member(lk.to)); lk = l.link(y, i) {
			r += lk.span
			y = lk.to
		}
	}
	return l.link(y, 0).to, int(r)
}
