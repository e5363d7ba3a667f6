package lru

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
)

func mustNew[K comparable, V any](t testing.TB, o Options[K, V]) *Cache[K, V] {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func strSize(k, v string) int { return len(k) + len(v) }

func TestNewValidation(t *testing.T) {
	t.Parallel()
	size := func(k string, v int) int { return len(k) }
	for _, tc := range []struct {
		name string
		o    Options[string, int]
		want string // substring of the error; "" = valid
	}{
		{"zero value", Options[string, int]{}, ""},
		{"bounded", Options[string, int]{MaxBytes: 1 << 20, MaxEntries: 100, Size: size, Shards: 4}, ""},
		{"negative bytes", Options[string, int]{MaxBytes: -1}, "MaxBytes"},
		{"negative entries", Options[string, int]{MaxEntries: -1}, "MaxEntries"},
		{"negative tombstones", Options[string, int]{MaxTombstones: -1}, "MaxTombstones"},
		{"shards not power of two", Options[string, int]{Shards: 3}, "Shards"},
		{"negative shards", Options[string, int]{Shards: -2}, "Shards"},
		{"too many shards", Options[string, int]{Shards: 1 << 17}, "Shards"},
		{"bytes without size", Options[string, int]{MaxBytes: 100}, "Size"},
		{"more shards than entries", Options[string, int]{MaxEntries: 2, Shards: 4}, "exceeds"},
		{"bytes below one entry per shard", Options[string, int]{MaxBytes: 100, Size: size, Shards: 4}, "cannot hold"},
		{"entries beyond shard capacity", Options[string, int]{MaxEntries: 3 * entryCap, Shards: 2}, "needs more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			c, err := New(o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("no error, want one mentioning %q", tc.want)
			case tc.want != "" && (!strings.HasPrefix(err.Error(), "lru: ") || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %q, want prefix %q mentioning %q", err, "lru: ", tc.want)
			case err == nil && (c.Len() != 0 || c.Bytes() != 0):
				t.Fatalf("new cache not empty")
			}
		})
	}
}

func TestAutoShards(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		entries   int
		bytes     int64
		max, min_ int
	}{
		{0, 0, 1024, 16},
		{100, 0, 1, 1},
		{10_000, 0, 16, 1},
		{0, 1 << 20, 1, 1},
		{0, 64 << 20, 16, 1},
		{40 * entryCap, 0, 1 << 16, 64},
	} {
		n := autoShards(tc.entries, tc.bytes)
		if n < tc.min_ || n > tc.max || n&(n-1) != 0 {
			t.Errorf("autoShards(%d, %d) = %d, want a power of two in [%d, %d]", tc.entries, tc.bytes, n, tc.min_, tc.max)
		}
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ got, want string }{
		{Evicted.String(), "evicted"},
		{Expired.String(), "expired"},
		{Reason(9).String(), "reason(9)"},
		{Keep.String(), "keep"},
		{Put.String(), "put"},
		{Delete.String(), "delete"},
		{Action(7).String(), "action(7)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestGetSetPeekRemove(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, string]{})
	if _, _, ok := c.Get("a", 0); ok {
		t.Fatal("empty cache hit")
	}
	c.Set("a", "1", 0, 0)
	c.Set("b", "2", 500, 0)
	for _, tc := range []struct {
		key, value string
		expiry     int64
		ok         bool
	}{
		{"a", "1", 0, true},
		{"b", "2", 500, true},
		{"c", "", 0, false},
	} {
		v, exp, ok := c.Get(tc.key, 10)
		if v != tc.value || exp != tc.expiry || ok != tc.ok {
			t.Errorf("Get(%q) = %q, %d, %v; want %q, %d, %v", tc.key, v, exp, ok, tc.value, tc.expiry, tc.ok)
		}
		v, exp, ok = c.Peek(tc.key, 10)
		if v != tc.value || exp != tc.expiry || ok != tc.ok {
			t.Errorf("Peek(%q) = %q, %d, %v; want %q, %d, %v", tc.key, v, exp, ok, tc.value, tc.expiry, tc.ok)
		}
	}
	if st := c.Stats(); st.Hits != 2 || st.Misses != 2 || st.Entries != 2 {
		t.Errorf("stats %+v, want 2 hits, 2 misses (Peek not counted), 2 entries", st)
	}
	c.Set("a", "1bis", 0, 0)
	if v, _, _ := c.Get("a", 0); v != "1bis" {
		t.Errorf("replaced value %q", v)
	}
	if !c.Touch("a", 0) || c.Touch("zz", 0) {
		t.Error("Touch result wrong")
	}
	if !c.Remove("a") || c.Remove("a") {
		t.Error("Remove result wrong")
	}
	if _, _, ok := c.Get("a", 0); ok || c.Len() != 1 {
		t.Errorf("after Remove: found %v, len %d", ok, c.Len())
	}
	if c.Stats().Tombstones != 0 {
		t.Error("Remove left a tombstone")
	}
	checkInvariants(t, c)
}

func TestNonStringKeys(t *testing.T) {
	t.Parallel()
	type key struct {
		a int
		b string
	}
	c := mustNew(t, Options[key, int]{MaxEntries: 100, Shards: 4})
	for i := range 1000 {
		c.Set(key{i, fmt.Sprint(i)}, i, 0, 0)
	}
	if c.Len() != 100 {
		t.Fatalf("len %d", c.Len())
	}
	if v, _, ok := c.Get(key{999, "999"}, 0); !ok || v != 999 {
		t.Fatalf("Get = %d, %v", v, ok)
	}
	checkInvariants(t, c)

	type name string
	n := mustNew(t, Options[name, int]{})
	n.Set("x", 1, 0, 0)
	if v, _, ok := n.Get("x", 0); !ok || v != 1 {
		t.Fatalf("named string key: %d, %v", v, ok)
	}
}

func TestByteAccounting(t *testing.T) {
	t.Parallel()
	const maxBytes = 10 * (EntryOverhead + 10)
	var removed []string
	c := mustNew(t, Options[string, string]{
		MaxBytes: maxBytes, Size: strSize, Shards: 1,
		OnRemove: func(k, v string, r Reason) { removed = append(removed, k+"/"+r.String()) },
	})
	c.Set("k1", "12345678", 0, 0) // 10 payload bytes
	if got, want := c.Bytes(), int64(10+EntryOverhead); got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}
	c.Set("k1", "1234", 0, 0) // replaced: 6
	if got, want := c.Bytes(), int64(6+EntryOverhead); got != want {
		t.Fatalf("after replace Bytes = %d, want %d", got, want)
	}
	for i := range 20 {
		c.Set(fmt.Sprintf("x%d", i%10), "12345678", 0, 0) // 10 bytes each
		if c.Bytes() > maxBytes {
			t.Fatalf("Bytes %d over MaxBytes %d", c.Bytes(), maxBytes)
		}
	}
	// k1 was least recently used: evicted first, exactly once.
	if len(removed) != 1 || removed[0] != "k1/evicted" {
		t.Fatalf("removed %v, want [k1/evicted]", removed)
	}
	if c.Bytes() != maxBytes || c.Len() != 10 || c.Stats().Bytes != maxBytes {
		t.Fatalf("Bytes %d Len %d, want %d and 10", c.Bytes(), c.Len(), maxBytes)
	}
	// Larger than the shard: not stored, reported as evicted, others untouched.
	removed = nil
	c.Set("huge", strings.Repeat("x", maxBytes), 0, 0)
	if _, _, ok := c.Peek("huge", 0); ok || c.Len() != 10 || len(removed) != 1 || removed[0] != "huge/evicted" {
		t.Fatalf("oversized: len %d removed %v", c.Len(), removed)
	}
	// Growing a value evicts others to make room.
	c.Set("x9", strings.Repeat("y", 8+2*(EntryOverhead+10)), 0, 0) // grows by two entries' cost
	if c.Bytes() > maxBytes || c.Len() != 8 {
		t.Fatalf("after growth: Bytes %d Len %d", c.Bytes(), c.Len())
	}
	checkInvariants(t, c)

	// Without Size, every entry costs EntryOverhead.
	u := mustNew(t, Options[string, string]{})
	u.Set("a", "b", 0, 0)
	if u.Bytes() != EntryOverhead {
		t.Fatalf("Bytes without Size = %d", u.Bytes())
	}
}

