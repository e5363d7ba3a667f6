package lru

import (
	"fmt"
	"testing"
)

// shape is what Reserve grows: slab chunks and index buckets, summed over shards.
func shape[K comparable, V any](c *Cache[K, V]) (chunks, buckets int) {
	for i := range c.shards {
		s := &c.shards[i]
		chunks += len(s.slab)
		if len(s.heads) > 0 {
			buckets += int(s.lowMask + 1 + s.split)
		}
	}
	return chunks, buckets
}

// After Reserve(n), inserting n keys neither grows the slab nor splits a bucket, and every key
// is found.
func TestReserveThenFill(t *testing.T) {
	t.Parallel()
	const n = 20000
	c := mustNew(t, Options[string, string]{Shards: 4, Size: strSize, Stamp: func(string) uint64 { return 1 }})
	c.Reserve(n)
	chunks, buckets := shape(c)
	if buckets < n {
		t.Fatalf("Reserve(%d) made %d buckets", n, buckets)
	}
	checkInvariants(t, c)
	for i := range n {
		c.Set(fmt.Sprint("k", i), "v", 0, 0)
	}
	if ch, b := shape(c); ch != chunks || b != buckets {
		t.Fatalf("filling reserved room grew the store: chunks %d -> %d, buckets %d -> %d", chunks, ch, buckets, b)
	}
	checkInvariants(t, c)
	for i := range n {
		if v, _, ok := c.Peek(fmt.Sprint("k", i), 0); !ok || v != "v" {
			t.Fatalf("k%d = %q %v", i, v, ok)
		}
	}
	if c.Len() != n {
		t.Fatalf("Len = %d", c.Len())
	}
}

// Reserve on a store that holds entries splits their buckets: they stay findable, and later
// removals and inserts keep the structure sound.
func TestReserveNonEmpty(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, string]{Shards: 2, Size: strSize})
	for i := range 1000 {
		c.Set(fmt.Sprint("k", i), "v", 0, 0)
	}
	c.Reserve(10000)
	checkInvariants(t, c)
	for i := range 1000 {
		if _, _, ok := c.Peek(fmt.Sprint("k", i), 0); !ok {
			t.Fatalf("k%d lost by Reserve", i)
		}
	}
	for i := range 500 {
		c.Remove(fmt.Sprint("k", i))
	}
	for i := 1000; i < 3000; i++ {
		c.Set(fmt.Sprint("k", i), "w", 0, 0)
	}
	checkInvariants(t, c)
	if c.Len() != 2500 {
		t.Fatalf("Len = %d, want 2500", c.Len())
	}
}

// Reserve never grows a shard beyond what its bounds let it hold, and n <= 0 does nothing.
func TestReserveBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    Options[string, string]
	}{
		{"entries", Options[string, string]{Shards: 4, MaxEntries: 4000}},
		{"bytes", Options[string, string]{Shards: 4, MaxBytes: 4000 * EntryOverhead, Size: strSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustNew(t, tc.o)
			c.Reserve(0)
			c.Reserve(-5)
			if ch, b := shape(c); ch != 0 || b != 0 {
				t.Fatalf("Reserve(<=0) allocated %d chunks, %d buckets", ch, b)
			}
			c.Reserve(1 << 20)
			for i := range c.shards {
				s := &c.shards[i]
				// 1000 entries per shard: the slab rounds up to its next chunk (1024 slots
				// after the first 1024), the index stays at the bound.
				if slots := s.slabSlots(); slots > 2048 {
					t.Fatalf("shard %d: %d slots reserved for a bound of 1000 entries", i, slots)
				}
				if b := s.lowMask + 1 + s.split; b > 1000 {
					t.Fatalf("shard %d: %d buckets for a bound of 1000 entries", i, b)
				}
			}
			for i := range 10000 {
				c.Set(fmt.Sprint("k", i), "v", 0, 0)
			}
			checkInvariants(t, c)
			if c.Len() > 4000 {
				t.Fatalf("Len %d over the bound", c.Len())
			}
		})
	}
}
