package crdt

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"unsafe"
)

// skiplist orders sorted-set members by (score, member) with spans, as Redis's zskiplist does:
// insert, delete, rank and the k-th element in O(log n), so a range of k members costs
// O(log n + k). A skiplist rather than a B-tree because rank needs per-link spans, which a
// skiplist keeps with two integers per level, and its deletes touch no siblings.
//
// A node is a member's element record (elems.go) by number: node r is record r-1, its member
// name the record's (so the index holds no string of its own), and nodes live in pages of a
// slab beside the records. A node is 32 bytes: its score, its name's order key (keyOf), its
// back link, its level-1 link, and where its block of higher links is in a shared pool (a
// quarter of nodes have one). Node 0 is the head: as a link target it means none.
//
// A walk is a chain of dependent loads, each step a cache miss when the step's target is cold:
// in a sorted set of 100k members the walk was most of a ZADD. So the levels above the first
// are walked in the pool alone: a node's block holds, before its links, its score and its node
// number, and a link of those levels points at its target's block, not its node. The pool is a
// few bytes a member, against the slab's 32 (and the element records' 32 and names), so its
// lines stay cached where the slab's miss: a walk misses on its last level's few steps, where
// it missed on each level's. A position on a level is thus a node number on level 1 and a block
// offset above (0: the head on both).
//
// A node's name key settles most ties of score without the record and its name (two more
// misses): an index of integer scores has many ties. The key is 8 bytes of the name after the
// prefix all members share (pre, at most slPreMax bytes): members' names mostly share one
// ("user:", redis-benchmark's "m0000000"), which a key of the names' first bytes would hold and
// nothing else. A member that does not share pre shortens it and the keys are made again, a
// walk of the list: at most slPreMax times in the index's life, and only while it holds fewer
// than slRekeyMax members; a larger index keeps pre, and such a member gets the least or the
// greatest key (keyOf), its ties settled by the names.
type skiplist struct {
	pages  [][]slNode
	up     []slLink // blocks: slHdr entries of header, then links of levels 2 and above
	freeUp [slMaxLevel][]uint32
	head   [slMaxLevel]slLink
	level  int
	n      int
	rng    *rand.Rand
	tab    *elemTab[zpay]
	pre    string // the prefix of every member's name (when n > 0)
}

// slPreMax bounds pre, and so how often the keys are made again.
const slPreMax = 16

// slRekeyMax is the size from which an index no longer shortens pre (admit): making the keys
// again walks every node, and a walk of 1M members held its writer (a node's event loop, or a
// replica applying a delta) for 126 ms; of 4096, well under a millisecond.
const slRekeyMax = 4096

const slMaxLevel = 32

// slNodeCost is what a node costs (charged by ZSet.Bytes): its 32 bytes and, on average, a
// quarter of a block of 2 header entries and 4/3 links of 8 bytes.
const slNodeCost = 32 + 7

// slInline is how many of a node's levels have their link in the node.
const slInline = 1

// slHdr is a block's header entries: its score's bits, then its node and level count.
const slHdr = 2

type slNode struct {
	score float64
	key   uint64 // keyOf the member
	back  uint32 // the previous node (0: none)
	up    uint32 // level-1 in the low 5 bits; the offset of the node's block in up above (0: none)
	next  [slInline]slLink
}

type slLink struct {
	to   uint32 // the target's position on the link's level, 0: none
	span uint32
}

// nameKey is the first 8 bytes of m, big-endian and zero-padded: nameKey(a) < nameKey(b)
// implies a < b, and equal keys leave the names to compare.
func nameKey(m string) uint64 {
	if len(m) >= 8 {
		return binary.BigEndian.Uint64(unsafe.Slice(unsafe.StringData(m), 8))
	}
	var k uint64
	for i := 0; i < len(m); i++ {
		k |= uint64(m[i]) << (56 - 8*i)
	}
	return k
}

func newSkiplist(seed uint64, tab *elemTab[zpay]) *skiplist {
	return &skiplist{level: 1, tab: tab, rng: slRand(seed)}
}

func (l *skiplist) node(x uint32) *slNode {
	i := x - 1
	return &l.pages[i>>pageBits][i&(pageSize-1)]
}

// lk is the link at level i of position p (0: the head's).
func (l *skiplist) lk(p uint32, i int) *slLink {
	if p == 0 {
		return &l.head[i]
	}
	if i < slInline {
		return &l.node(p).next[i]
	}
	return &l.up[p+slHdr+uint32(i-slInline)]
}

