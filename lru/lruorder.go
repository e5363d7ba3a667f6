package lru

import (
	"math/bits"
	"sync/atomic"
)

// LRU order without reordering on reads.
//
// A read does not move its entry; it stamps it with the current generation (a 16-bit stamp
// in entry.meta, written atomically under the shard's read lock) and only when the stamp
// changes, so repeated reads of a hot entry write nothing. Generations are runs of 2^shift
// ticks of a per-shard clock that ticks once per stamp change or write; 2^shift is about
// n/64 for a shard of n entries, so a shard's recency range spans some 64 generations, and a
// shard of fewer than 64 entries gets one generation per access.
//
// Entries sit in a circular doubly linked ring divided by 256 sentinels, one per live
// generation, newest first:
//
//	S(top) [entries placed in gen top] S(top-1) [...] ... S(top-255) [oldest] -> S(top)
//
// An insertion or write goes to the front of the newest segment. When the clock moves into a
// new generation, the oldest sentinel is unlinked (its entries join the next segment, keeping
// their order) and relinked as the newest, so the ring always holds the last 256 generations.
// Eviction looks at the oldest entry: if its stamp is newer than its segment, it was read
// since it was placed, so it is moved to the front of its stamp's segment (work paid once per
// stamp change, at eviction time, by the writer); otherwise it is the victim. The result is
// the LRU order at the resolution of one generation: exact while a shard has fewer than 64
// entries, otherwise within about 1/64 of the shard's recency range.

// shiftFor returns the generation length (log2 ticks) for a shard of n entries.
func shiftFor(n int64) uint8 {
	return uint8(bits.Len64(uint64(n) >> 6))
}

// initRing links the sentinels for generations 0..gens-1. Called once, before use.
func (s *shard[K, V, S]) initRing() {
	for k := range uint32(gens) {
		s.sent[k].next = sentBase + (k+gens-1)%gens // towards older
		s.sent[k].prev = sentBase + (k+1)%gens      // towards newer
	}
	s.gtop = gens - 1
	s.genBase = gens - 1
}

// genAt is the generation of clock value t. Needs at least the read lock.
func (s *shard[K, V, S]) genAt(t uint64) uint64 {
	return min(s.genBase+(t-s.clockBase)>>s.shift, s.gtop+genLead)
}

// touch stamps e with the current generation if it is not already; called under the read
// lock by Get and Touch. Concurrent touches of one entry race benignly (same or adjacent
// generation wins).
func (s *shard[K, V, S]) touch(e *entry[K, V, S], meta uint64) {
	if uint16(meta>>stampShift) == uint16(s.genAt(s.clock.Load())) {
		return
	}
	g := s.genAt(s.clock.Add(1))
	atomic.StoreUint64(&e.meta, meta&expiryMask|uint64(uint16(g))<<stampShift)
}

// tick advances the clock for a write and returns the generation to place the entry in.
// Needs the write lock.
func (s *shard[K, V, S]) tick() uint64 {
	return s.syncGen(s.clock.Add(1))
}

// syncGen brings the ring up to the generation of clock value t (rotating sentinels) and
// returns that generation. Needs the write lock.
func (s *shard[K, V, S]) syncGen(t uint64) uint64 {
	if want := shiftFor(s.n); want != s.shift {
		// Rebase so that generations stay continuous across the change of length.
		s.genBase, s.clockBase, s.shift = s.genAt(t), t, want
	}
	g := s.genAt(t)
	if g == s.gtop+genLead {
		// Readers ran far ahead without a writer (genAt clamped them here): count on from
		// here, so that later stamps keep increasing from what they wrote.
		s.genBase, s.clockBase = g, t
	}
	for s.gtop < g {
		// The oldest sentinel becomes the newest. Unlinking it appends its entries to the
		// next segment (one generation newer), behind that segment's own: order is kept.
		k := uint32((s.gtop + 1) % gens)
		sk := sentBase + k
		old := s.sent[k]
		s.linkNext(old.prev, old.next)
		top := sentBase + uint32(s.gtop%gens)
		s.linkNext(s.sent[top-sentBase].prev, sk)
		s.linkNext(sk, top)
		s.gtop++
	}
	return g
}

// linkNext makes b follow a (a.next = b, b.prev = a).
func (s *shard[K, V, S]) linkNext(a, b uint32) {
	if a >= sentBase {
		s.sent[a-sentBase].next = b
	} else {
		s.at(a - 1).setNext(b)
	}
	if b >= sentBase {
		s.sent[b-sentBase].prev = a
	} else {
		s.at(b - 1).setPrev(a)
	}
}

// linkAfter inserts entry l right after anchor (towards older). Needs the write lock.
func (s *shard[K, V, S]) linkAfter(anchor, l uint32) {
	var n uint32
	if anchor >= sentBase {
		n = s.sent[anchor-sentBase].next
	} else {
		n = s.at(anchor - 1).next()
	}
	s.linkNext(anchor, l)
	s.linkNext(l, n)
}

// unlink takes e out of the ring. Needs the write lock.
func (s *shard[K, V, S]) unlink(e *entry[K, V, S]) {
	s.linkNext(e.prev(), e.next())
}

// restamp marks entry e as written now: a fresh stamp (it stays where it is; eviction moves
// it when it reaches the old end). Needs the write lock.
func (s *shard[K, V, S]) restamp(e *entry[K, V, S], expiry int64) {
	e.meta = packMeta(expiry, s.tick())
}

// victim returns the least recently used entry other than keep (at generation resolution),
// moving entries that were read since they were placed to their stamp's segment on the way.
// 0 if there is none. Needs the write lock.
func (s *shard[K, V, S]) victim(keep uint32) uint32 {
	s.syncGen(s.clock.Load()) // catch up with generations readers may have stamped
	oldest := s.gtop - gens + 1
	// Segments older than low are known to be empty. Afterwards low moves up to the segment
	// where the search stopped, unless keep was passed over earlier; never past gtop, where
	// new entries go.
	seg := max(s.low, oldest)
	kept := s.gtop + 1
	defer func() { s.low = min(seg, kept, s.gtop) }()
	for ; seg <= s.gtop; seg++ {
		// Walk segment seg from its old end, bounded by the next older sentinel (or, for the
		// oldest segment, by the ring wrapping round to the newest sentinel).
		bound := sentBase + uint32((seg-1)%gens)
		if seg == oldest {
			bound = sentBase + uint32(s.gtop%gens)
		}
		own := sentBase + uint32(seg%gens)
		for x := s.sent[bound-sentBase].prev; x != own; {
			e := s.at(x - 1)
			if x == keep {
				kept = min(kept, seg)
				x = e.prev()
				continue
			}
			d := uint64(uint16(uint16(e.meta>>stampShift) - uint16(seg)))
			if d == 0 || d > s.gtop-seg {
				// Not read since its segment (or stamped so long ago that the stamp wrapped).
				return x
			}
			p := e.prev()
			s.unlink(e)
			s.linkAfter(sentBase+uint32((seg+d)%gens), x)
			x = p
		}
	}
	return 0
}
