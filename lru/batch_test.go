package lru

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"unsafe"
)

// TestApplyBatchMatchesApply runs the same random updates through ApplyBatch on one cache and
// one Apply at a time on another: every fn must see the same state and the caches must end
// equal. Batches are longer than batchMax and repeat keys, so order within and across chunks
// matters.
func TestApplyBatchMatchesApply(t *testing.T) {
	t.Parallel()
	stamp := func(v int) uint64 { return uint64(v) }
	batch := mustNew(t, Options[string, int]{Stamp: stamp, Shards: 8})
	seq := mustNew(t, Options[string, int]{Stamp: stamp, Shards: 8})
	rng := rand.New(rand.NewPCG(1, 2))
	decide := func(r uint64, cur Current[int]) Update[int] {
		switch r % 4 {
		case 0:
			return Update[int]{Action: Keep}
		case 1:
			return Update[int]{Action: Delete, Tombstone: r%8 == 1}
		}
		exp := int64(0)
		if r%16 == 2 {
			exp = 5 // expired at now >= 5
		}
		return Update[int]{Action: Put, Value: cur.Value + int(r%100) + 1, Expiry: exp}
	}
	for round := range 50 {
		now := int64(round / 10 * 5)
		keys := make([]string, 1+rng.IntN(3*batchMax))
		rs := make([]uint64, len(keys))
		for i := range keys {
			keys[i] = fmt.Sprintf("k%d", rng.IntN(150))
			rs[i] = rng.Uint64()
		}
		seen := make([]Current[int], len(keys))
		calls := 0
		batch.ApplyBatch(keys, now, func(i int, cur Current[int]) Update[int] {
			if i != calls {
				t.Fatalf("round %d: fn called for %d, want %d", round, i, calls)
			}
			calls++
			seen[i] = cur
			return decide(rs[i], cur)
		})
		if calls != len(keys) {
			t.Fatalf("round %d: fn called %d times for %d keys", round, calls, len(keys))
		}
		for i, k := range keys {
			var want Current[int]
			seq.Apply(k, now, func(cur Current[int]) Update[int] { want = cur; return decide(rs[i], cur) })
			if seen[i] != want {
				t.Fatalf("round %d key %d (%s): ApplyBatch's fn saw %+v, Apply's %+v", round, i, k, seen[i], want)
			}
		}
	}
	for i := range 150 {
		k := fmt.Sprintf("k%d", i)
		v1, e1, ok1 := batch.Peek(k, 0)
		v2, e2, ok2 := seq.Peek(k, 0)
		if v1 != v2 || e1 != e2 || ok1 != ok2 {
			t.Fatalf("%s: batch %d/%d/%v, sequential %d/%d/%v", k, v1, e1, ok1, v2, e2, ok2)
		}
	}
	if batch.Len() != seq.Len() || batch.Bytes() != seq.Bytes() {
		t.Fatalf("batch holds %d entries, %d bytes; sequential %d, %d", batch.Len(), batch.Bytes(), seq.Len(), seq.Bytes())
	}
}

// TestApplyBatchEvictsOutsideLocks checks that evictions made by a batch reach OnRemove after
// the locks are released: OnRemove calls the cache, which would deadlock under them.
func TestApplyBatchEvictsOutsideLocks(t *testing.T) {
	t.Parallel()
	var c *Cache[string, int]
	var evicted []string
	c = mustNew(t, Options[string, int]{MaxEntries: 4, Shards: 1, OnRemove: func(k string, _ int, r Reason) {
		if r != Evicted {
			t.Errorf("%s removed as %v, want evicted", k, r)
		}
		c.Peek(k, 0) // takes the shard's read lock
		evicted = append(evicted, k)
	}})
	keys := []string{"a", "b", "c", "d", "e", "f"}
	c.ApplyBatch(keys, 0, func(i int, _ Current[int]) Update[int] { return Update[int]{Action: Put, Value: i} })
	if got := fmt.Sprint(evicted); got != "[a b]" {
		t.Fatalf("evicted %s, want [a b]", got)
	}
	for i, k := range keys[2:] {
		if v, _, ok := c.Peek(k, 0); !ok || v != i+2 {
			t.Fatalf("%s = %d, %v; want %d", k, v, ok, i+2)
		}
	}
}

