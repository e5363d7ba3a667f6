package lru

import (
	"fmt"
	"sync"
	"testing"
)

// TestPrefetchChangesNothing: prefetching present and absent keys moves no entry in the LRU
// order and counts no hit or miss — two caches given the same operations, one with prefetches
// between them, evict the same keys and report the same stats.
func TestPrefetchChangesNothing(t *testing.T) {
	t.Parallel()
	opts := Options[string, int]{MaxEntries: 500, Shards: 4}
	plain, warmed := mustNew(t, opts), mustNew(t, opts)
	warmed.seed = plain.seed // the same keys in the same shards: evictions are per shard
	for i := range 1000 {
		k := fmt.Sprint("k", i)
		plain.Set(k, i, 0, 0)
		warmed.Set(k, i, 0, 0)
		if i%7 == 0 {
			warmed.Prefetch([]string{fmt.Sprint("k", i/2), "absent", k, fmt.Sprint("k", i-400)})
		}
	}
	if plain.Stats() != warmed.Stats() {
		t.Fatalf("stats differ: %+v vs %+v", plain.Stats(), warmed.Stats())
	}
	for i := range 1000 {
		k := fmt.Sprint("k", i)
		_, _, okP := plain.Peek(k, 0)
		_, _, okW := warmed.Peek(k, 0)
		if okP != okW {
			t.Fatalf("%s: present %v without prefetches, %v with", k, okP, okW)
		}
	}
	if warmed.Prefetch(nil) != 0 {
		t.Fatal("prefetching no keys read something")
	}
}

// TestPrefetchConcurrent runs prefetches of many keys (more than prefetchMax, spread over the
// shards) beside writers that grow and split the shards; run under -race.
func TestPrefetchConcurrent(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, int]{MaxEntries: 4000, Shards: 8})
	keys := make([]string, 3*prefetchMax)
	for i := range keys {
		keys[i] = fmt.Sprint("key", i*37)
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 20000 {
				c.Set(fmt.Sprint("key", (i*(w+1))%6000), i, 0, 0)
			}
		})
	}
	wg.Go(func() {
		for range 2000 {
			c.Prefetch(keys)
		}
	})
	wg.Wait()
}
