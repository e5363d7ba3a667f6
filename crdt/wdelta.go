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
func newHashDelta(reset Version, n int, direct bool) *Hash {
	if !direct || n != 1 {
		d := NewHash(reset)
		d.c.ExpVer = Version{}
		if direct {
			d.c.ops = make([]wop[[]byte], 0, n) // one allocation, not a doubling per write
		}
		return d
	}
	x := &withOp[Hash, []byte]{s: Hash{c: newCore[[]byte](reset)}}
	x.s.c.ExpVer = Version{}
	x.s.c.ops = x.op[:0:1]
	return &x.s
}

// newSetDelta is newHashDelta for sets.
func newSetDelta(reset Version, n int, direct bool) *Set {
	if !direct || n != 1 {
		d := NewSet(reset)
		d.c.ExpVer = Version{}
		if direct {
			d.c.ops = make([]wop[struct{}], 0, n)
		}
		return d
	}
	x := &withOp[Set, struct{}]{s: Set{c: newCore[struct{}](reset)}}
	x.s.c.ExpVer = Version{}
	x.s.c.ops = x.op[:0:1]
	return &x.s
}

// newZSetDelta is newHashDelta for sorted sets, without an index (see ZSet.delta); a later
// write of the same command appends to ops past the room.
func newZSetDelta(reset Version, direct bool) *ZSet {
	if !direct {
		d := &ZSet{c: newCore[zpay](reset)}
		d.c.ExpVer = Version{}
		return d
	}
	x := &withOp[ZSet, zpay]{s: ZSet{c: newCore[zpay](reset)}}
	x.s.c.ExpVer = Version{}
	x.s.c.ops = x.op[:0:1]
	return &x.s
}
