package lru

import (
	"fmt"
	"sync"
	"testing"
)

func TestApplySemantics(t *testing.T) {
	t.Parallel()
	stamp := func(v int) uint64 { return uint64(v) }
	type step struct {
		now    int64
		up     Update[int]
		want   Current[int] // state fn must see
		stored bool         // key present afterwards
	}
	for _, tc := range []struct {
		name  string
		setup func(c *Cache[string, int])
		steps []step
	}{
		{"put on absent then keep", nil, []step{
			{0, Update[int]{Action: Put, Value: 7, Expiry: 100}, Current[int]{}, true},
			{1, Update[int]{Action: Keep}, Current[int]{Value: 7, Expiry: 100, Exists: true}, true},
		}},
		{"delete with tombstone gives a floor", func(c *Cache[string, int]) { c.Set("k", 42, 0, 0) }, []step{
			{0, Update[int]{Action: Delete, Tombstone: true}, Current[int]{Value: 42, Exists: true}, false},
			{0, Update[int]{Action: Keep}, Current[int]{Floor: 42}, false},
			{0, Update[int]{Action: Put, Value: 50}, Current[int]{Floor: 42}, true},
			{0, Update[int]{Action: Delete}, Current[int]{Value: 50, Exists: true}, false},
			// Put on the absent key removed the tombstone; the plain Delete left none.
			{0, Update[int]{Action: Keep}, Current[int]{}, false},
		}},
		{"expired is reclaimed first", func(c *Cache[string, int]) { c.Set("k", 9, 10, 0) }, []step{
			{10, Update[int]{Action: Keep}, Current[int]{Floor: 9}, false},
		}},
		{"delete absent is a no-op", nil, []step{
			{0, Update[int]{Action: Delete, Tombstone: true}, Current[int]{}, false},
		}},
		{"put with past expiry", nil, []step{
			{100, Update[int]{Action: Put, Value: 3, Expiry: 50}, Current[int]{}, false},
			{100, Update[int]{Action: Keep}, Current[int]{Floor: 3}, false},
		}},
	} {
		// Do is Apply without the results: the same steps through it leave the same states.
		for _, viaDo := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/do=%v", tc.name, viaDo), func(t *testing.T) {
				c := mustNew(t, Options[string, int]{Stamp: stamp})
				if tc.setup != nil {
					tc.setup(c)
				}
				for i, st := range tc.steps {
					var seen Current[int]
					fn := func(cur Current[int]) Update[int] { seen = cur; return st.up }
					if viaDo {
						c.Do("k", st.now, fn)
						if seen != st.want {
							t.Fatalf("step %d: fn saw %+v through Do; want %+v", i, seen, st.want)
						}
					} else if cur, up := c.Apply("k", st.now, fn); seen != st.want || cur != st.want || up != st.up {
						t.Fatalf("step %d: fn saw %+v, Apply returned %+v/%+v; want %+v", i, seen, cur, up, st.want)
					}
					if _, _, ok := c.Peek("k", st.now); ok != st.stored {
						t.Fatalf("step %d: stored %v, want %v", i, ok, st.stored)
					}
				}
				checkInvariants(t, c)
			})
		}
	}
}

func TestApplyPutEvicts(t *testing.T) {
	t.Parallel()
	var evicted []string
	c := mustNew(t, Options[string, int]{MaxEntries: 2, Shards: 1,
		OnRemove: func(k string, _ int, r Reason) { evicted = append(evicted, k) }})
	for _, k := range []string{"a", "b", "c"} {
		c.Apply(k, 0, func(Current[int]) Update[int] { return Update[int]{Action: Put, Value: 1} })
	}
	if len(evicted) != 1 || evicted[0] != "a" || c.Len() != 2 {
		t.Fatalf("evicted %v len %d", evicted, c.Len())
	}
}

// TestApplyAtomicIncrements: concurrent read-modify-write through Apply loses nothing, while
// other goroutines read, write and evict in the same shards.
func TestApplyAtomicIncrements(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, int]{MaxEntries: 64, Shards: 2})
	const goroutines, per = 8, 2000
	counters := []string{"x", "y", "z"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				k := counters[(g+i)%len(counters)]
				c.Apply(k, 0, func(cur Current[int]) Update[int] {
					return Update[int]{Action: Put, Value: cur.Value + 1}
				})
				// Churn that would evict the counters if they were not kept recent.
				c.Get(k, 0)
				if i%4 == 0 {
					c.Set(fmt.Sprintf("noise%d", i%20), i, 0, 0)
				}
			}
		}()
	}
	wg.Wait()
	sum := 0
	for _, k := range counters {
		v, _, ok := c.Peek(k, 0)
		if !ok {
			t.Fatalf("counter %s evicted", k)
		}
		sum += v
	}
	if sum != goroutines*per {
		t.Fatalf("counters sum to %d, want %d: increments lost", sum, goroutines*per)
	}
	checkInvariants(t, c)
}

func TestApplyPanicReleasesLock(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, int]{Shards: 1})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic not propagated")
			}
		}()
		c.Apply("k", 0, func(Current[int]) Update[int] { panic("boom") })
	}()
	c.Set("k", 1, 0, 0) // would deadlock if the lock were still held
	if v, _, ok := c.Get("k", 0); !ok || v != 1 {
		t.Fatal("cache unusable after panic")
	}
}

// TestCallbacksOutsideLocks: OnRemove, Scan and Range callbacks may call the cache.
func TestCallbacksOutsideLocks(t *testing.T) {
	t.Parallel()
	var c *Cache[string, int]
	calls := 0
	c = mustNew(t, Options[string, int]{MaxEntries: 1, Shards: 1, OnRemove: func(k string, _ int, _ Reason) {
		calls++
		c.Get(k, 0)
		if calls == 1 {
			c.Set("again", 0, 0, 0) // evicts again: a nested OnRemove, outside the lock
		}
	}})
	c.Set("a", 1, 0, 0)
	c.Set("b", 1, 0, 0)
	if calls != 2 {
		t.Fatalf("OnRemove called %d times, want 2", calls)
	}
	c.Range(0, func(k string, _ int, _ int64) bool { c.Set(k, 2, 0, 0); return true })
	c.Scan(0, 10, 0, func(k string, _ int, _ int64) { c.Remove(k) })
	if c.Len() != 0 {
		t.Fatalf("len %d after removing from Scan", c.Len())
	}
}