// TestApplyBatchConcurrent runs batches beside single-key writers and readers of the same keys
// (for the race detector and lock order): every batch increments each of its distinct keys
// once, so the final counts are exact.
func TestApplyBatchConcurrent(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, int]{Shards: 4})
	const keys, rounds, workers = 40, 200, 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ks := make([]string, keys)
			for i := range ks {
				ks[(i+w*7)%keys] = fmt.Sprintf("k%d", i)
			}
			for r := range rounds {
				if w%2 == 0 {
					c.ApplyBatch(ks, 0, func(_ int, cur Current[int]) Update[int] {
						return Update[int]{Action: Put, Value: cur.Value + 1}
					})
					continue
				}
				for _, k := range ks {
					c.Apply(k, 0, func(cur Current[int]) Update[int] { return Update[int]{Action: Put, Value: cur.Value + 1} })
					c.Get(ks[r%keys], 0)
				}
			}
		}()
	}
	wg.Wait()
	for i := range keys {
		if v, _, _ := c.Peek(fmt.Sprintf("k%d", i), 0); v != workers*rounds {
			t.Fatalf("k%d = %d, want %d", i, v, workers*rounds)
		}
	}
}

// benchValue is as wide as a node's stored value (data slice, version, dot, type, object).
type benchValue struct {
	data []byte
	a, b [5]uint64
}

// benchApply applies b.N updates of uniformly drawn keys of a populated cache, in batches of 64
// (as a replica receives them), one Apply at a time or one ApplyBatch per batch:
//
//	go test ./lru -run='^$' -bench=ApplyUniform -benchtime=2000000x -count=3
func benchApply(b *testing.B, nkeys int, batched bool) {
	c := mustNew(b, Options[string, benchValue]{})
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%012d", i)
		c.Set(keys[i], benchValue{data: make([]byte, 100)}, 0, 0)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	trace := make([]string, 1<<20)
	for i := range trace {
		trace[i] = string([]byte(keys[rng.IntN(nkeys)])) // a copy of its own, as decoded
	}
	fn := func(cur Current[benchValue]) Update[benchValue] {
		cur.Value.a[0]++
		return Update[benchValue]{Action: Put, Value: cur.Value}
	}
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() {
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}()
	for done := 0; done < b.N; done += 64 {
		off := done % len(trace)
		batch := trace[off : off+64]
		if batched {
			c.ApplyBatch(batch, 0, func(_ int, cur Current[benchValue]) Update[benchValue] { return fn(cur) })
			continue
		}
		for _, k := range batch {
			c.Apply(k, 0, fn)
		}
	}
}

func BenchmarkApplyUniform100k(b *testing.B)      { benchApply(b, 100_000, false) }
func BenchmarkApplyUniform100kBatch(b *testing.B) { benchApply(b, 100_000, true) }
func BenchmarkApplyUniform1M(b *testing.B)        { benchApply(b, 1_000_000, false) }
func BenchmarkApplyUniform1MBatch(b *testing.B)   { benchApply(b, 1_000_000, true) }

// TestWarmChangesNothing warms present, absent and more than batchMax keys, on an empty cache
// and a filled one, beside a writer: contents, counts and hit statistics stay as they were.
func TestWarmChangesNothing(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, int]{Shards: 4})
	keys := make([]string, 3*batchMax)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	c.Warm(keys) // no bucket allocated yet
	c.Warm(nil)
	for i, k := range keys[:batchMax] {
		c.Set(k, i, 0, 0)
	}
	before := c.Stats()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 1000 {
			c.Set("other", i, 0, 0)
		}
	}()
	for range 100 {
		c.Warm(keys)
	}
	wg.Wait()
	if c.Len() != batchMax+1 {
		t.Fatalf("Len = %d, want %d", c.Len(), batchMax+1)
	}
	for i, k := range keys[:batchMax] {
		if v, _, ok := c.Peek(k, 0); !ok || v != i {
			t.Fatalf("%s = %d, %v; want %d", k, v, ok, i)
		}
	}
	if after := c.Stats(); after.Hits != before.Hits || after.Misses != before.Misses {
		t.Fatalf("Warm counted hits or misses: before %+v, after %+v", before, after)
	}
}

// TestWarmValue checks that WarmReads hands WarmValue the value of each key it holds, once per
// call, and nothing for absent keys or keys beyond the first batchMax; Warm calls it never.
func TestWarmValue(t *testing.T) {
	t.Parallel()
	var seen []int
	c := mustNew(t, Options[string, int]{Shards: 4, WarmValue: func(v *int) uint64 {
		seen = append(seen, *v)
		return uint64(*v)
	}})
	keys := make([]string, batchMax+2)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	c.WarmReads(keys) // empty: nothing to warm
	if len(seen) != 0 {
		t.Fatalf("WarmValue called on an empty cache: %v", seen)
	}
	for i, k := range keys {
		if i%2 == 0 {
			c.Set(k, i, 0, 0)
		}
	}
	c.Warm(keys)
	if len(seen) != 0 {
		t.Fatalf("Warm called WarmValue: %v", seen)
	}
	c.WarmReads(keys)
	slices.Sort(seen)
	var want []int
	for i := 0; i < batchMax; i += 2 {
		want = append(want, i)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("WarmValue saw %v, want %v", seen, want)
	}
}

