package lru

// Reserve prepares the cache for about n more entries before they arrive: each shard grows its
// slab and its hash index to its share of n at once (never beyond its MaxEntries bound, nor
// beyond the entries of EntryOverhead bytes its MaxBytes could hold). A bulk insert, such as
// loading a snapshot at start, then pays neither for the slab's growth nor for the index's
// bucket splits, which rehash every key they move. Reserved slots that stay unused remain
// allocated, as slots freed by removals do; n <= 0 does nothing.
func (c *Store[K, V, S]) Reserve(n int) {
	if n <= 0 {
		return
	}
	per := int64(n) / int64(len(c.shards))
	per += per/16 + 16 // keys do not spread exactly evenly
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.reserve(c, per)
		s.mu.Unlock()
	}
}

// reserve grows the shard for more entries. Needs the write lock.
func (s *shard[K, V, S]) reserve(c *Store[K, V, S], more int64) {
	want := min(s.n+more, s.maxEntries)
	if s.maxBytes > 0 {
		want = min(want, s.maxBytes/EntryOverhead)
	}
	// One slot beyond the bound: a write may hold it while it evicts.
	for slots := s.slabSlots(); slots < want+1 && slots < maxSlots; slots = s.slabSlots() {
		s.slab = append(s.slab, make([]entry[K, V, S], chunkSize(uint32(len(s.slab)), slabFirst, slabMax)))
	}
	if len(s.heads) == 0 {
		s.heads = append(s.heads, make([]uint32, chunkSize(0, headFirst, headMax)))
	}
	for int64(s.lowMask)+1+int64(s.split) < want {
		s.grow(c)
	}
}

// slabSlots is the number of slots the slab's chunks hold.
func (s *shard[K, V, S]) slabSlots() int64 {
	n := int64(0)
	for c := range s.slab {
		n += int64(chunkSize(uint32(c), slabFirst, slabMax))
	}
	return n
}
