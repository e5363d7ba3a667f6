package node

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestKeyspaceInfo(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_000)
	n, err := New(Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx := context.Background()
	if got := n.KeyspaceInfo(); got != (KeyspaceInfo{}) {
		t.Fatalf("empty: %+v", got)
	}
	for i, ttl := range []time.Duration{0, 0, 100 * time.Second, 200 * time.Second, 300 * time.Second} {
		if _, err := n.Set(ctx, fmt.Sprint("k", i), []byte("v"), SetOptions{TTL: ttl}); err != nil {
			t.Fatal(err)
		}
	}
	// A deleted key with a TTL leaves a delete tombstone, which has an expiry too: not a key.
	if _, err := n.Delete(ctx, "k4"); err != nil {
		t.Fatal(err)
	}
	got := n.KeyspaceInfo()
	if got.Keys != 4 || got.Expires != 2 || got.AvgTTL != 150*time.Second {
		t.Fatalf("got %+v, want 4 keys, 2 expiring, avg TTL 150s", got)
	}
	// Persisting a key takes it out of the expiring ones.
	if _, err := n.Persist(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if got := n.KeyspaceInfo(); got.Expires != 1 || got.AvgTTL != 200*time.Second {
		t.Fatalf("after PERSIST: %+v", got)
	}
}
