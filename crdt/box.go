package crdt

import (
	"fmt"
	"math/rand/v2"
)

// HashBox, SetBox and ZSetBox hold a state together with its element table (and a sorted
// set's index) in one allocation, for a holder that embeds the box in its own struct (the
// node's collection): a write to one of many small collections then finds the state, the
// table, its index and its first records in one object, where the pointer from each to the
// next was a dependent cache miss of every write and of every replica's merge of it. A state
// that outgrows the box, or is replaced whole (a join of a newer incarnation), moves its parts
// to allocations of their own, as an unboxed state has; the box is then unused space.
//
// A box is initialised in place (Init) and must not be copied afterwards: its state points
// into it.

// HashBox is a Hash with room for its element table.
type HashBox struct {
	h   Hash
	tab elemTab[[]byte]
}

// Init makes b's hash an empty hash of incarnation reset and returns it.
func (b *HashBox) Init(reset Version) *Hash {
	b.h = Hash{c: newCore[[]byte](reset)}
	b.h.c.elems = &b.tab
	return &b.h
}

// SetBox is a Set with room for its element table.
type SetBox struct {
	s   Set
	tab elemTab[struct{}]
}

// Init makes b's set an empty set of incarnation reset and returns it.
func (b *SetBox) Init(reset Version) *Set {
	b.s = Set{c: newCore[struct{}](reset)}
	b.s.c.elems = &b.tab
	return &b.s
}

// ZSetBox is a ZSet with room for its element table and its index.
type ZSetBox struct {
	z   ZSet
	tab elemTab[zpay]
	sl  skiplist
}

// Init makes b's sorted set an empty sorted set of incarnation reset and returns it.
func (b *ZSetBox) Init(reset Version) *ZSet {
	b.z = ZSet{c: newCore[zpay](reset)}
	b.z.c.elems = &b.tab
	b.sl = skiplist{level: 1, tab: &b.tab, rng: slRand(slSeed(reset))}
	b.z.sl = &b.sl
	return &b.z
}

// Restamp sets an empty hash's incarnation to reset: a state made before its creating write
// was stamped (the node makes the collection, then the write's version) keeps its box.
func (h *Hash) Restamp(reset Version) { h.c.Reset, h.c.ExpVer = reset, reset }

// Restamp sets an empty set's incarnation (Hash.Restamp).
func (s *Set) Restamp(reset Version) { s.c.Reset, s.c.ExpVer = reset, reset }

// Restamp sets an empty sorted set's incarnation (Hash.Restamp), reseeding its index's levels
// as NewZSet(reset) would.
func (z *ZSet) Restamp(reset Version) {
	z.c.Reset, z.c.ExpVer = reset, reset
	if z.sl != nil && z.sl.n == 0 {
		z.sl.rng = slRand(slSeed(reset))
	}
}

// slSeed is the seed of a sorted set's index levels: its incarnation's, so every replica's
// index of one incarnation has the same shape.
func slSeed(reset Version) uint64 { return uint64(reset.TS) ^ uint64(reset.Replica) }

// Decode decodes a hash state or delta (as DecodeHash) into b and returns it.
func (b *HashBox) Decode(src []byte) (*Hash, error) {
	c, err := decodeCoreIn(src, bytesSize, &b.tab)
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	b.h = Hash{c: c}
	return &b.h, nil
}

// Decode decodes a set state or delta (as DecodeSet) into b and returns it.
func (b *SetBox) Decode(src []byte) (*Set, error) {
	c, err := decodeCoreIn(src, noSize, &b.tab)
	if err != nil {
		return nil, fmt.Errorf("set: %w", err)
	}
	b.s = Set{c: c}
	return &b.s, nil
}

// Decode decodes a sorted set state or delta (as DecodeZSet) into b and returns it.
func (b *ZSetBox) Decode(src []byte) (*ZSet, error) {
	c, err := decodeCoreIn(src, zpaySize, &b.tab)
	if err != nil {
		return nil, fmt.Errorf("zset: %w", err)
	}
	b.z = ZSet{c: c}
	b.sl = skiplist{level: 1, tab: &b.tab, rng: slRand(slSeed(c.Reset))}
	b.z.sl = &b.sl
	b.z.fillIndex()
	return &b.z, nil
}

// slRand is an index's source of levels, seeded by slSeed.
func slRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }
