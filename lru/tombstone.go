package lru

// Local tombstones remember, per shard, hash(key) -> stamp of the last value evicted, expired
// or deleted with a tombstone here, so that a late and older write for an absent key can be
// recognised (Current.Floor). They are bounded: when a shard's share is full, the lowest
// eighth of its stamps is dropped at once (amortising the selection) and the global floor is
// raised to the highest stamp dropped, so the information is coarsened, never lost.

// addTomb records a tombstone for hash h. Needs the write lock.
func (s *shard[K, V, S]) addTomb(c *Store[K, V, S], h, stamp uint64) {
	if stamp == 0 || stamp <= c.floor.Load() {
		return // the floor already covers it
	}
	if s.tomb == nil {
		s.tomb = make(map[uint64]uint64)
	}
	if old, ok := s.tomb[h]; ok {
		s.tomb[h] = max(old, stamp)
		return
	}
	if len(s.tomb) >= s.maxTomb {
		s.shedTombs(c)
	}
	s.tomb[h] = stamp
}

// shedTombs drops the lowest stamps (about an eighth, at least one) and raises the floor.
func (s *shard[K, V, S]) shedTombs(c *Store[K, V, S]) {
	stamps := make([]uint64, 0, len(s.tomb))
	for _, v := range s.tomb {
		stamps = append(stamps, v)
	}
	k := max(len(stamps)/8, 1)
	cut := nthSmallest(stamps, k-1)
	for h, v := range s.tomb {
		if v <= cut {
			delete(s.tomb, h)
			s.tombDropped++
		}
	}
	c.raiseFloor(cut)
}

func (c *Store[K, V, S]) raiseFloor(f uint64) {
	for {
		old := c.floor.Load()
		if f <= old || c.floor.CompareAndSwap(old, f) {
			return
		}
	}
}

// nthSmallest returns the k-th smallest value of a (0-based), reordering a (quickselect).
func nthSmallest(a []uint64, k int) uint64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// Median of three as pivot; Hoare partition.
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// CollectTombstones drops local tombstones with a stamp below stable (causally stable: no
// older write can still arrive) and returns how many were dropped. It locks one shard at a
// time.
func (c *Store[K, V, S]) CollectTombstones(stable uint64) int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for h, v := range s.tomb {
			if v < stable {
				delete(s.tomb, h)
				n++
				s.tombCollected++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Floor returns the global tombstone floor: the highest stamp dropped because the tombstone
// bound was reached (0 if none). A write for an absent key at or below it may be stale.
func (c *Store[K, V, S]) Floor() uint64 {
	return c.floor.Load()
}
