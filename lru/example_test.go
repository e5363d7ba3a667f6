package lru_test

import (
	"fmt"

	"github.com/geocache/geocache/lru"
)

func Example() {
	c, err := lru.New(lru.Options[string, string]{
		MaxEntries: 2,
		Stamp:      func(v string) uint64 { return uint64(len(v)) }, // a toy version stamp
		OnRemove: func(k, v string, r lru.Reason) {
			fmt.Printf("%s: %s=%s\n", r, k, v)
		},
	})
	if err != nil {
		panic(err)
	}
	now := int64(1_700_000_000_000) // unix ms, passed in by the caller
	c.Set("a", "apple", 0, now)
	c.Set("b", "banana", now+500, now) // expires 500 ms from now
	c.Get("a", now)                    // a becomes the most recently used
	c.Set("c", "cherry", 0, now)       // evicts b, the least recently used

	// A late write for b meets b's local tombstone: compare-and-apply decides.
	cur, up := c.Apply("b", now, func(cur lru.Current[string]) lru.Update[string] {
		if !cur.Exists && cur.Floor >= 6 {
			return lru.Update[string]{Action: lru.Keep} // older than what was evicted
		}
		return lru.Update[string]{Action: lru.Put, Value: "blueberry"}
	})
	fmt.Println("b exists:", cur.Exists, "floor:", cur.Floor, "action:", up.Action)

	c.Set("d", "date", now+10, now)
	_, _, ok := c.Get("d", now+10) // expired at now+10: reclaimed, never returned
	fmt.Println("d found:", ok, "entries:", c.Len())
	// Output:
	// evicted: b=banana
	// b exists: false floor: 6 action: keep
	// evicted: a=apple
	// expired: d=date
	// d found: false entries: 1
}
