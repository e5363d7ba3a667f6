package lru

// Clear removes every entry whose stamp is at or below floor and raises the global floor to
// floor, so that a later write for an absent key stamped at or below it is refused
// (Current.Floor), as after a dropped tombstone. Per-key tombstones the floor covers are dropped.
// Entries stamped above floor (written after the clear, on a clock that has seen it) stay.
// Without a Stamp function every entry is removed. OnRemove is called with reason Cleared for
// each removed entry, after its shard's lock is released. Clear locks one shard at a time, so a
// concurrent reader may briefly see some shards cleared and others not; it returns how many
// entries it removed.
func (c *Store[K, V, S]) Clear(floor uint64) int { return c.ClearBy(floor, c.stamp) }

// ClearBy is Clear with the stamp each entry is compared by given by stamp (nil: every entry
// goes), for values whose age as far as a clear is concerned differs from their Stamp.
func (c *Store[K, V, S]) ClearBy(floor uint64, stamp func(V) uint64) int {
	c.raiseFloor(floor)
	removed := 0
	var buf []removal[K, V]
	for i := range c.shards {
		s := &c.shards[i]
		buf = buf[:0]
		s.mu.Lock()
		for slot := uint32(0); slot < s.used; slot++ {
			e := s.at(slot)
			if !e.live() || (stamp != nil && stamp(e.value) > floor) {
				continue
			}
			if c.onRemove != nil {
				buf = append(buf, removal[K, V]{s.key(e), e.value, Cleared})
			}
			s.charge(c, c.cost(s.key(e), e.value), 0)
			s.remove(slot+1, e, c.hash(s.key(e)))
			removed++
		}
		for h, v := range s.tomb {
			if v <= floor {
				delete(s.tomb, h)
			}
		}
		s.mu.Unlock()
		c.notify(buf)
	}
	return removed
}
