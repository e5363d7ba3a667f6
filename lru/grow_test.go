package lru

import (
	"fmt"
	"testing"
)

// TestGrowRunsAhead inserts keys one at a time into a store whose values carry their keys and
// checks, after every insert, that the hash index has at least one bucket per entry and at
// most splitRun-1 more (grow splits splitRun buckets at once, fewer at the end of a level),
// and, at every level boundary and at the end, that every key is found and the shard's
// structure holds.
func TestGrowRunsAhead(t *testing.T) {
	t.Parallel()
	o := carriedOpts()
	o.Shards, o.MaxBytes = 1, 0 // one shard to watch, nothing evicted
	c, err := NewStore[string, carried, InValue](o)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	ahead := 0 // inserts after which the index had more buckets than entries
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%06d", i)
		c.Set(keys[i], carried{n: i}, 0, 0)
		s := &c.shards[0]
		buckets := int64(s.lowMask) + 1 + int64(s.split)
		if buckets < s.n || buckets > s.n+splitRun-1 {
			t.Fatalf("after %d inserts: %d buckets for %d entries", i+1, buckets, s.n)
		}
		if buckets > s.n {
			ahead++
		}
		if s.split == 0 || i == n-1 {
			checkInvariants(t, c)
			for _, k := range keys[:i+1] {
				if v, _, ok := c.Get(k, 0); !ok || v.key != k {
					t.Fatalf("after %d inserts: %s not found (%+v, %v)", i+1, k, v, ok)
				}
			}
		}
	}
	if ahead < n/2 {
		t.Errorf("the index ran ahead of the entries after %d of %d inserts: grow split one bucket at a time", ahead, n)
	}
}
