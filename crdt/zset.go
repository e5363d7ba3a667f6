package crdt

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// ZSet is a sorted set: members as an add-wins observed-remove set, each with a score merged
// deterministically from its surviving writes:
//
//   - ZADD writes an absolute score: it observes (removes) every write of the member and adds
//     its own, so concurrent ZADDs both survive and the higher version's score wins (an LWW
//     register).
//   - ZINCRBY adds an increment tagged with the epoch it applies to (the absolute write it saw
//     win, or none). The score is the winning absolute score plus every surviving increment of
//     its epoch (with no absolute write: every increment). So increments made concurrently in
//     two regions both count, like a counter, while a ZADD that observed them resets them.
//     A replica folds its own earlier increments of the epoch into its new one, so a member
//     incremented a million times holds one increment per replica, not a million.
//   - A ZADD concurrent with a ZINCRBY: the ZADD wins and the increment (tagged with the old
//     epoch) no longer counts. A ZREM concurrent with a ZINCRBY: the increment survives (add
//     wins) and the member's score is the increments made since the last ZADD.
//
// Increments are summed in dot order, so every replica computes bit-identical float scores.
// Members are indexed by (score, member) in a skiplist: ranges cost O(log n + k). A member's
// score is computed from its writes (one, usually: O(1)), so no map of scores is kept beside
// the index; an index update learns the old score from the dots the change replaced.
// A ZSet is not safe for concurrent use; see NewZSet.
type ZSet struct {
	c       orCore[zpay]
	sl      *skiplist
	scratch *ZSetScratch // armed by UseScratch for the next write's delta
}

// zpay is one write of a member: an absolute score, or an increment of an epoch.
type zpay struct {
	Incr  bool
	Score float64
	Epoch Version // Incr only: the absolute write it applies to (zero: none)
}

// zpaySize is a score's inline cost, its 8 bytes (elemBytes adds a Dotted for one held aside).
func zpaySize(zpay) int { return 8 }

// NewZSet returns an empty sorted set of incarnation reset.
func NewZSet(reset Version) *ZSet {
	z := &ZSet{c: newCore[zpay](reset)}
	z.index()
	return z
}

// Reset is the sorted set's incarnation.
func (z *ZSet) Reset() Version { return z.c.Reset }

// Len is the number of members.
func (z *ZSet) Len() int { z.settle(); return z.c.elems.len() }

// Bytes approximates the memory the sorted set holds (with its index).
func (z *ZSet) Bytes() int {
	z.settle()
	if z.sl == nil {
		return z.c.bytes
	}
	return z.c.bytes + z.sl.n*slNodeCost
}

// Tombstones is the number of removed writes remembered until causally stable.
func (z *ZSet) Tombstones() int { z.settle(); return z.c.ntomb }

// Expiry returns the sorted set's expiry register.
func (z *ZSet) Expiry() int64 { return z.c.Expiry }

// Score returns a member's score.
func (z *ZSet) Score(m string) (float64, bool) {
	z.settle()
	var buf [1]Dotted[zpay]
	ds := z.c.elems.get(m, &buf)
	if ds == nil {
		return 0, false
	}
	s, _ := score(ds)
	return s, true
}

// Rank returns a member's 0-based rank in ascending (score, member) order.
func (z *ZSet) Rank(m string) (int, bool) {
	s, ok := z.Score(m)
	if !ok || z.sl == nil {
		return 0, false
	}
	return z.ix().rank(s, m), true
}

// CountScore returns how many members come before the first one whose score below is false
// for; below must be true for a prefix of the ascending order (e.g. score < min).
func (z *ZSet) CountScore(below func(score float64) bool) int {
	if z.sl == nil {
		return 0
	}
	_, r := z.ix().firstAtLeast(below, nil)
	return r
}

// CountName is CountScore for a below that reads the member name (a lexicographic range of
// members of one score).
func (z *ZSet) CountName(below func(member string) bool) int {
	if z.sl == nil {
		return 0
	}
	_, r := z.ix().firstAtLeast(nil, below)
	return r
}