// TestApplyBatchOwn: with borrowed keys (views of a buffer the caller reuses), own is called
// only where a Put stores a key absent until then, and the cache keeps and reports (OnRemove)
// only its own copies: after the buffer is overwritten, every key reads back, and OnRemove
// named the right keys for a new key rejected at once (already expired) and for a present key
// replaced by an expired value.
func TestApplyBatchOwn(t *testing.T) {
	t.Parallel()
	var removed []string
	c := mustNew(t, Options[string, int]{Shards: 4, OnRemove: func(k string, _ int, _ Reason) { removed = append(removed, k) }})
	c.Set("a", 1, 0, 0)
	c.Set("e", 1, 0, 0)
	buf := []byte("abcde")
	keys := make([]string, len(buf))
	for i := range buf {
		keys[i] = unsafe.String(&buf[i], 1) // "a" … "e", borrowed from buf
	}
	var owned []string
	own := func(k string) string {
		owned = append(owned, string([]byte(k)))
		return string([]byte(k))
	}
	const now = 5
	c.ApplyBatchOwn(keys, now, own, func(i int, cur Current[int]) Update[int] {
		if keys[i] == "d" || keys[i] == "e" {
			return Update[int]{Action: Put, Value: 4, Expiry: 1} // expired at now: removed at once
		}
		return Update[int]{Action: Put, Value: cur.Value + 10}
	})
	copy(buf, "XXXXX") // the caller reuses its buffer
	if !slices.Equal(owned, []string{"b", "c", "d"}) {
		t.Errorf("own called for %q, want the absent keys b, c and d", owned)
	}
	slices.Sort(removed)
	if !slices.Equal(removed, []string{"d", "e"}) {
		t.Errorf("OnRemove got %q, want d and e (a borrowed key reads as X once its buffer is reused)", removed)
	}
	for k, want := range map[string]int{"a": 11, "b": 10, "c": 10} {
		if v, _, ok := c.Get(k, now); !ok || v != want {
			t.Errorf("%s: got %d, %v; want %d", k, v, ok, want)
		}
	}
	var stored []string
	c.Scan(0, 100, now, func(k string, _ int, _ int64) { stored = append(stored, k) })
	slices.Sort(stored)
	if !slices.Equal(stored, []string{"a", "b", "c"}) {
		t.Errorf("stored keys %q, want a, b and c", stored)
	}
}

// TestApplyBatchTagCollisions applies keys whose bucket's head entry carries the same hash tag
// but is another key: the warm pass stops its walk at a matching tag, so these are the keys it
// leaves for find to reach by itself. Present ones must be found with their values, absent
// ones inserted once.
func TestApplyBatchTagCollisions(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, int]{Shards: 1})
	const n = 4000
	for i := range n {
		c.Set(fmt.Sprintf("k%d", i), i, 0, 0)
	}
	// behind reports whether key's bucket starts with another key of the same tag.
	behind := func(key string) bool {
		h := c.hash(key)
		s := c.shardOf(h)
		l := *s.head(s.bucket(h))
		if l == 0 {
			return false
		}
		e := s.at(l - 1)
		return e.links&tagBits == tagOf(h) && s.key(e) != key
	}
	var present, absent []string
	for i := 0; i < n && len(present) < batchMax/2; i++ {
		if k := fmt.Sprintf("k%d", i); behind(k) {
			present = append(present, k)
		}
	}
	for i := 0; len(absent) < batchMax/2 && i < 1_000_000; i++ {
		if k := fmt.Sprintf("x%d", i); behind(k) {
			absent = append(absent, k)
		}
	}
	if len(present) < 4 || len(absent) < 4 {
		t.Fatalf("found %d present and %d absent keys behind a matching tag: too few to test", len(present), len(absent))
	}
	keys := append(append([]string{}, present...), absent...)
	saw := make([]Current[int], len(keys))
	c.ApplyBatch(keys, 0, func(i int, cur Current[int]) Update[int] {
		saw[i] = cur
		if cur.Exists {
			return Update[int]{Action: Put, Value: cur.Value + 1_000_000}
		}
		return Update[int]{Action: Put, Value: -1}
	})
	for i, k := range keys {
		var orig int
		wantExists := i < len(present)
		if wantExists {
			if _, err := fmt.Sscanf(k, "k%d", &orig); err != nil {
				t.Fatal(err)
			}
		}
		if saw[i].Exists != wantExists || (wantExists && saw[i].Value != orig) {
			t.Errorf("%s: fn saw %+v, want exists=%v value %d", k, saw[i], wantExists, orig)
		}
		want := -1
		if wantExists {
			want = orig + 1_000_000
		}
		if v, _, ok := c.Peek(k, 0); !ok || v != want {
			t.Errorf("%s = %d (present %v), want %d", k, v, ok, want)
		}
	}
	if got, want := c.Len(), n+len(absent); got != want {
		t.Errorf("Len = %d, want %d (each absent key inserted once)", got, want)
	}
}
