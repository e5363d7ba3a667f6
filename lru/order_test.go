package lru

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// TestEvictionOrderTable checks the eviction order of short scripted sequences on one shard.
func TestEvictionOrderTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cap     int
		script  string // s<key>: Set, g<key>: Get, p<key>: Peek, t<key>: Touch, r<key>: Remove
		evicted string
	}{
		{"fifo without reads", 3, "sa sb sc sd se", "ab"},
		{"get promotes", 3, "sa sb sc ga sd se", "bc"},
		{"peek does not promote", 3, "sa sb sc pa sd", "a"},
		{"touch promotes", 3, "sa sb sc ta sd", "b"},
		{"set existing promotes", 3, "sa sb sc sa sd se", "bc"},
		{"repeated gets", 3, "sa sb sc ga ga gb ga sd se", "cb"},
		{"remove frees room", 3, "sa sb sc rb sd se", "a"},
		{"capacity one", 1, "sa sb gb sc", "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var evicted []byte
			c := mustNew(t, Options[string, int]{MaxEntries: tc.cap, Shards: 1,
				OnRemove: func(k string, _ int, r Reason) {
					if r != Evicted {
						t.Errorf("%s removed for %v", k, r)
					}
					evicted = append(evicted, k...)
				}})
			for i := 0; i < len(tc.script); i += 3 {
				op, k := tc.script[i], tc.script[i+1:i+2]
				switch op {
				case 's':
					c.Set(k, i, 0, 0)
				case 'g':
					c.Get(k, 0)
				case 'p':
					c.Peek(k, 0)
				case 't':
					c.Touch(k, 0)
				case 'r':
					c.Remove(k)
				}
			}
			if string(evicted) != tc.evicted {
				t.Fatalf("evicted %q, want %q", evicted, tc.evicted)
			}
			checkInvariants(t, c)
		})
	}
}

// TestExactLRUOrderRandom replays random operation sequences on a single shard small enough
// for one generation per access (fewer than 64 entries) and requires exactly the evictions and
// contents of golang-lru/v2/simplelru, an exact LRU.
func TestExactLRUOrderRandom(t *testing.T) {
	t.Parallel()
	for seed := range int64(50) {
		r := rand.New(rand.NewSource(seed))
		capacity := 1 + r.Intn(60)
		keys := capacity + 1 + r.Intn(2*capacity+5)
		var got, want []string
		c := mustNew(t, Options[string, int]{MaxEntries: capacity, Shards: 1,
			OnRemove: func(k string, _ int, _ Reason) { got = append(got, k) }})
		ref, _ := simplelru.NewLRU[string, int](capacity, func(k string, _ int) { want = append(want, k) })
		for i := range 3000 {
			k := fmt.Sprint(r.Intn(keys))
			switch r.Intn(8) {
			case 0, 1, 2:
				_, _, ok := c.Get(k, 0)
				_, rok := ref.Get(k)
				if ok != rok {
					t.Fatalf("seed %d op %d: Get(%s) = %v, exact LRU %v", seed, i, k, ok, rok)
				}
			case 3:
				c.Peek(k, 0)
				ref.Peek(k)
			case 4:
				if c.Touch(k, 0) {
					ref.Get(k)
				}
			case 5:
				removed := c.Remove(k)
				if removed != ref.Remove(k) {
					t.Fatalf("seed %d op %d: Remove(%s) disagrees", seed, i, k)
				}
				if removed { // simplelru reports removals to the callback, we do not
					want = want[:len(want)-1]
				}
			default:
				c.Set(k, i, 0, 0)
				ref.Add(k, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d (capacity %d): evictions differ\n got %v\nwant %v", seed, capacity, got, want)
		}
		checkInvariants(t, c)
	}
}

// TestLargeShardOrderApproximate checks that in a shard with many generations the least
// recently used entries are still the ones evicted: after touching a known half of the
// entries, inserting as many new ones evicts only untouched entries.
func TestLargeShardOrderApproximate(t *testing.T) {
	t.Parallel()
	const n = 20000
	c := mustNew(t, Options[int, int]{MaxEntries: n, Shards: 1})
	for i := range n {
		c.Set(i, i, 0, 0)
	}
	for i := 0; i < n; i += 2 {
		c.Get(i, 0)
	}
	for i := n; i < n+n/2; i++ {
		c.Set(i, i, 0, 0)
	}
	for i := 0; i < n; i += 2 {
		if _, _, ok := c.Peek(i, 0); !ok {
			t.Fatalf("recently read entry %d evicted", i)
		}
	}
	checkInvariants(t, c)
}

// TestEvictKeepsJustWritten: a write that needs the whole shard evicts everything else, never
// the value just written, even when other entries were read in the same generation (and so
// are repositioned in front of it).
func TestEvictKeepsJustWritten(t *testing.T) {
	t.Parallel()
	const n, small = 1000, 10
	const maxBytes = n * (EntryOverhead + small)
	size := func(_ string, v []byte) int { return len(v) }
	stampOf := func(c *Cache[string, []byte], k string) uint64 {
		s := &c.shards[0]
		return s.at(s.find(c.hash(k), k)-1).meta >> stampShift
	}
	for trial := 0; ; trial++ {
		if trial == 50 {
			t.Fatal("never got reads in the same generation as the write")
		}
		c := mustNew(t, Options[string, []byte]{MaxBytes: maxBytes, Size: size, Shards: 1})
		for i := range n {
			c.Set(fmt.Sprint(i), make([]byte, small), 0, 0)
		}
		for range trial { // vary the clock phase between trials
			c.Get(fmt.Sprint(n-4), 0)
			c.Set("x", nil, 0, 0)
		}
		c.Set("big", make([]byte, n/2*(EntryOverhead+small)), 0, 0)
		read := []string{fmt.Sprint(n - 200), fmt.Sprint(n - 300)} // placed generations ago
		for _, k := range read {
			c.Get(k, 0)
		}
		if stampOf(c, read[0]) != stampOf(c, "big") || stampOf(c, read[1]) != stampOf(c, "big") {
			continue
		}
		c.Set("big", make([]byte, maxBytes-EntryOverhead), 0, 0) // fills the shard alone
		if _, _, ok := c.Peek("big", 0); !ok || c.Len() != 1 {
			t.Fatalf("just-written entry evicted (len %d)", c.Len())
		}
		c.Set("after", nil, 0, 0) // evicts big; the structure still works
		if _, _, ok := c.Peek("after", 0); !ok || c.Len() != 1 {
			t.Fatalf("len %d after the next write", c.Len())
		}
		checkInvariants(t, c)
		return
	}
}