// Walk calls fn for members from 0-based rank r onwards, ascending (or descending when rev),
// until fn returns false or the members run out.
func (z *ZSet) Walk(r int, rev bool, fn func(member string, score float64) bool) {
	if z.sl == nil {
		return
	}
	sl := z.ix()
	for x := sl.at(r); x != 0; {
		nd := sl.node(x)
		if !fn(sl.member(x), nd.score) {
			return
		}
		if rev {
			x = nd.back
		} else {
			x = nd.next[0].to
		}
	}
}

// score computes a member's score from its surviving writes (see ZSet).
func score(ds []Dotted[zpay]) (float64, Version) {
	if len(ds) == 1 { // the usual case, without the sort's allocation
		if ds[0].P.Incr {
			return ds[0].P.Score, Version{}
		}
		return ds[0].P.Score, ds[0].Dot
	}
	var abs *Dotted[zpay]
	for i := range ds {
		if !ds[i].P.Incr && (abs == nil || abs.Dot.Less(ds[i].Dot)) {
			abs = &ds[i]
		}
	}
	var s float64
	var epoch Version
	if abs != nil {
		s, epoch = abs.P.Score, abs.Dot
	}
	sorted := slices.SortedFunc(slices.Values(ds), func(a, b Dotted[zpay]) int { return a.Dot.Compare(b.Dot) })
	for _, d := range sorted {
		if d.P.Incr && (abs == nil || d.P.Epoch == epoch) {
			s += d.P.Score
		}
	}
	return s, epoch
}

// reindex moves member m in the index after its dots changed from old (nil: m was not indexed).
func (z *ZSet) reindex(m string, old []Dotted[zpay]) {
	i, live := z.c.elems.find(m)
	z.reindexAt(m, i, live, old)
}

// reindexAt is reindex for m held at record i (live), or no longer held, as the caller knows.
func (z *ZSet) reindexAt(m string, i uint32, live bool, old []Dotted[zpay]) {
	if z.sl == nil { // a delta's index is made when first needed: before the change
		z.sl = newSkiplist(slSeed(z.c.Reset), z.c.elems)
	}
	sl := z.ix()
	var buf [1]Dotted[zpay]
	var s float64
	if live {
		s, _ = score(z.c.elems.dots(i, &buf))
	}
	var nd uint32
	if len(old) > 0 {
		o, _ := score(old)
		if live && math.Float64bits(o) == math.Float64bits(s) {
			return // a re-add of the same score (bitwise: -0 and 0 print differently)
		}
		if live && (sl.rescore(i+1, o, s) || sl.move(i+1, o, s)) {
			return
		}
		nd = sl.delete(o, m)
	}
	if live {
		sl.insert(s, i+1, nd == i+1)
		if nd != 0 && nd != i+1 {
			sl.release(nd)
		}
	} else if nd != 0 {
		sl.release(nd)
	}
}

// reindexPrior is reindex as the change hook of join, flushBefore and applyEncoded.
func (z *ZSet) reindexPrior(m string, old priorDots[zpay]) { z.reindex(m, old.dots()) }

// ix returns z's index pointed at z's own records: a ZSet copied by value (*z = *NewZSet(v),
// as the node resets a collection in place) would otherwise read the original's.
func (z *ZSet) ix() *skiplist {
	z.sl.tab = z.c.elems
	return z.sl
}

// index builds the index of a state that has none (decoded, cloned, replaced).
func (z *ZSet) index() {
	z.sl = newSkiplist(slSeed(z.c.Reset), z.c.elems)
	z.fillIndex()
}

// fillIndex adds every member to z's empty index.
func (z *ZSet) fillIndex() {
	if z.c.elems == nil {
		return
	}
	var buf [1]Dotted[zpay]
	for i := uint32(0); i < z.c.elems.top; i++ {
		if z.c.elems.rec(i).rep != repFree {
			s, _ := score(z.c.elems.dots(i, &buf))
			z.sl.insert(s, i+1, false)
		}
	}
}

