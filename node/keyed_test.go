package node

import (
	"context"
	"testing"
	"unsafe"

	"github.com/geocache/geocache/crdt"
)

// TestSetBytesKeepsNoBorrowedKey: SetBytes's key is a buffer the caller reuses. The store, the
// write's delta and the value read back must not see it change: after the buffer is
// overwritten the key still reads its value, and the stored key is the copy in front of the
// value's bytes (one block).
func TestSetBytesKeepsNoBorrowedKey(t *testing.T) {
	t.Parallel()
	var sent []string
	n, _ := newTestNode(t, nil)
	n.sink = func(d crdt.Delta) { sent = append(sent, d.Key) }
	ctx := context.Background()
	buf := []byte("user:1")
	for i, opt := range []SetOptions{{}, {ContentType: "text/plain"}} {
		if _, err := n.SetBytes(ctx, buf, []byte("v"), opt); err != nil {
			t.Fatal(err)
		}
		copy(buf, "XXXXXX")
		it, ok, err := n.Get(ctx, "user:1")
		if err != nil || !ok || string(it.Value) != "v" {
			t.Fatalf("%d: Get = %q, %v, %v", i, it.Value, ok, err)
		}
		if got := sent[len(sent)-1]; got != "user:1" {
			t.Fatalf("%d: the write's delta names %q", i, got)
		}
		v, _, ok := n.store.Peek("user:1", n.nowMs())
		if !ok || !v.keyed() || v.key() != "user:1" {
			t.Fatalf("%d: stored value carries key %q (keyed %v)", i, v.key(), v.keyed())
		}
		if unsafe.StringData(v.key()) == unsafe.SliceData(buf) {
			t.Fatalf("%d: the stored key is the caller's buffer", i)
		}
		copy(buf, "user:1")
	}
	if _, err := n.SetBytes(ctx, make([]byte, n.cfg.MaxKeySize+1), nil, SetOptions{}); err != ErrKeyTooLarge {
		t.Fatalf("oversized key: %v, want ErrKeyTooLarge", err)
	}
}

// TestSetAllocs: a SET of a key present allocates the value's [key][value] block and nothing
// else per write on a node without peers (SetBytes: no key string).
func TestSetAllocs(t *testing.T) {
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	key, val := []byte("key:000042"), make([]byte, 100)
	if _, err := n.SetBytes(ctx, key, val, SetOptions{}); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := n.SetBytes(ctx, key, val, SetOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("SetBytes of a present key: %.1f allocations, want 1", allocs)
	}
}
