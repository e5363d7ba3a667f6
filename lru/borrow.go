package lru

// Borrowing: MaxBytes is split into per-shard shares so that a write takes one shard's lock and
// no cache-wide counter, but one entry (a hash, set or sorted set of a million elements) can
// be far larger than a share. Such an entry is not evicted for its size while the cache has
// room: its shard goes over its share, and the other shards make room for the overage.
//
// The rule. A big entry is one charged more than a quarter of its shard's share; a shard
// borrows what it holds above its share, up to what its big entries hold (so small entries
// alone never take more than the share), and over is what all shards borrow. A shard evicts
// (least recently used first, never the entry just written) while
//
//   - what it holds less what it borrows is above its share less its part of over (over
//     divided among the other shards), so the others make room for a borrower, on their next
//     write; with one shard borrowing, the cache stays within MaxBytes; or
//   - it borrows and over is above maxOver, three quarters of the other shards' shares (so
//     the others keep at least a quarter of theirs).
//
// An entry larger than its share plus maxOver is not stored (with one shard: larger than
// MaxBytes). Shards publish what they borrow only when it changes (never, without big
// entries), so a cache of small entries pays a few comparisons per write for this.

// maxOver is how far the shards together may borrow above their shares.
func (c *Store[K, V, S]) maxOver() int64 {
	m := c.maxBytes.Load()
	others := m - m/int64(len(c.shards))
	return others - others/4
}

// charge replaces an entry's charge old by new (0: none) and publishes what the shard
// borrows.
func (s *shard[K, V, S]) charge(c *Store[K, V, S], old, new int64) {
	s.bytes += new - old
	if s.maxBytes == 0 {
		return
	}
	if big := s.maxBytes / 4; old > big || new > big {
		if old > big {
			s.big -= old
		}
		if new > big {
			s.big += new
		}
	}
	if o := min(max(s.bytes-s.maxBytes, 0), s.big); o != s.over {
		c.over.Add(o - s.over)
		s.over = o
	}
}

// tooBig reports whether the shard must evict to stay within its bytes (see above).
func (s *shard[K, V, S]) tooBig(c *Store[K, V, S]) bool {
	if s.maxBytes == 0 {
		return false
	}
	if s.over == 0 && s.bytes <= s.maxBytes && c.over.Load() == 0 {
		return false // the usual case: nothing borrowed anywhere
	}
	over := c.over.Load()
	if s.over > 0 && over > c.maxOver() {
		return true
	}
	return s.bytes-s.over > s.maxBytes-(over-s.over)/int64(max(len(c.shards)-1, 1))
}

// fits reports whether an entry of cost bytes may be stored in the shard.
func (s *shard[K, V, S]) fits(c *Store[K, V, S], cost int64) bool {
	return s.maxBytes == 0 || cost <= s.maxBytes+c.maxOver()
}

// MaxEntryBytes is the largest charge an entry may have and still be stored: its shard's share
// of MaxBytes plus what it may borrow (0: unbounded).
func (c *Store[K, V, S]) MaxEntryBytes() int64 { return c.MaxEntryBytesAt(c.maxBytes.Load()) }
