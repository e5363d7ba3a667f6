package lru

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func newLockedTestCache(t *testing.T) *Cache[string, int] {
	t.Helper()
	c, err := New(Options[string, int]{Shards: 16})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLockedOperations(t *testing.T) {
	t.Parallel()
	c := newLockedTestCache(t)
	c.Set("a", 1, 0, 0)
	c.Set("exp", 2, 5, 0)
	l := c.Lock([]string{"a", "b", "exp"}, false)
	if !l.Holds("a") || !l.Holds("b") {
		t.Fatal("Holds is false for a locked key")
	}
	if v, _, ok := l.Get("a", 1); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v", v, ok)
	}
	l.Apply("b", 1, func(cur Current[int]) Update[int] {
		if cur.Exists {
			t.Errorf("b exists before the write")
		}
		return Update[int]{Action: Put, Value: 3}
	})
	if v, _, ok := l.Peek("b", 1); !ok || v != 3 {
		t.Fatalf("Peek(b) = %d, %v", v, ok)
	}
	if _, _, ok := l.Get("exp", 10); ok {
		t.Fatal("expired entry returned")
	}
	if l.Touch("b", 1) != true || l.Touch("exp", 10) {
		t.Fatal("Touch of a live key failed or of an expired key succeeded")
	}
	l.Unlock()
	if v, _, ok := c.Get("b", 1); !ok || v != 3 {
		t.Fatalf("after Unlock Get(b) = %d, %v", v, ok)
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (the expired entry reclaimed)", c.Len())
	}
}

func TestLockedAllWholeCacheReads(t *testing.T) {
	t.Parallel()
	c := newLockedTestCache(t)
	for i := range 50 {
		c.Set(fmt.Sprint(i), i, 0, 0)
	}
	l := c.Lock(nil, true)
	if l.Len() != 50 {
		t.Fatalf("Len = %d", l.Len())
	}
	seen := 0
	for cur := uint64(0); ; {
		cur = l.Scan(cur, 7, 0, func(string, int, int64) { seen++ })
		if cur == 0 {
			break
		}
	}
	if seen != 50 || l.Stats().Entries != 50 {
		t.Fatalf("Scan saw %d, Stats.Entries %d", seen, l.Stats().Entries)
	}
	l.Unlock()
}

func TestLockedMisuse(t *testing.T) {
	t.Parallel()
	c := newLockedTestCache(t)
	mustPanic := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		fn()
	}
	l := c.Lock([]string{"a"}, false)
	var other string
	for i := 0; ; i++ { // a key of another shard
		if other = fmt.Sprint("k", i); !l.Holds(other) {
			break
		}
	}
	mustPanic("Peek of an unheld key", func() { l.Peek(other, 0) })
	mustPanic("Len without all", func() { l.Len() })
	l.Unlock()
	mustPanic("second Unlock", l.Unlock)
	mustPanic("use after Unlock", func() { l.Peek("a", 0) })
	if _, _, ok := c.Peek(other, 0); ok { // and the cache is usable: no lock left behind
		t.Fatal("unexpected key")
	}
}

// TestLockedIsAtomic writes two keys of different shards under one Locked while readers read
// both with plain Gets, locking nothing else: a reader must never see one key's new value with
// the other's old one.
func TestLockedIsAtomic(t *testing.T) {
	t.Parallel()
	c := newLockedTestCache(t)
	a, b := "a", "b"
	for i := 0; ; i++ {
		if b = fmt.Sprint("b", i); c.hash(a)>>c.shift != c.hash(b)>>c.shift {
			break
		}
	}
	c.Set(a, 0, 0, 0)
	c.Set(b, 0, 0, 0)
	var stop atomic.Bool
	var torn atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				// a is written before b: were the two writes visible one at a time, a read of a
				// between them followed by a read of b could find b behind a.
				va, _, _ := c.Get(a, 0)
				vb, _, _ := c.Get(b, 0)
				if vb < va {
					torn.Add(1)
				}
			}
		}()
	}
	for i := 1; i <= 20000; i++ {
		l := c.Lock([]string{a, b}, false)
		for _, k := range []string{a, b} {
			l.Apply(k, 0, func(Current[int]) Update[int] { return Update[int]{Action: Put, Value: i} })
		}
		l.Unlock()
	}
	stop.Store(true)
	wg.Wait()
	if n := torn.Load(); n != 0 {
		t.Fatalf("%d reads saw half of a locked update", n)
	}
}
