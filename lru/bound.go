package lru

import "errors"

// The byte bound at run time. New splits MaxBytes into per-shard shares and picks the number
// of shards from it; SetMaxBytes changes the bound and the shares but not the number of shards,
// which is fixed for the life of the store (every key's shard is hash >> shift). So a store
// grown far beyond the MaxBytes it was created with still holds at most entryCap entries per
// shard (about one million), and a store shrunk below Shards() × EntryOverhead has shares too
// small for any entry: its entries live only by borrowing (borrow.go), and below about
// EntryOverhead in all it holds nothing.

// shardShare is shard i's share of a bound of total bytes split n ways: share's result, but at
// least 1 byte when total is positive, since a share of 0 means unlimited.
func shardShare(total int64, n, i int) int64 {
	if total <= 0 {
		return 0
	}
	return max(share(total, n, i), 1)
}

// MaxEntryBytesAt is what MaxEntryBytes would be under a bound of maxBytes (0: unbounded), for a
// caller deciding whether a bound could hold an entry at all before setting it.
func (c *Store[K, V, S]) MaxEntryBytesAt(maxBytes int64) int64 {
	if maxBytes <= 0 {
		return 0
	}
	// Shard 0's share, computed rather than read: SetMaxBytes changes it under the shard's lock.
	others := maxBytes - maxBytes/int64(len(c.shards))
	return shardShare(maxBytes, len(c.shards), 0) + others - others/4
}

// MaxBytes returns the current bound on charged bytes (0: unlimited): Options.MaxBytes, or what
// SetMaxBytes last set.
func (c *Store[K, V, S]) MaxBytes() int64 { return c.maxBytes.Load() }

// SetMaxBytes changes the bound on charged bytes to n (0: unlimited) and evicts least recently
// used entries, shard by shard, until each shard is within its new share, exactly as a write
// over the bound does: the evictions are counted in Stats.Evictions, leave local tombstones and
// are reported to OnRemove (after each shard's lock is released). It returns the number of
// entries evicted. It fails when n is negative, or positive on a store created without Size.
//
// Writes running meanwhile see the old or the new share of their shard; each shard is changed
// under its lock. Concurrent calls of SetMaxBytes leave the bound of the last to store it, but
// the shares may mix the two: callers serialise them (node.Node.SetMaxMemory does).
func (c *Store[K, V, S]) SetMaxBytes(n int64) (evicted int, err error) {
	switch {
	case n < 0:
		return 0, errors.New("lru: MaxBytes must not be negative")
	case n > 0 && c.size == nil:
		return 0, errors.New("lru: Size is required when MaxBytes > 0")
	}
	// The bound first: maxOver, read by writes on every shard, follows it at once; then each
	// shard's share, with its borrowing recomputed (what counts as big depends on the share).
	c.maxBytes.Store(n)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.rebound(c, shardShare(n, len(c.shards), i))
		s.mu.Unlock()
	}
	// Then the evictions, once every share is known, so that what a shard borrows is measured
	// against the others' new shares.
	var buf []removal[K, V]
	for i := range c.shards {
		s := &c.shards[i]
		buf = buf[:0]
		rm := c.collector(&buf)
		s.mu.Lock()
		before := s.evictions
		s.evict(c, 0, rm)
		evicted += int(s.evictions - before)
		s.mu.Unlock()
		c.notify(buf)
	}
	return evicted, nil
}

// rebound sets the shard's share to maxBytes and recounts its big entries and what it borrows,
// as charge keeps them, for the new share. Needs the write lock.
func (s *shard[K, V, S]) rebound(c *Store[K, V, S], maxBytes int64) {
	s.maxBytes = maxBytes
	s.big = 0
	if maxBytes > 0 {
		big := maxBytes / 4
		for i := uint32(0); i < s.used; i++ {
			if e := s.at(i); e.live() {
				if cost := c.cost(s.key(e), e.value); cost > big {
					s.big += cost
				}
			}
		}
	}
	o := int64(0)
	if maxBytes > 0 {
		o = min(max(s.bytes-maxBytes, 0), s.big)
	}
	if o != s.over {
		c.over.Add(o - s.over)
		s.over = o
	}
}