// settle moves a delta's ops into its state and index (see orCore.ops); a no-op otherwise.
func (z *ZSet) settle() {
	if z.c.ops == nil {
		return
	}
	z.c.settle(zpaySize)
	if z.sl != nil {
		z.index()
	}
}

// delta returns an empty delta of z's incarnation. Its index (scores, skiplist) is made only
// if it is joined with another (deltas of one command are): a ZADD's delta is encoded and
// dropped, and the index cost more than the rest of it.
func (z *ZSet) delta() *ZSet {
	d := &ZSet{c: newCore[zpay](z.c.Reset)}
	d.c.ExpVer = Version{}
	return d
}

// Add sets member's absolute score as write dot and returns the delta.
func (z *ZSet) Add(dot Version, member string, s float64) *ZSet { return z.AddTo(nil, dot, member, s) }

// AddTo is Add recording the write in d, a delta of z's earlier writes by the same command
// (nil: a new one), and returns it: a command that writes one member twice (ZADD k 1 m 2 m)
// must ship its last score, which joining two deltas of one dot would not.
func (z *ZSet) AddTo(d *ZSet, dot Version, member string, s float64) *ZSet {
	direct := dot.TS >= z.c.Floor
	if d == nil {
		d = newZSetDelta(z.c.Reset, direct, z.takeScratch())
	}
	if direct {
		var old [1]Dotted[zpay] // the dots before the write, for the index
		var ds []Dotted[zpay]
		at, found := z.c.elems.find(member)
		if found {
			ds = z.c.elems.dots(at, &old)
		}
		_, at = z.c.writeLocalAt(&d.c, member, at, found, dot, zpay{Score: s}, zpaySize)
		z.reindexAt(member, at, true, ds)
		return d
	}
	z.c.removeDelta(&d.c, member)
	d.c.setElem(member, []Dotted[zpay]{{Dot: dot, P: zpay{Score: s}}}, zpaySize)
	z.Join(d)
	return d
}

// Incr adds by to member's score (0 if absent) as write dot and returns the new score and the
// delta. The caller rejects a result that is NaN, as Redis does.
func (z *ZSet) Incr(dot Version, member string, by float64) (float64, *ZSet) {
	d := z.delta()
	var buf [1]Dotted[zpay]
	ds := z.c.elems.get(member, &buf)
	_, epoch := score(ds)
	hasAbs := slices.ContainsFunc(ds, func(x Dotted[zpay]) bool { return !x.P.Incr })
	own := slices.SortedFunc(slices.Values(ds), func(a, b Dotted[zpay]) int { return a.Dot.Compare(b.Dot) })
	sum := 0.0
	for _, x := range own {
		// Fold this replica's increments of the epoch that counts (with no absolute write,
		// every epoch counts) into the new one, preserving the sum.
		if x.P.Incr && x.Dot.Replica == dot.Replica && (!hasAbs || x.P.Epoch == epoch) {
			sum += x.P.Score
			d.c.addTomb(member, x.Dot)
		}
	}
	d.c.setElem(member, []Dotted[zpay]{{Dot: dot, P: zpay{Incr: true, Score: sum + by, Epoch: epoch}}}, zpaySize)
	z.Join(d)
	s, _ := z.Score(member)
	return s, d
}

