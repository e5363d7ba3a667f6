package lru

import "strconv"

// Current is the state of a key presented to an Apply function.
type Current[V any] struct {
	Value  V
	Expiry int64
	Exists bool
	// Floor, when !Exists, is max(the key's local tombstone stamp, the global floor), 0 if
	// neither: a version at or below it was evicted, expired or deleted here.
	Floor uint64
}

// Action is what an Apply function decides.
type Action uint8

const (
	// Keep leaves the key as it is.
	Keep Action = iota
	// Put stores Update.Value and Update.Expiry, marks the key recently used (possibly
	// evicting others) and removes the key's local tombstone.
	Put
	// Delete removes the key (if present), leaving a local tombstone when Update.Tombstone is
	// set. OnRemove is not called.
	Delete
)

// String returns "keep", "put", "delete" or "action(N)".
func (a Action) String() string {
	switch a {
	case Keep:
		return "keep"
	case Put:
		return "put"
	case Delete:
		return "delete"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Update is the outcome of an Apply function.
type Update[V any] struct {
	Action Action
	Value  V
	Expiry int64
	// Tombstone, with Delete, leaves a local tombstone with Stamp(old value).
	Tombstone bool
}

// Apply atomically reads key and applies fn's decision: the compare-and-apply used for
// last-writer-wins merges. fn runs under the key's shard write lock, so no other operation on
// the key (or its shard) interleaves; it must be fast and must not call the cache. An expired
// entry is first reclaimed (tombstone left, OnRemove called with Expired after the lock is
// released) and then presented as absent. Apply returns the state fn saw and what it returned.
// If fn panics the lock is released and the panic propagates; nothing is changed.
func (c *Store[K, V, S]) Apply(key K, now int64, fn func(cur Current[V]) Update[V]) (cur Current[V], up Update[V]) {
	c.Do(key, now, func(c Current[V]) Update[V] {
		cur, up = c, fn(c)
		return up
	})
	return cur, up
}

// Do is Apply without its results, for a caller that needs only fn's effect (a node's every
// write): Apply's two results, copied out through each call on the way back, were ~250
// instructions of a replicated SET's ~1,000 in the store.
func (c *Store[K, V, S]) Do(key K, now int64, fn func(cur Current[V]) Update[V]) {
	h := c.hash(key)
	s := c.shardOf(h)
	var buf []removal[K, V]
	s.apply(c, h, key, now, fn, c.collector(&buf))
	c.notify(buf)
}

func (s *shard[K, V, S]) apply(c *Store[K, V, S], h uint64, key K, now int64, fn func(Current[V]) Update[V], rm *[]removal[K, V]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applyHeld(c, h, key, now, fn, nil, rm)
}

// applyHeld is apply under the shard's write lock, held by the caller.
//
// own, when not nil, gives the key to keep for a Put of a key absent (ApplyBatchOwn).
func (s *shard[K, V, S]) applyHeld(c *Store[K, V, S], h uint64, key K, now int64, fn func(Current[V]) Update[V], own func(K) K, rm *[]removal[K, V]) {
	var cur Current[V]
	l := s.find(h, key)
	var e *entry[K, V, S]
	if l != 0 {
		e = s.at(l - 1)
		if IsExpired(e.expiry(), now) {
			s.drop(c, l, e, h, Expired, rm)
			l, e = 0, nil
		}
	}
	if e != nil {
		cur = Current[V]{Value: e.value, Expiry: e.expiry(), Exists: true}
	} else {
		cur.Floor = max(s.tomb[h], c.floor.Load())
	}
	up := fn(cur)
	switch up.Action {
	case Put:
		if e == nil && own != nil && s.own == nil { // a value carrying its key copies it (s.own)
			key = own(key)
		}
		s.setAt(c, h, key, l, up.Value, up.Expiry, c.cost(key, up.Value), now, rm) // fn did not touch the shard
	case Delete:
		if e != nil {
			if up.Tombstone && c.stamp != nil {
				s.addTomb(c, h, c.stamp(e.value))
			}
			s.charge(c, c.cost(s.key(e), e.value), 0)
			s.remove(l, e, h)
		}
	}
}
