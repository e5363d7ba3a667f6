package lru

// TombstoneHigh returns the highest stamp the cache's local tombstones remember: the global
// floor or any per-key tombstone above it (0 if none). A node saving its cache keeps this
// instead of the tombstones themselves, whose key hashes are seeded per process: raising a new
// cache's floor to it (RaiseFloor) refuses every late write for an absent key that one of them
// could have refused, at the price of refusing some that none would have (a miss, never a stale
// value).
func (c *Store[K, V, S]) TombstoneHigh() uint64 {
	high := c.floor.Load()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		for _, v := range s.tomb {
			high = max(high, v)
		}
		s.mu.RUnlock()
	}
	return high
}

// RaiseFloor raises the global tombstone floor to f (it never lowers it): a later write for an
// absent key stamped at or below f is presented with that floor (Current.Floor). Entries are
// not touched.
func (c *Store[K, V, S]) RaiseFloor(f uint64) { c.raiseFloor(f) }
