package lru

import (
	"math/rand"
	"strconv"
	"testing"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// TestHitRatioMatchesExactLRU replays Zipf traces through the cache (default sharding, an
// entry-count bound of 10% of the key space, Set on every miss) and through
// golang-lru/v2/simplelru, an exact LRU, and requires equal hit ratios within 0.5 point.
func TestHitRatioMatchesExactLRU(t *testing.T) {
	keys, accesses := 1_000_000, 4_000_000
	if testing.Short() || raceEnabled {
		keys, accesses = 100_000, 400_000
	}
	for _, tc := range []struct {
		name     string
		s        float64
		capacity int
	}{
		{"zipf1.01/10%", 1.01, keys / 10},
		{"zipf1.01/1%", 1.01, keys / 100},
		{"zipf1.2/10%", 1.2, keys / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewSource(42))
			z := rand.NewZipf(r, tc.s, 1, uint64(keys-1))
			trace := make([]string, accesses)
			names := make([]string, keys)
			for i := range trace {
				k := z.Uint64()
				if names[k] == "" {
					names[k] = "key:" + strconv.FormatUint(k, 10)
				}
				trace[i] = names[k]
			}
			c, err := New(Options[string, int]{MaxEntries: tc.capacity})
			if err != nil {
				t.Fatal(err)
			}
			exact, err := simplelru.NewLRU[string, int](tc.capacity, nil)
			if err != nil {
				t.Fatal(err)
			}
			var hits, exactHits int
			for _, k := range trace {
				if _, _, ok := c.Get(k, 0); ok {
					hits++
				} else {
					c.Set(k, 1, 0, 0)
				}
				if _, ok := exact.Get(k); ok {
					exactHits++
				} else {
					exact.Add(k, 1)
				}
			}
			got := 100 * float64(hits) / float64(len(trace))
			want := 100 * float64(exactHits) / float64(len(trace))
			t.Logf("%s: hit ratio lru %.3f%%, exact LRU %.3f%%, diff %+.3f point (%d shards, %d accesses)",
				tc.name, got, want, got-want, len(c.shards), len(trace))
			if d := got - want; d > 0.5 || d < -0.5 {
				t.Errorf("hit ratio %.3f%% differs from exact LRU %.3f%% by more than 0.5 point", got, want)
			}
			if st := c.Stats(); st.Hits != uint64(hits) || st.Misses != uint64(len(trace)-hits) {
				t.Errorf("stats hits/misses %d/%d, counted %d/%d", st.Hits, st.Misses, hits, len(trace)-hits)
			}
			checkInvariants(t, c)
		})
	}
}