// TestConcurrentMixed runs every operation from several goroutines (for -race) and then checks
// the structure.
func TestConcurrentMixed(t *testing.T) {
	t.Parallel()
	var removals sync.Map
	c := mustNew(t, Options[string, string]{
		MaxBytes: 100 * (EntryOverhead + 8), Size: strSize, Shards: 4,
		Stamp:         func(v string) uint64 { return uint64(len(v)) },
		MaxTombstones: 64,
		OnRemove:      func(k, v string, r Reason) { removals.Store(k, r) },
	})
	ops := 20000
	if testing.Short() {
		ops = 4000
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for i := range ops {
				k := fmt.Sprintf("k%d", r.Intn(600))
				now := int64(i)
				switch r.Intn(10) {
				case 0, 1, 2:
					c.Get(k, now)
				case 3:
					c.Set(k, "vvvv", now+int64(r.Intn(50)), now)
				case 4:
					c.Set(k, "vv", 0, now)
				case 5:
					c.Apply(k, now, func(cur Current[string]) Update[string] {
						if cur.Exists {
							return Update[string]{Action: Delete, Tombstone: true}
						}
						return Update[string]{Action: Put, Value: "abc", Expiry: now + 100}
					})
				case 6:
					c.Peek(k, now)
					c.Touch(k, now)
				case 7:
					c.ExpireTick(now, 5)
				case 8:
					c.Scan(uint64(r.Intn(3))<<32, 5, now, func(string, string, int64) {})
					if r.Intn(50) == 0 {
						c.CollectTombstones(3)
					}
				case 9:
					c.Remove(k)
					c.Range(now, func(string, string, int64) bool { return r.Intn(20) != 0 })
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, c)
	if c.Bytes() > 100*(EntryOverhead+8) {
		t.Fatalf("Bytes %d over bound", c.Bytes())
	}
	st := c.Stats()
	if st.Entries != uint64(c.Len()) || st.Bytes != c.Bytes() || st.Evictions == 0 || st.Expirations == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestChunkOf(t *testing.T) {
	t.Parallel()
	for _, p := range [][2]uint{{slabFirst, slabMax}, {headFirst, headMax}} {
		c, off, n := uint32(0), uint32(0), 0
		for i := uint32(0); i < 1<<16; i++ {
			gc, goff := chunkOf(i, p[0], p[1])
			if gc != c || goff != off {
				t.Fatalf("chunkOf(%d, %v) = %d,%d; want %d,%d", i, p, gc, goff, c, off)
			}
			off++
			if int(off) == chunkSize(c, p[0], p[1]) {
				c, off = c+1, 0
				n++
			}
		}
	}
}

func TestNthSmallest(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(1))
	for range 200 {
		n := 1 + r.Intn(100)
		a := make([]uint64, n)
		for i := range a {
			a[i] = uint64(r.Intn(20))
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		k := r.Intn(n)
		if got := nthSmallest(a, k); got != sorted[k] {
			t.Fatalf("nthSmallest(%v, %d) = %d, want %d", sorted, k, got, sorted[k])
		}
	}
}
