package crdt

// withOp is a local write's delta allocated together with room for its first op (orCore.ops):
// the delta of an HSET, SADD or ZADD of one element was two allocations, the state and its
// ops slice, of every write (on a node without replicas, nobody reads either). One allocation
// of the same size class (a Hash's 128 bytes and a []byte op's 96 fit in 224) instead.
// The op room is used only while the write stays on the direct path (writeLocal): a delta
// built by setElem and join must keep ops nil, or appendTo would encode the empty ops.
type withOp[S any, P any] struct {
	s  S
	op [1]wop[P]
}

// newHashDelta returns an empty delta of incarnation reset for n local writes (direct: on
// writeLocal's path, with ops made for them).
// A scratch (UseScratch) is used instead of a new allocation when given.
func newHashDelta(reset Version, n int, direct bool, sc *HashScratch) *Hash {
	if !direct || n != 1 {
		d := NewHash(reset)
		d.c.ExpVer = Version{}
		if direct {
			d.c.ops = make([]wop[[]byte], 0, n) // one allocation, not a doubling per write
		}
		return d
	}
	var x *withOp[Hash, []byte]
	if sc != nil {
		x = &sc.x
		*x = withOp[Hash, []byte]{s: Hash{c: newCore[[]byte](reset)}}
	} else {
		x = &withOp[Hash, []byte]{s: Hash{c: newCore[[]byte](reset)}}
	}
	x.s.c.ExpVer = Version{}
	x.s.c.ops = x.op[:0:1]
	return &x.s
}

// newSetDelta is newHashDelta for sets.
func newSetDelta(reset Version, n int, direct bool, sc *SetScratch) *Set {
	if !direct || n != 1 {
		d := NewSet(reset)
		d.c.ExpVer = Version{}
		if direct {
			d.c.ops = make([]wop[struct{}], 0, n)
		}
		return d
	}
	var x *withOp[Set, struct{}]
	if sc != nil {
		x = &sc.x
		*x = withOp[Set, struct{}]{s: Set{c: newCore[struct{}](reset)}}
	} else {
		x = &withOp[Set, struct{}]{s: Set{c: newCore[struct{}](reset)}}
	}
	x.s.c.ExpVer = Version{}
	x.s.c.ops = x.op[:0:1]
	return &x.s
}

// newZSetDelta is newHashDelta for sorted sets, without an index (see ZSet.delta); a later
// write of the same command appends to ops past the room.
func newZSetDelta(reset Version, direct bool, sc *ZSetScratch) *ZSet {
	if !direct {
		d := &ZSet{c: newCore[zpay](reset)}
		d.c.ExpVer = Version{}
		return d
	}
	var x *withOp[ZSet, zpay]
	if sc != nil {
		x = &sc.x
		*x = withOp[ZSet, zpay]{s: ZSet{c: newCore[zpay](reset)}}
	} else {
		x = &withOp[ZSet, zpay]{s: ZSet{c: newCore[zpay](reset)}}
	}
	x.s.c.ExpVer = Version{}
	x.s.c.ops = x.op[:0:1]
	return &x.s
}

// HashScratch, SetScratch and ZSetScratch are room for one write's delta that a holder reuses
// when nothing keeps the deltas (the node encodes each under the key's lock, or on a node
// without replicas drops it unread). UseScratch arms a state with one for its next write of one
// element: that write's delta is the scratch, valid until the scratch is armed again, and
// later writes allocate as before (a command writing twice keeps both deltas apart). The
// zero value is ready; a scratch must not be copied once used.
type HashScratch struct{ x withOp[Hash, []byte] }

// SetScratch is HashScratch for sets.
type SetScratch struct{ x withOp[Set, struct{}] }

// ZSetScratch is HashScratch for sorted sets.
type ZSetScratch struct{ x withOp[ZSet, zpay] }

// UseScratch arms h with sc for its next write's delta (nil disarms it); see HashScratch.
func (h *Hash) UseScratch(sc *HashScratch) { h.scratch = sc }

// UseScratch is Hash.UseScratch for sets.
func (s *Set) UseScratch(sc *SetScratch) { s.scratch = sc }

// UseScratch is Hash.UseScratch for sorted sets.
func (z *ZSet) UseScratch(sc *ZSetScratch) { z.scratch = sc }

func (h *Hash) takeScratch() *HashScratch { sc := h.scratch; h.scratch = nil; return sc }
func (s *Set) takeScratch() *SetScratch   { sc := s.scratch; s.scratch = nil; return sc }
func (z *ZSet) takeScratch() *ZSetScratch { sc := z.scratch; z.scratch = nil; return sc }
