package lru

// Expiry reclamation is a Redis-like incremental sweep rather than a timer structure: each
// shard keeps a cursor over its slab and ExpireTick advances it a bounded number of slots,
// reclaiming expired entries it passes. This costs no memory per entry (a heap or timer wheel
// would cost 8-16 bytes each, a quarter of the per-entry budget) and bounds the work per call,
// while every expired entry is still reclaimed within one full sweep. Reads never return an
// expired entry in any case; the sweep only returns its memory and leaves its tombstone.

// sweepFactor is how many slots ExpireTick may examine per entry it is allowed to reclaim,
// like Redis's active expiry that samples 20 keys per round.
const sweepFactor = 20

// ExpireTick reclaims up to budget expired entries (leaving tombstones and calling OnRemove
// with Expired after the locks are released) and returns how many it reclaimed. It examines
// at most 20×budget slab slots, continuing where the previous call stopped, shard after shard
// in turn, and skips shards without entries that have an expiry. It never counts as a read.
func (c *Store[K, V, S]) ExpireTick(now int64, budget int) int {
	if budget <= 0 {
		return 0
	}
	work := budget * sweepFactor
	done := 0
	n := uint32(len(c.shards))
	start := c.expNext.Add(1) - 1
	var buf []removal[K, V]
	for k := uint32(0); k < n && work > 0 && done < budget; k++ {
		s := &c.shards[(start+k)&(n-1)]
		if s.nttl.Load() == 0 {
			continue
		}
		buf = buf[:0]
		rm := c.collector(&buf)
		s.mu.Lock()
		done += s.sweep(c, now, &work, budget-done, rm)
		s.mu.Unlock()
		c.notify(buf)
	}
	return done
}

// sweep advances the shard's expiry cursor by at most *work slots, reclaiming at most limit
// expired entries. Needs the write lock.
func (s *shard[K, V, S]) sweep(c *Store[K, V, S], now int64, work *int, limit int, rm *[]removal[K, V]) int {
	done := 0
	for seen := uint32(0); seen < s.used && *work > 0 && done < limit && s.nttl.Load() > 0; seen++ {
		if s.expNext >= s.used {
			s.expNext = 0
		}
		i := s.expNext
		s.expNext++
		*work--
		e := s.at(i)
		if !e.live() || !IsExpired(e.expiry(), now) {
			continue
		}
		s.drop(c, i+1, e, c.hash(s.key(e)), Expired, rm)
		done++
	}
	return done
}
