package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// SetMaxMemory shrinks the store at once by LRU eviction (counted, as writes' evictions are),
// reports the new bound, calls the hook in order, and lifts the bound with 0.
func TestSetMaxMemory(t *testing.T) {
	t.Parallel()
	var hook []int64
	n, _ := newTestNode(t, func(c *Config) {
		c.MaxMemory = 4 << 20
		c.OnMaxMemory = func(m int64) { hook = append(hook, m) }
	})
	val := strings.Repeat("v", 100)
	for i := range 5000 {
		mustSet(t, n, fmt.Sprint("k", i), val, SetOptions{})
	}
	for i := range 50 { // recently used: kept by the shrink
		mustGet(t, n, fmt.Sprint("k", i))
	}
	before := n.Stats()
	if before.Evictions != 0 || before.Keys != 5000 || before.MaxMemory != 4<<20 {
		t.Fatalf("before: %+v", before)
	}
	const small = 128 << 10
	ev, err := n.SetMaxMemory(small)
	if err != nil {
		t.Fatal(err)
	}
	st := n.Stats()
	if st.MaxMemory != small || st.Bytes > small || st.Bytes < small*3/4 || n.MaxMemory() != small {
		t.Fatalf("after shrinking to %d: MaxMemory %d Bytes %d", small, st.MaxMemory, st.Bytes)
	}
	if ev == 0 || st.Evictions != uint64(ev) || st.Keys != 5000-ev || st.LocalTombstones != uint64(ev) {
		t.Fatalf("evicted %d: Stats %d evictions, %d keys, %d local tombstones", ev, st.Evictions, st.Keys, st.LocalTombstones)
	}
	for i := range 50 {
		if _, ok := mustGet(t, n, fmt.Sprint("k", i)); !ok {
			t.Fatalf("recently read k%d evicted", i)
		}
	}
	if n.OutOfMemory() {
		t.Fatal("OutOfMemory at 128 KiB")
	}
	// Unbounded: writes evict nothing.
	if _, err := n.SetMaxMemory(0); err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		mustSet(t, n, fmt.Sprint("u", i), val, SetOptions{})
	}
	if st2 := n.Stats(); st2.Evictions != st.Evictions || st2.MaxMemory != 0 || n.OutOfMemory() {
		t.Fatalf("unbounded: %d more evictions, MaxMemory %d, OutOfMemory %v", st2.Evictions-st.Evictions, st2.MaxMemory, n.OutOfMemory())
	}
	// Below one entry: out of memory, nothing evicted, the store's bound left as it was (and
	// the hook not called); a bound that holds an entry ends it.
	keys := n.Len()
	if ev, err := n.SetMaxMemory(1); err != nil || ev != 0 {
		t.Fatalf("SetMaxMemory(1): %d evicted, %v", ev, err)
	}
	if n.Len() != keys || !n.OutOfMemory() || n.MaxMemory() != 1 || n.Stats().MaxMemory != 1 {
		t.Fatalf("at 1 byte: Len %d of %d, OutOfMemory %v, MaxMemory %d", n.Len(), keys, n.OutOfMemory(), n.MaxMemory())
	}
	if _, err := n.SetMaxMemory(-1); err == nil {
		t.Fatal("negative bound accepted")
	}
	if _, err := n.SetMaxMemory(small); err != nil || n.OutOfMemory() || n.MaxMemory() != small {
		t.Fatalf("back to %d: %v, OutOfMemory %v, MaxMemory %d", small, err, n.OutOfMemory(), n.MaxMemory())
	}
	if want := []int64{small, 0, small}; fmt.Sprint(hook) != fmt.Sprint(want) {
		t.Fatalf("OnMaxMemory called with %v, want %v", hook, want)
	}
}

// A collection is one entry charged what it holds: a shrink below it evicts it whole, and the
// largest collection a write may grow follows the bound.
func TestSetMaxMemoryCollections(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, func(c *Config) { c.MaxMemory = 4 << 20 })
	ctx := context.Background()
	fields := map[string][]byte{}
	for i := range 2000 {
		fields[fmt.Sprint("f", i)] = []byte("0123456789")
	}
	if _, err := n.HSet(ctx, "h", fields); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SetMaxMemory(64 << 10); err != nil {
		t.Fatal(err)
	}
	if n.Len() != 0 || n.Stats().Evictions != 1 {
		t.Fatalf("a hash larger than the new bound: Len %d, evictions %d", n.Len(), n.Stats().Evictions)
	}
	// Growing it again field by field is refused near the new bound, not stored and evicted.
	var err error
	i := 0
	for ; i < 2000 && err == nil; i++ {
		_, err = n.HSet(ctx, "h", map[string][]byte{fmt.Sprint("f", i): []byte("0123456789")})
	}
	if !errors.Is(err, ErrValueTooLarge) || n.Len() != 1 {
		t.Fatalf("HSet field %d under 64 KiB: %v (Len %d), want ErrValueTooLarge", i, err, n.Len())
	}
	if _, err := n.SetMaxMemory(4 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := n.HSet(ctx, "h", fields); err != nil {
		t.Fatalf("HSet after growing the bound back: %v", err)
	}
}
