package node

import (
	"fmt"
	"testing"
)

func TestLogBytesFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ mem, want int64 }{
		{1 << 20, minLogBytes},  // tiny stores still keep a MiB of log
		{64 << 20, minLogBytes}, // a sixty-fourth, at least a MiB
		{256 << 20, 4 << 20},    // the node default
		{1 << 30, maxLogBytes},  // capped
		{16 << 30, maxLogBytes}, // capped
		{100 << 20, 100 << 20 / 64},
	} {
		if got := logBytesFor(c.mem); int64(got) != c.want {
			t.Errorf("logBytesFor(%d) = %d, want %d", c.mem, got, c.want)
		}
	}
}

func TestEvictedSet(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mem   int64
		slots int
	}{{0, evictedMinSlots}, {1 << 20, evictedMinSlots}, {64 << 20, 1 << 16}, {100 << 20, 1 << 17}, {1 << 40, evictedMaxSlots}} {
		if got := newEvictedSet(c.mem).size; got != c.slots {
			t.Errorf("newEvictedSet(%d): %d slots, want %d", c.mem, got, c.slots)
		}
	}
	s := newEvictedSet(0)
	s.forget("a")
	if s.has("a") || s.tab.Load() != nil {
		t.Fatal("empty set has a key, or allocated its table before the first eviction")
	}
	s.add("a", 7)
	if tab := s.tab.Load(); tab == nil || len(tab.slots) != evictedMinSlots {
		t.Fatal("the first eviction did not allocate the table at its size")
	}
	if ts, ok := s.get("a"); !ok || ts != 7 || s.has("b") {
		t.Fatalf("after add(a, 7): get(a)=%d,%v has(b)=%v", ts, ok, s.has("b"))
	}
	s.add("a", 9) // evicted again, a later version
	if ts, ok := s.get("a"); !ok || ts != 9 {
		t.Fatalf("after add(a, 9): get(a)=%d,%v", ts, ok)
	}
	s.forget("b") // not there: leaves a alone
	s.forget("a")
	if s.has("a") {
		t.Fatal("forget(a) kept it")
	}
	// Lossy by design: filling far more keys than slots forgets old ones, never invents keys.
	for i := range 10 * evictedMinSlots {
		s.add(fmt.Sprint("k", i), uint64(i))
	}
	recent, falsePos := 0, 0
	for i := 9 * evictedMinSlots; i < 10*evictedMinSlots; i++ {
		if s.has(fmt.Sprint("k", i)) {
			recent++
		}
	}
	for i := range 1000 {
		if s.has(fmt.Sprint("never", i)) {
			falsePos++
		}
	}
	if recent < evictedMinSlots/2 || falsePos != 0 {
		t.Fatalf("%d of the last %d evictions remembered, %d never-evicted keys reported", recent, evictedMinSlots, falsePos)
	}
}

// TestAllocSizeMatchesRuntime: the store charges keys by allocSize, so it must be the size the
// runtime really hands out — checked against what append allocates for a fresh byte slice.
func TestAllocSizeMatchesRuntime(t *testing.T) {
	for n := 1; n <= 40000; n++ {
		got := cap(append([]byte(nil), make([]byte, n)...))
		if want := allocSize(n); got != want {
			t.Fatalf("allocSize(%d) = %d, the runtime allocates %d", n, want, got)
		}
	}
	if allocSize(0) != 0 {
		t.Fatal("allocSize(0) is not 0")
	}
}

// TestChargeCountsAllocation: a 100-byte value is charged its 112-byte slot and a 13-byte key
// its 16 bytes, beside the value's metadata.
func TestChargeCountsAllocation(t *testing.T) {
	var v value
	v.setData(append([]byte(nil), make([]byte, 100)...))
	if got, want := v.charge("thirteen-byte"), 16+112+valueOverhead; got != want {
		t.Fatalf("charge %d, want %d", got, want)
	}
}

// Warming turns on once the store holds warmMinEntries entries (at the janitor's pass).
func TestWarmingFollowsStoreSize(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	n.sweep(n.nowMs())
	if n.Warming() {
		t.Fatal("warming an empty store")
	}
	for i := range warmMinEntries {
		mustSet(t, n, fmt.Sprint("k", i), "v", SetOptions{})
	}
	n.sweep(n.nowMs())
	if !n.Warming() {
		t.Fatalf("not warming a store of %d keys", warmMinEntries)
	}
}