// Rem removes members and returns how many were present and the delta (nil when none were).
func (z *ZSet) Rem(members ...string) (int, *ZSet) {
	d := z.delta()
	n := 0
	for _, m := range members {
		if !d.c.tomb.has(m) && z.c.removeDelta(&d.c, m) {
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	z.Join(d)
	return n, d
}

// SetExpiry writes the expiry register (0 = persist) and returns the delta.
func (z *ZSet) SetExpiry(dot Version, expiry int64) *ZSet {
	d := z.delta()
	d.c.Expiry, d.c.ExpVer = expiry, dot
	z.Join(d)
	return d
}

// Join merges in into z; the higher incarnation wins whole.
func (z *ZSet) Join(in *ZSet) {
	z.settle()
	in.settle()
	switch in.c.Reset.Compare(z.c.Reset) {
	case 1:
		z.c = in.c.clone()
		z.c.adopt()
		z.index()
	case 0:
		z.c.join(&in.c, zpaySize, z.reindexPrior)
	}
}

// Compact forgets removed writes stamped before stable.
func (z *ZSet) Compact(stable Timestamp) { z.settle(); z.c.compact(stable) }

// Clone returns a deep copy of z.
func (z *ZSet) Clone() *ZSet {
	z.settle()
	out := &ZSet{c: z.c.clone()}
	out.index()
	return out
}

// AppendBinary appends z's encoding to dst. A payload is kind:u8 (0 absolute, 1 increment)
// score:fixed64 (IEEE 754 bits), and for an increment its epoch version.
func (z *ZSet) AppendBinary(dst []byte) []byte {
	return z.c.appendTo(dst, putZpay, zpaySize)
}

func putZpay(b []byte, p zpay) []byte {
	if !p.Incr {
		b = append(b, 0)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Score))
	}
	b = append(b, 1)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Score))
	return appendVersion(b, p.Epoch)
}

// DecodeZSet decodes a sorted-set state or delta. A NaN score is ErrMalformed.
func DecodeZSet(src []byte) (*ZSet, error) {
	c, err := decodeCore(src, zpaySize)
	if err != nil {
		return nil, fmt.Errorf("zset: %w", err)
	}
	z := &ZSet{c: c}
	z.index()
	return z, nil
}

// Full reports whether z is a complete state (see Hash.Full).
func (z *ZSet) Full() bool { return z.c.Full }

// MarkFull marks z complete.
func (z *ZSet) MarkFull() { z.c.Full = true }

// FlushBefore removes every write stamped at or before f.
func (z *ZSet) FlushBefore(f Timestamp) { z.settle(); z.c.flushBefore(f, zpaySize, z.reindexPrior) }

// CopyAs returns a new complete sorted set of incarnation dot with z's members, each with its
// current score as an absolute write by dot, and z's expiry.
func (z *ZSet) CopyAs(dot Version) *ZSet {
	z.settle()
	out := &ZSet{c: z.c.rebase(dot, func(_ string, ds []Dotted[zpay]) zpay { s, _ := score(ds); return zpay{Score: s} }, zpaySize)}
	out.index()
	return out
}

// readZpay reads one member write's payload (see AppendBinary); a NaN score is ErrMalformed.
func readZpay(r *reader) (zpay, error) {
	var p zpay
	k, err := r.byte("score kind")
	if err != nil {
		return p, err
	}
	if k > 1 {
		return p, fmt.Errorf("%w: score kind %d", ErrMalformed, k)
	}
	bits, err := r.fixed64("score")
	if err != nil {
		return p, err
	}
	p.Incr, p.Score = k == 1, math.Float64frombits(bits)
	if math.IsNaN(p.Score) {
		return p, fmt.Errorf("%w: NaN score", ErrMalformed)
	}
	if p.Incr {
		p.Epoch, err = r.version("epoch")
	}
	return p, err
}

// ApplyDelta merges an encoded delta (or state) of z's incarnation into z in place, with the
// result of Join(DecodeZSet(src)) but without decoding it into a state of its own (a
// replica's hot path). Malformed input, or another incarnation (ErrVersion), is an error and
// changes nothing.
func (z *ZSet) ApplyDelta(src []byte) error {
	z.settle()
	if z.sl == nil {
		z.index()
	}
	if err := z.c.applyEncoded(src, zpaySize, z.reindexPrior); err != nil {
		return fmt.Errorf("zset: %w", err)
	}
	return nil
}

// ApplyRun is Hash.ApplyRun for sorted sets.
func (z *ZSet) ApplyRun(n int, src func(i int) []byte, maxTombs int) int {
	z.settle()
	if z.sl == nil {
		z.index()
	}
	return z.c.applyRun(n, src, maxTombs, zpaySize, z.reindexPrior)
}
