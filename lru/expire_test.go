package lru

import (
	"fmt"
	"testing"
)

type removed struct {
	key    string
	reason Reason
}

func newRecorded(t *testing.T, o Options[string, string]) (*Cache[string, string], *[]removed) {
	t.Helper()
	var log []removed
	o.OnRemove = func(k, _ string, r Reason) { log = append(log, removed{k, r}) }
	if o.Stamp == nil {
		o.Stamp = func(v string) uint64 { return uint64(len(v)) }
	}
	return mustNew(t, o), &log
}

func TestIsExpired(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expiry, now int64
		want        bool
	}{
		{0, 1 << 60, false},
		{100, 99, false},
		{100, 100, true},
		{100, 101, true},
		{-5, -10, true},
	} {
		if got := IsExpired(tc.expiry, tc.now); got != tc.want {
			t.Errorf("IsExpired(%d, %d) = %v", tc.expiry, tc.now, got)
		}
	}
}

// TestExpiredNeverReturned covers every read path at, before and after the expiry instant.
func TestExpiredNeverReturned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		read func(c *Cache[string, string], now int64) bool // reports whether "k" was seen
		// reclaims: the read removes the expired entry (tombstone + OnRemove)
		reclaims bool
	}{
		{"Get", func(c *Cache[string, string], now int64) bool { _, _, ok := c.Get("k", now); return ok }, true},
		{"Touch", func(c *Cache[string, string], now int64) bool { return c.Touch("k", now) }, true},
		{"Peek", func(c *Cache[string, string], now int64) bool { _, _, ok := c.Peek("k", now); return ok }, false},
		{"Apply", func(c *Cache[string, string], now int64) bool {
			cur, _ := c.Apply("k", now, func(Current[string]) Update[string] { return Update[string]{} })
			return cur.Exists
		}, true},
		{"Scan", func(c *Cache[string, string], now int64) bool {
			seen := false
			for cur := c.Scan(0, 1, now, func(k, _ string, _ int64) { seen = seen || k == "k" }); cur != 0; {
				cur = c.Scan(cur, 1, now, func(k, _ string, _ int64) { seen = seen || k == "k" })
			}
			return seen
		}, false},
		{"Range", func(c *Cache[string, string], now int64) bool {
			seen := false
			c.Range(now, func(k, _ string, _ int64) bool { seen = seen || k == "k"; return true })
			return seen
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, log := newRecorded(t, Options[string, string]{})
			c.Set("k", "value", 1000, 0)
			c.Set("other", "v", 0, 0)
			if !tc.read(c, 999) {
				t.Fatal("live entry not seen at 999")
			}
			for _, now := range []int64{1000, 5000} {
				if tc.read(c, now) {
					t.Fatalf("expired entry seen at %d", now)
				}
			}
			st := c.Stats()
			if tc.reclaims {
				if len(*log) != 1 || (*log)[0] != (removed{"k", Expired}) || st.Expirations != 1 || st.Entries != 1 {
					t.Fatalf("reclaim: log %v stats %+v", *log, st)
				}
				if cur, _ := c.Apply("k", 0, func(Current[string]) Update[string] { return Update[string]{} }); cur.Floor != 5 {
					t.Fatalf("tombstone floor %d, want Stamp(value) = 5", cur.Floor)
				}
			} else if len(*log) != 0 || st.Entries != 2 {
				t.Fatalf("read-only path changed the cache: log %v stats %+v", *log, st)
			}
			checkInvariants(t, c)
		})
	}
}

func TestSetAlreadyExpired(t *testing.T) {
	t.Parallel()
	c, log := newRecorded(t, Options[string, string]{})
	c.Set("k", "old", 0, 0)
	c.Set("k", "newer", 50, 50) // expired at now: replaces and reports the new value
	if _, _, ok := c.Peek("k", 0); ok || c.Len() != 0 {
		t.Fatal("already-expired value stored")
	}
	if len(*log) != 1 || (*log)[0] != (removed{"k", Expired}) {
		t.Fatalf("log %v", *log)
	}
	c.Set("n", "v", -1, 0) // negative expiry: always expired
	if _, _, ok := c.Get("n", -100); ok {
		t.Fatal("negative expiry stored")
	}
	c.Set("far", "v", MaxExpiry+12345, 0)
	if _, exp, ok := c.Get("far", 0); !ok || exp != MaxExpiry {
		t.Fatalf("far expiry: %d, %v; want clamped to MaxExpiry", exp, ok)
	}
	checkInvariants(t, c)
}

func TestExpireTick(t *testing.T) {
	t.Parallel()
	c, log := newRecorded(t, Options[string, string]{Shards: 4})
	const n = 1000
	for i := range n {
		exp := int64(0)
		if i%2 == 0 {
			exp = int64(100 + i) // expire between 100 and 1098
		}
		c.Set(fmt.Sprint(i), "v", exp, 0)
	}
	if got := c.ExpireTick(50, 1000); got != 0 {
		t.Fatalf("reclaimed %d before any expiry", got)
	}
	if got := c.ExpireTick(2000, 0); got != 0 {
		t.Fatalf("budget 0 reclaimed %d", got)
	}
	// Bounded: never more than the budget per call.
	total := 0
	for range 1000 {
		got := c.ExpireTick(600, 7)
		if got > 7 {
			t.Fatalf("reclaimed %d > budget 7", got)
		}
		total += got
	}
	if total != 251 { // entries 0, 2, ..., 500 have expiry <= 600
		t.Fatalf("reclaimed %d entries expired by 600, want 251", total)
	}
	for total < n/2 {
		got := c.ExpireTick(5000, 10)
		if got == 0 {
			t.Fatalf("sweep stalled at %d of %d", total, n/2)
		}
		total += got
	}
	if c.Len() != n/2 || len(*log) != n/2 || c.Stats().Expirations != n/2 {
		t.Fatalf("len %d, %d callbacks, stats %+v", c.Len(), len(*log), c.Stats())
	}
	for _, r := range *log {
		if r.reason != Expired {
			t.Fatalf("reason %v", r.reason)
		}
	}
	if c.ExpireTick(1<<40, 100) != 0 {
		t.Fatal("entries without expiry reclaimed")
	}
	checkInvariants(t, c)
}

// TestExpireTickWorkBound checks the work bound: with no expired entry, one call examines at
// most sweepFactor × budget slots.
func TestExpireTickWorkBound(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[int, int]{Shards: 1})
	for i := range 10000 {
		c.Set(i, i, 1<<40, 0)
	}
	s := &c.shards[0]
	before := s.expNext
	c.ExpireTick(0, 3)
	if got := s.expNext - before; got != 3*sweepFactor {
		t.Fatalf("examined %d slots, want %d", got, 3*sweepFactor)
	}
}
