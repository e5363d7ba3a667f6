package crdt

import "math/rand/v2"

// skiplist orders sorted-set members by (score, member) with spans, as Redis's zskiplist does:
// insert, delete, rank and the k-th element in O(log n), so a range of k members costs
// O(log n + k). A skiplist rather than a B-tree because rank needs per-link spans, which a
// skiplist keeps with two integers per level, and its deletes touch no siblings.
type skiplist struct {
	head  *slNode
	level int
	n     int
	rng   *rand.Rand
}

const slMaxLevel = 32

// slNodeCost is what a node costs (charged by ZSet.Bytes): its struct and, on average, 1.33
// links (a level-k node has k, with probability 4^-(k-1)); the member shares the element's
// string.
const slNodeCost = 64 + 24

type slNode struct {
	member string
	score  float64
	back   *slNode
	next   []slLink
}

type slLink struct {
	to   *slNode
	span int
}

// newSlNode allocates a node and its lv links together: a walk then misses the cache once per
// node, where a links slice of its own was a second dependent miss (ZADD's largest cost). The
// links are rounded up to a size class of 1, 2, 4, 8 or 32; four nodes in five have one.
func newSlNode(member string, score float64, lv int) *slNode {
	var nd *slNode
	switch {
	case lv == 1:
		x := &struct {
			slNode
			l [1]slLink
		}{}
		nd = &x.slNode
		nd.next = x.l[:]
	case lv == 2:
		x := &struct {
			slNode
			l [2]slLink
		}{}
		nd = &x.slNode
		nd.next = x.l[:]
	case lv <= 4:
		x := &struct {
			slNode
			l [4]slLink
		}{}
		nd = &x.slNode
		nd.next = x.l[:lv]
	case lv <= 8:
		x := &struct {
			slNode
			l [8]slLink
		}{}
		nd = &x.slNode
		nd.next = x.l[:lv]
	default:
		nd = &slNode{next: make([]slLink, lv)}
	}
	nd.member, nd.score = member, score
	return nd
}

func newSkiplist(seed uint64) *skiplist {
	return &skiplist{head: &slNode{next: make([]slLink, slMaxLevel)}, level: 1, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
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

// insert adds (score, member). reuse, when not nil, is a node delete returned: a member that
// moves keeps its node and its level, so a ZADD that changes a score allocates nothing here.
func (l *skiplist) insert(score float64, member string, reuse *slNode) {
	var update [slMaxLevel]*slNode
	var rank [slMaxLevel]int
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		if i < l.level-1 {
			rank[i] = rank[i+1]
		}
		for y := x.next[i].to; y != nil && less(y.score, y.member, score, member); y = x.next[i].to {
			rank[i] += x.next[i].span
			x = y
		}
		update[i] = x
	}
	var lv int
	if reuse != nil {
		lv = len(reuse.next)
	} else {
		lv = l.randomLevel()
	}
	if lv > l.level {
		for i := l.level; i < lv; i++ {
			rank[i] = 0
			update[i] = l.head
			update[i].next[i].span = l.n
		}
		l.level = lv
	}
	nd := reuse
	if nd != nil {
		nd.member, nd.score, nd.back = member, score, nil
		clear(nd.next)
	} else {
		nd = newSlNode(member, score, lv)
	}
	for i := 0; i < lv; i++ {
		nd.next[i].to = update[i].next[i].to
		update[i].next[i].to = nd
		nd.next[i].span = update[i].next[i].span - (rank[0] - rank[i])
		update[i].next[i].span = rank[0] - rank[i] + 1
	}
	for i := lv; i < l.level; i++ {
		update[i].next[i].span++
	}
	if update[0] != l.head {
		nd.back = update[0]
	}
	if nd.next[0].to != nil {
		nd.next[0].to.back = nd
	}
	l.n++
}

// delete removes (score, member) and returns its node (nil when absent), for insert to reuse.
func (l *skiplist) delete(score float64, member string) *slNode {
	var update [slMaxLevel]*slNode
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		for y := x.next[i].to; y != nil && less(y.score, y.member, score, member); y = x.next[i].to {
			x = y
		}
		update[i] = x
	}
	x = x.next[0].to
	if x == nil || x.score != score || x.member != member {
		return nil
	}
	for i := 0; i < l.level; i++ {
		if update[i].next[i].to == x {
			update[i].next[i].span += x.next[i].span - 1
			update[i].next[i].to = x.next[i].to
		} else {
			update[i].next[i].span--
		}
	}
	if x.next[0].to != nil {
		x.next[0].to.back = x.back
	}
	for l.level > 1 && l.head.next[l.level-1].to == nil {
		l.level--
	}
	l.n--
	return x
}

// rank returns the 0-based rank of (score, member), which must be present.
func (l *skiplist) rank(score float64, member string) int {
	r := 0
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		for y := x.next[i].to; y != nil && !less(score, member, y.score, y.member); y = x.next[i].to {
			r += x.next[i].span
			x = y
		}
		if x != l.head && x.member == member && x.score == score {
			return r - 1
		}
	}
	return r - 1
}

// at returns the node of 0-based rank r, or nil.
func (l *skiplist) at(r int) *slNode {
	if r < 0 || r >= l.n {
		return nil
	}
	r++
	t := 0
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i].to != nil && t+x.next[i].span <= r {
			t += x.next[i].span
			x = x.next[i].to
		}
		if t == r {
			return x
		}
	}
	return nil
}

// firstAtLeast returns the first node for which below is false (nodes are ordered so that below
// is true for a prefix), or nil, with its rank.
func (l *skiplist) firstAtLeast(below func(*slNode) bool) (*slNode, int) {
	x := l.head
	r := 0
	for i := l.level - 1; i >= 0; i-- {
		for y := x.next[i].to; y != nil && below(y); y = x.next[i].to {
			r += x.next[i].span
			x = y
		}
	}
	return x.next[0].to, r
}