// pos is node x's position on level i (x 0: the head's, 0).
func (l *skiplist) pos(x uint32, i int) uint32 {
	if x == 0 || i < slInline {
		return x
	}
	return l.node(x).up >> 5
}

// link is node x's link at level i (x 0: the head's).
func (l *skiplist) link(x uint32, i int) *slLink { return l.lk(l.pos(x, i), i) }

// blockScore and blockNode read block b's header.
func (l *skiplist) blockScore(b uint32) float64 {
	h := l.up[b]
	return math.Float64frombits(uint64(h.to) | uint64(h.span)<<32)
}

func (l *skiplist) blockNode(b uint32) uint32 { return l.up[b+1].to }

// nodeAt is the node at position p of level i.
func (l *skiplist) nodeAt(p uint32, i int) uint32 {
	if p == 0 || i < slInline {
		return p
	}
	return l.blockNode(p)
}

func (l *skiplist) levels(x uint32) int { return int(l.node(x).up&31) + 1 }

func (l *skiplist) member(x uint32) string { return l.tab.name(x - 1) }

// keyOf is member m's key. A name without the prefix pre (not a member: a delta's index made
// after its members were written looks for them) orders before or after every member, as it
// does pre, and gets the least or the greatest key: a tie of keys compares the names.
func (l *skiplist) keyOf(m string) uint64 {
	if !strings.HasPrefix(m, l.pre) {
		if m < l.pre {
			return 0
		}
		return math.MaxUint64
	}
	return nameKey(m[len(l.pre):])
}

// admit makes pre a prefix of member m, about to be inserted, making the keys again if it
// shrinks — in an index of fewer than slRekeyMax members. A larger one keeps pre: m gets the
// least or the greatest key (keyOf), as a name that is not a member does, which orders it
// correctly against every member with pre (those names form one interval of the order, which
// m is below or above), and ties with others like it are settled by the names.
func (l *skiplist) admit(m string) {
	if l.n == 0 {
		l.pre = strings.Clone(m[:min(len(m), slPreMax)])
		return
	}
	if strings.HasPrefix(m, l.pre) || l.n >= slRekeyMax {
		return
	}
	k := 0
	for k < len(l.pre) && k < len(m) && l.pre[k] == m[k] {
		k++
	}
	l.pre = l.pre[:k]
	for x := l.head[0].to; x != 0; x = l.node(x).next[0].to {
		l.node(x).key = l.keyOf(l.member(x))
	}
}

// cmpName compares node x's member with member, whose key is key.
func (l *skiplist) cmpName(x uint32, key uint64, member string) int {
	if k := l.node(x).key; k != key {
		if k < key {
			return -1
		}
		return 1
	}
	return strings.Compare(l.member(x), member)
}

// beforeAt reports whether the target p of a link of level i orders before (score, member),
// member's key being key.
func (l *skiplist) beforeAt(p uint32, i int, score float64, key uint64, member string) bool {
	var s float64
	var x uint32
	if i < slInline {
		nd := l.node(p)
		if nd.score != score {
			return nd.score < score
		}
		if nd.key != key {
			return nd.key < key
		}
		x = p
	} else {
		if s = l.blockScore(p); s != score {
			return s < score
		}
		x = l.blockNode(p)
	}
	return l.cmpName(x, key, member) < 0
}

// before reports whether node x orders before (score, member).
func (l *skiplist) before(x uint32, score float64, member string) bool {
	return l.beforeAt(x, 0, score, l.keyOf(member), member)
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
		size := slHdr + lv - slInline
		if f := l.freeUp[lv-1]; len(f) > 0 {
			off, l.freeUp[lv-1] = int(f[len(f)-1]), f[:len(f)-1]
			clear(l.up[off : off+size])
		} else {
			if len(l.up) == 0 {
				l.up = append(l.up, slLink{}) // offset 0 is no block
			}
			off = len(l.up)
			l.up = append(l.up, make([]slLink, size)...)
		}
		l.up[off+1] = slLink{to: x, span: uint32(lv)}
	}
	*l.node(x) = slNode{up: uint32(off)<<5 | uint32(lv-1)}
}

// release frees node x's block (x was deleted and is not reinserted).
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

