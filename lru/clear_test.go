package lru

import (
	"fmt"
	"testing"
)

func TestClear(t *testing.T) {
	t.Parallel()
	var removed []int
	c := mustNew(t, Options[string, int]{
		Stamp: func(v int) uint64 { return uint64(v) },
		Size:  func(string, int) int { return 10 },
		OnRemove: func(_ string, v int, r Reason) {
			if r != Cleared {
				t.Errorf("reason %v, want cleared", r)
			}
			removed = append(removed, v)
		},
	})
	for i := 1; i <= 200; i++ {
		c.Set(fmt.Sprint("k", i), i, 0, 0)
	}
	// A tombstone below the floor and one above it.
	c.Apply("k5", 0, func(Current[int]) Update[int] { return Update[int]{Action: Delete, Tombstone: true} })
	c.Apply("k150", 0, func(Current[int]) Update[int] { return Update[int]{Action: Delete, Tombstone: true} })

	if n := c.Clear(100); n != 99 {
		t.Fatalf("Clear removed %d entries, want 99 (k1..k100 but the deleted k5)", n)
	}
	if len(removed) != 99 {
		t.Fatalf("OnRemove called %d times, want 99", len(removed))
	}
	if got, want := c.Len(), 99; got != want { // k101..k200 without k150
		t.Fatalf("Len = %d, want %d", got, want)
	}
	if got, want := c.Bytes(), int64(99*(10+EntryOverhead)); got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}
	if c.Floor() != 100 {
		t.Fatalf("Floor = %d, want 100", c.Floor())
	}
	for k, want := range map[string]Current[int]{
		"k1":   {Floor: 100}, // cleared: the floor refuses an older late write
		"k5":   {Floor: 100}, // its tombstone is covered by the floor
		"k150": {Floor: 150}, // a tombstone above the floor survives
		"k101": {Value: 101, Exists: true},
	} {
		cur, _ := c.Apply(k, 0, func(Current[int]) Update[int] { return Update[int]{Action: Keep} })
		if cur != want {
			t.Errorf("%s: %+v, want %+v", k, cur, want)
		}
	}
	// The store keeps working: new entries, eviction order, a second clear.
	c.Set("new", 300, 0, 0)
	if v, _, ok := c.Get("new", 0); !ok || v != 300 {
		t.Fatalf("Get after Clear = %d, %v", v, ok)
	}
	if n := c.Clear(1000); n != 100 || c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("second Clear removed %d, left %d entries / %d bytes", n, c.Len(), c.Bytes())
	}
}

func TestClearWithoutStamp(t *testing.T) {
	t.Parallel()
	c := mustNew(t, Options[string, int]{})
	for i := range 50 {
		c.Set(fmt.Sprint(i), i, 0, 0)
	}
	if n := c.Clear(0); n != 50 || c.Len() != 0 {
		t.Fatalf("Clear removed %d, left %d", n, c.Len())
	}
}
