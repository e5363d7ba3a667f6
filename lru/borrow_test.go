package lru

import (
	"fmt"
	"testing"
)

// An entry larger than its shard's share stays while the cache has room: its shard borrows,
// the other shards shrink to make room on their next writes, and the cache stays within
// MaxBytes. Past three quarters of the others' shares it is evicted like any LRU entry, an
// entry beyond what borrowing allows is not stored, and removing the borrower gives the
// others their shares back.
func TestBigEntryBorrows(t *testing.T) {
	t.Parallel()
	const shards, maxBytes = 8, 8 * 10000
	size := func(_ string, v []byte) int { return len(v) }
	c := mustNew(t, Options[string, []byte]{MaxBytes: maxBytes, Size: size, Shards: shards})
	for i := range 2000 { // small entries fill every shard to its share
		c.Set(fmt.Sprint("k", i), make([]byte, 36), 0, 0)
	}
	if c.Bytes() > maxBytes || c.Bytes() < maxBytes*9/10 {
		t.Fatalf("Bytes %d after the small entries, want about %d", c.Bytes(), maxBytes)
	}
	// Five shares: far above its shard's, within what the others can lend.
	big := make([]byte, 5*maxBytes/shards)
	c.Set("big", big, 0, 0)
	if _, _, ok := c.Peek("big", 0); !ok {
		t.Fatal("an entry of five shares was evicted while the cache had room")
	}
	for i := range 4000 { // the others shrink as they are written
		c.Set(fmt.Sprint("s", i), make([]byte, 36), 0, 0)
		if i%50 == 0 {
			// In use: a big entry least recently used is evicted when its shard's small
			// entries need room, as any other.
			c.Get("big", 0)
		}
		if _, _, ok := c.Peek("big", 0); !ok {
			t.Fatalf("big entry evicted by small write %d", i)
		}
	}
	if c.Bytes() > maxBytes {
		t.Fatalf("Bytes %d over MaxBytes %d with a borrower", c.Bytes(), maxBytes)
	}
	checkInvariants(t, c)
	// Growing it past share + maxOver (1 + 7×3/4 shares) stores nothing.
	c.Set("big", make([]byte, maxBytes*7/8), 0, 0)
	if _, _, ok := c.Peek("big", 0); ok {
		t.Fatal("an entry beyond what borrowing allows was stored")
	}
	if c.over.Load() != 0 {
		t.Fatalf("over %d after the borrower went", c.over.Load())
	}
	for i := range 4000 {
		c.Set(fmt.Sprint("t", i), make([]byte, 36), 0, 0)
	}
	if c.Bytes() < maxBytes*9/10 {
		t.Fatalf("Bytes %d: the shares were not given back", c.Bytes())
	}
	checkInvariants(t, c)
}
