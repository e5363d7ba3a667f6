package node

import (
	"context"
	"fmt"
	"testing"
	"unsafe"
)

// The store charges a collection what it holds as it grows, and its bytes come back to zero
// when it goes: the collection is mutated in place, so the charge is the size recorded in the
// value, not read from the collection (which once left growth uncharged and drove the count
// negative on removal).
func TestCollectionChargeFollowsGrowth(t *testing.T) {
	t.Parallel()
	if s := unsafe.Sizeof(value{}); s != 64 {
		t.Fatalf("value is %d bytes, want 64 (objBytes must fit the padding)", s)
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
