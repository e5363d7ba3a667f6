package node

import (
	"context"
	"fmt"
	"testing"
	"unsafe"

	"github.com/geocache/geocache/crdt"
)

// The store charges a collection what it holds as it grows, and its bytes come back to zero
// when it goes: the collection is mutated in place, so the charge is the size recorded in the
// value, not read from the collection (which once left growth uncharged and drove the count
// negative on removal).
func TestCollectionChargeFollowsGrowth(t *testing.T) {
	t.Parallel()
	if s := unsafe.Sizeof(value{}); s != 32 {
		t.Fatalf("value is %d bytes, want 32 (the length, the flags and the writer index must share a word)", s)
	}
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	base := n.Stats().Bytes
	hset(t, n, "h", "f0", "v")
	small := n.Stats().Bytes - base
	for i := 1; i < 2000; i++ {
		hset(t, n, "h", fmt.Sprintf("field-%d", i), "value")
	}
	big := n.Stats().Bytes - base
	usage, _, _ := n.MemoryUsage(ctx, "h")
	if big < 2000*50 || big < 100*small || big-usage > 128 || usage-big > 128 {
		t.Fatalf("charged %d bytes for 2000 fields (%d for one; MEMORY USAGE %d)", big, small, usage)
	}
	if _, err := n.Delete(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	if after := n.Stats().Bytes; after < 0 || after > base+200 {
		t.Fatalf("store bytes %d after deleting the hash (%d before it)", after, base)
	}
}

// Wire bytes of one element write: the delta carries that element (and the dots it observed),
// not the collection.
func TestCollectionDeltaBytes(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a := net.add(t, "a", nil)
	var got []crdt.Delta
	a.sink = func(d crdt.Delta) { got = append(got, d) }
	ctx := context.Background()
	for i := 0; i < 1000; i++ { // a big collection of each type first
		hset(t, a, "h", fmt.Sprintf("field:%07d", i), "value:0000000")
		sadd(t, a, "s", fmt.Sprintf("member:%07d", i))
		a.ZAdd(ctx, "z", fmt.Sprintf("member:%07d", i), float64(i))
	}
	last := func() int { return len(crdt.AppendDelta(nil, &got[len(got)-1])) }
	cases := []struct {
		name string
		do   func()
		max  int
	}{
		{"HSET of a new field (13-byte field, 13-byte value)", func() { hset(t, a, "h", "field:9999999", "value:0000000") }, 120},
		{"HSET overwriting a field", func() { hset(t, a, "h", "field:0000001", "value:1111111") }, 160},
		{"SADD of a new member (14 bytes)", func() { sadd(t, a, "s", "member:9999999") }, 110},
		{"SREM of a member", func() { srem(t, a, "s", "member:0000001") }, 110},
		{"ZADD of a new member", func() { a.ZAdd(ctx, "z", "member:9999999", 7) }, 130},
		{"ZINCRBY of a member", func() { a.ZIncrBy(ctx, "z", "member:0000002", 1) }, 170},
	}
	for _, c := range cases {
		c.do()
		n := last()
		t.Logf("%s: %d bytes in a delta (key %d bytes)", c.name, n, 1)
		if n > c.max {
			t.Errorf("%s: %d bytes on the wire, want at most %d (an element delta, not the collection)", c.name, n, c.max)
		}
	}
}
