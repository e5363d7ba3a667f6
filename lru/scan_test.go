package lru

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestScanCompleteness: while other keys are inserted and removed between Scan calls (growing
// and reusing slots), every key present throughout is returned, and Scan ends with cursor 0.
func TestScanCompleteness(t *testing.T) {
	t.Parallel()
	for _, shards := range []int{1, 4, 16} {
		t.Run(fmt.Sprint(shards, " shards"), func(t *testing.T) {
			c := mustNew(t, Options[string, int]{Shards: shards})
			stable := map[string]bool{}
			for i := range 500 {
				k := fmt.Sprint("stable", i)
				c.Set(k, i, 0, 0)
				stable[k] = true
			}
			c.Set("expired", 0, 5, 0)
			r := rand.New(rand.NewSource(int64(shards)))
			seen := map[string]int{}
			calls := 0
			for cursor := uint64(0); ; {
				cursor = c.Scan(cursor, 1+r.Intn(20), 10, func(k string, _ int, _ int64) { seen[k]++ })
				calls++
				for range 10 { // churn
					k := fmt.Sprint("churn", r.Intn(300))
					if r.Intn(2) == 0 {
						c.Set(k, 0, 0, 0)
					} else {
						c.Remove(k)
					}
				}
				if cursor == 0 {
					break
				}
				if calls > 10000 {
					t.Fatal("scan does not terminate")
				}
			}
			for k := range stable {
				if seen[k] != 1 {
					t.Fatalf("%s seen %d times", k, seen[k])
				}
			}
			if seen["expired"] != 0 {
				t.Fatal("expired entry scanned")
			}
		})
	}
}

func TestScanCountAndCursor(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[int, int]{Shards: 2})
	for i := range 100 {
		c.Set(i, i, 0, 0)
	}
	n := 0
	next := c.Scan(0, 7, 0, func(int, int, int64) { n++ })
	if n != 7 || next == 0 {
		t.Fatalf("first page: %d entries, cursor %d", n, next)
	}
	if got := c.Scan(1<<50, 10, 0, func(int, int, int64) { t.Fatal("called") }); got != 0 {
		t.Fatalf("unknown cursor returned %d", got)
	}
	empty := mustNew(t, Options[int, int]{Shards: 4})
	if got := empty.Scan(0, 10, 0, func(int, int, int64) {}); got != 0 {
		t.Fatalf("empty cache scan cursor %d", got)
	}
}

func TestRange(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[int, int]{Shards: 4})
	for i := range 1000 {
		exp := int64(0)
		if i%10 == 0 {
			exp = 50
		}
		c.Set(i, i*2, exp, 0)
	}
	seen := map[int]bool{}
	c.Range(100, func(k, v int, exp int64) bool {
		if v != 2*k || exp != 0 || seen[k] {
			t.Fatalf("entry %d=%d exp %d (seen %v)", k, v, exp, seen[k])
		}
		seen[k] = true
		return true
	})
	if len(seen) != 900 {
		t.Fatalf("ranged %d live entries, want 900", len(seen))
	}
	n := 0
	c.Range(0, func(int, int, int64) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("Range did not stop: %d calls", n)
	}
}
