package crdt

import "slices"

// Removed writes (tomb) are remembered until causally stable (compact), like key tombstones.
// Stability can stall for as long as a member is silent but not yet past the grace horizon,
// or a peer's writes arrive with a gap: a hot element rewritten or removed in a loop meanwhile
// would grow its collection's tomb without bound. bound caps it the way the store caps local
// key tombstones (lru/tombstone.go): past the cap, the oldest removed writes are dropped at once
// (an eighth of the cap, amortising the selection) and Floor is raised to the newest dot
// dropped, so the causal context is coarsened, never lost. The price, only past the cap: a
// write stamped below the raised Floor that this state has not seen (a late, concurrent write
// from a partitioned region) counts as observed and removed here — a remove-wins outcome for
// it instead of add-wins, as a late key write below the store's floor becomes a miss. A full
// state carries its Floor, and a join drops the other side's dots below it that it does not
// hold (a complete one whatever its own Floor: join), so replicas converge once they exchange a full state;
// element deltas carry no Floor, so the node ships a collection whole once Collect reports that
// the cap dropped writes (node/colltombs.go, shipFloors).

// MinTombstoneCap is the smallest cap Collect accepts: below it a few removes would coarsen
// the context of a small collection.
const MinTombstoneCap = 64

// bound sheds the oldest removed writes when more than limit are held (see above) and reports
// how many it dropped. limit below MinTombstoneCap counts as MinTombstoneCap.
func (c *orCore[P]) bound(limit int) int {
	limit = max(limit, MinTombstoneCap)
	if c.ntomb <= limit {
		return 0
	}
	stamps := make([]Timestamp, 0, c.ntomb)
	c.tomb.each(func(_ string, ds dotSet) bool {
		ds.each(func(d Version) { stamps = append(stamps, d.TS) })
		return true
	})
	slices.Sort(stamps)
	// Keep at most limit - limit/8: the next shedding is an eighth of the cap of writes away.
	drop := c.ntomb - (limit - limit/8)
	before := c.ntomb
	c.compact(stamps[drop-1] + 1)
	return before - c.ntomb
}

// collect is compact at stable time stable, then bound at maxTombs.
func (c *orCore[P]) collect(stable Timestamp, maxTombs int) int {
	c.compact(stable)
	return c.bound(maxTombs)
}

// Collect forgets removed writes stamped before stable (the node's causally stable time, as
// Compact), then, if more than maxTombs (at least MinTombstoneCap) are still held, drops the
// oldest and raises the causal floor past them (see tombs.go). It returns how many the cap
// dropped.
//
// It also gives back the slab and index of a collection that shrank to a quarter of its
// high-water size (elemTab.shrink).
func (h *Hash) Collect(stable Timestamp, maxTombs int) int {
	n := h.c.collect(stable, maxTombs)
	h.c.elems.shrink()
	return n
}

// Collect is Hash.Collect for sets.
func (s *Set) Collect(stable Timestamp, maxTombs int) int {
	n := s.c.collect(stable, maxTombs)
	s.c.elems.shrink()
	return n
}

// Collect is Hash.Collect for sorted sets.
func (z *ZSet) Collect(stable Timestamp, maxTombs int) int {
	n := z.c.collect(stable, maxTombs)
	if z.c.elems.shrink() && z.sl != nil {
		z.index() // record numbers, which are node numbers, changed
	}
	return n
}

// Floor is the time below which the hash counts every write as seen: the causally stable time
// of its last collection, or the raised floor of a capped one.
func (h *Hash) Floor() Timestamp { return h.c.Floor }

// Floor is Hash.Floor for sets.
func (s *Set) Floor() Timestamp { return s.c.Floor }

// Floor is Hash.Floor for sorted sets.
func (z *ZSet) Floor() Timestamp { return z.c.Floor }