// setScore sets node x's score, in its node and its block.
func (l *skiplist) setScore(x uint32, score float64) {
	nd := l.node(x)
	nd.score = score
	if b := nd.up >> 5; b != 0 {
		bits := math.Float64bits(score)
		l.up[b] = slLink{to: uint32(bits), span: uint32(bits >> 32)}
	}
}

// find descends to the last position before (score, member) on each level: update[i], of rank
// rank[i] (the head's 0).
func (l *skiplist) find(score float64, member string, update, rank *[slMaxLevel]uint32) {
	key := l.keyOf(member)
	y := uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		if i == slInline-1 {
			y = l.nodeAt(y, slInline)
		}
		if i < l.level-1 {
			rank[i] = rank[i+1]
		}
		for lk := l.lk(y, i); lk.to != 0 && l.beforeAt(lk.to, i, score, key, member); lk = l.lk(y, i) {
			rank[i] += lk.span
			y = lk.to
		}
		update[i] = y
	}
}

// insert adds node x, of member record x-1, at score. reuse means x was just deleted (a
// member that moves): it keeps its level and its block, so a ZADD that changes a score
// allocates nothing here.
func (l *skiplist) insert(score float64, x uint32, reuse bool) {
	member := l.member(x)
	l.admit(member)
	var update, rank [slMaxLevel]uint32
	l.find(score, member, &update, &rank)
	l.linkIn(score, l.keyOf(member), x, reuse, &update, &rank)
}

// linkIn links node x in at score after update[i] at each level i, whose ranks are rank[i]
// (insert's walk, or move's); key is the member's key.
func (l *skiplist) linkIn(score float64, key uint64, x uint32, reuse bool, update, rank *[slMaxLevel]uint32) {
	var lv int
	if reuse {
		lv = l.levels(x)
		nd := l.node(x)
		nd.back, nd.next = 0, [slInline]slLink{}
		if b := nd.up >> 5; b != 0 {
			clear(l.up[b+slHdr : int(b)+slHdr+lv-slInline])
		}
	} else {
		lv = l.randomLevel()
		l.alloc(x, lv)
	}
	l.node(x).key = key
	l.setScore(x, score)
	if lv > l.level {
		for i := l.level; i < lv; i++ {
			rank[i] = 0
			update[i] = 0
			l.head[i].span = uint32(l.n)
		}
		l.level = lv
	}
	b := l.node(x).up >> 5
	for i := 0; i < lv; i++ {
		px := x
		if i >= slInline {
			px = b
		}
		u, me := l.lk(update[i], i), l.lk(px, i)
		me.to = u.to
		u.to = px
		me.span = u.span - (rank[0] - rank[i])
		u.span = rank[0] - rank[i] + 1
	}
	for i := lv; i < l.level; i++ {
		l.lk(update[i], i).span++
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
	l.setScore(x, score)
	return true
}

// move moves node x from score old to score, as a delete and an insert would (rescore first:
// a move that keeps the rank costs no walk), and reports false, changing nothing, when x is
// not a node at old. Their two walks are one descent with two cursors stepped in turn: each
// step of a walk that misses the cache is a load the next step depends on, so two walks one
// after the other wait for twice as many misses in a row, where two cursors' misses are
// independent loads that overlap. The insert's cursor walks the list with x still in it: where
// it would stop at x it stops at x's predecessor, and the ranks it counts past x are one too
// many. The delete's cursor stops above the first level: there x's predecessor is its back
// link, and the first level's steps were the walk's misses on the slab (a node's score);
// whether the insert's cursor counted x is known from where it stands, not from x's rank.
func (l *skiplist) move(x uint32, old, score float64) bool {
	if !l.isNode(x) || l.node(x).score != old {
		return false
	}
	member := l.member(x)
	key := l.node(x).key
	bx := l.node(x).up >> 5
	var ua, ub, rb [slMaxLevel]uint32
	ya, yb := uint32(0), uint32(0)
	for i := l.level - 1; i >= slInline; i-- {
		if i < l.level-1 {
			rb[i] = rb[i+1]
		}
		la, lb := l.lk(ya, i), l.lk(yb, i)
		moreA := la.to != 0 && la.to != bx && l.beforeAt(la.to, i, old, key, member)
		moreB := lb.to != 0 && l.beforeAt(lb.to, i, score, key, member)
		for moreA || moreB {
			if moreA {
				ya = la.to
				la = l.lk(ya, i)
				moreA = la.to != 0 && la.to != bx && l.beforeAt(la.to, i, old, key, member)
			}
			if moreB {
				rb[i] += lb.span
				yb = lb.to
				lb = l.lk(yb, i)
				moreB = lb.to != 0 && l.beforeAt(lb.to, i, score, key, member)
			}
		}
		ua[i], ub[i] = ya, yb
	}
	// The first level: the insert's cursor from its node above, the delete's stop is x's back.
	yb = l.nodeAt(yb, slInline)
	if l.level-1 > 0 {
		rb[0] = rb[1]
	}
	for lb := l.lk(yb, 0); lb.to != 0 && l.beforeAt(lb.to, 0, score, key, member); lb = l.lk(yb, 0) {
		rb[0] += lb.span
		yb = lb.to
	}
	ua[0], ub[0] = l.node(x).back, yb
	if l.lk(ua[0], 0).to != x {
		return false
	}
	lv := l.levels(x)
	for i := 0; i < l.level; i++ {
		px := x
		if i >= slInline {
			px = bx
		}
		if i < lv && ub[i] == px {
			ub[i] = ua[i]
			rb[i] -= l.lk(ua[i], i).span
		} else if ub[i] != 0 && !l.beforeAt(ub[i], i, old, key, member) {
			// The cursor stands beyond x (its score just read: cached), so its rank
			// counted x.
			rb[i]--
		}
	}
	l.unlink(x, &ua)
	l.linkIn(score, key, x, true, &ub, &rb)
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
	var update, rank [slMaxLevel]uint32
	l.find(score, member, &update, &rank)
	x := l.lk(update[0], 0).to
	if x == 0 || l.node(x).score != score || l.member(x) != member {
		return 0
	}
	l.unlink(x, &update)
	return x
}

// unlink removes node x, whose predecessor at each level i is update[i].
func (l *skiplist) unlink(x uint32, update *[slMaxLevel]uint32) {
	nd := l.node(x)
	lv, b := int(nd.up&31)+1, nd.up>>5
	for i := 0; i < l.level; i++ {
		px := x
		if i >= slInline {
			px = b
		}
		u := l.lk(update[i], i)
		if i < lv && u.to == px {
			me := l.lk(px, i)
			u.span += me.span - 1
			u.to = me.to
		} else {
			u.span--
		}
	}
	if nd.next[0].to != 0 {
		l.node(nd.next[0].to).back = nd.back
	}
	for l.level > 1 && l.head[l.level-1].to == 0 {
		l.level--
	}
	l.n--
}

// rank returns the 0-based rank of (score, member), which must be present: the number of
// nodes before it.
func (l *skiplist) rank(score float64, member string) int {
	var update, rank [slMaxLevel]uint32
	l.find(score, member, &update, &rank)
	return int(rank[0])
}

// after reports whether node x orders after (score, member).
func (l *skiplist) after(x uint32, score float64, member string) bool {
	nd := l.node(x)
	if nd.score != score {
		return nd.score > score
	}
	return l.cmpName(x, l.keyOf(member), member) > 0
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
		for lk := l.lk(y, i); lk.to != 0 && t+lk.span <= want; lk = l.lk(y, i) {
			t += lk.span
			y = lk.to
		}
		if t == want {
			return l.nodeAt(y, i)
		}
		if i == slInline {
			y = l.nodeAt(y, i)
		}
	}
	return 0
}

// firstAtLeast returns the first node for which below is false (nodes are ordered so that below
// is true for a prefix), or 0, with its rank. below reads a score (byScore) or a member name:
// a score range walks the levels above the first in the pool alone, without the slab, the
// record and the name a name's compare reads.
func (l *skiplist) firstAtLeast(byScore func(float64) bool, byName func(string) bool) (uint32, int) {
	y := uint32(0)
	r := uint32(0)
	for i := l.level - 1; i >= 0; i-- {
		for lk := l.lk(y, i); lk.to != 0; lk = l.lk(y, i) {
			var below bool
			switch {
			case byName != nil:
				below = byName(l.member(l.nodeAt(lk.to, i)))
			case i < slInline:
				below = byScore(l.node(lk.to).score)
			default:
				below = byScore(l.blockScore(lk.to))
			}
			if !below {
				break
			}
			r += lk.span
			y = lk.to
		}
		if i == slInline {
			y = l.nodeAt(y, i)
		}
	}
	return l.lk(y, 0).to, int(r)
}
