package lru

import (
	"fmt"
	"testing"
	"unsafe"
)

// carried is a value that carries its key, as a store with S = InValue needs.
type carried struct {
	key string
	n   int
}

func carriedOpts() Options[string, carried] {
	return Options[string, carried]{
		Shards:   4,
		KeyOf:    func(v *carried) string { return v.key },
		Own:      func(k string, v *carried) { v.key = k },
		Size:     func(k string, v carried) int { return len(k) },
		MaxBytes: 1000 * (EntryOverhead + 8),
	}
}

func TestInValueStore(t *testing.T) {
	t.Parallel()
	c, err := NewStore[string, carried, InValue](carriedOpts())
	if err != nil {
		t.Fatal(err)
	}
	if got := unsafe.Sizeof(entry[string, carried, InValue]{}); got != unsafe.Sizeof(carried{})+16 {
		t.Fatalf("slot is %d bytes, want the value's %d + 16", got, unsafe.Sizeof(carried{}))
	}
	var removed []string
	c.onRemove = func(k string, v carried, _ Reason) {
		if v.key != k {
			t.Errorf("OnRemove(%q) got a value carrying %q", k, v.key)
		}
		removed = append(removed, k)
	}
	// Values arrive without their keys: Own gives them one, and lookups, bucket splits and
	// eviction find entries through it.
	for i := range 3000 {
		c.Set(fmt.Sprintf("key%05d", i), carried{n: i}, 0, 0)
	}
	checkInvariants(t, c)
	if c.Len() > 1000 || len(removed) != 3000-c.Len() {
		t.Fatalf("Len %d, %d removed", c.Len(), len(removed))
	}
	found := 0
	for i := range 3000 {
		k := fmt.Sprintf("key%05d", i)
		if v, _, ok := c.Get(k, 0); ok {
			if v.n != i || v.key != k {
				t.Fatalf("Get(%q) = %+v", k, v)
			}
			found++
		}
	}
	if found != c.Len() || found < 900 {
		t.Fatalf("found %d keys, Len %d", found, c.Len())
	}
	// A value read under one key and put under another is owned again.
	v, _, _ := c.Get("key02999", 0)
	c.Apply("moved", 0, func(Current[carried]) Update[carried] { return Update[carried]{Action: Put, Value: v} })
	if got, _, ok := c.Get("moved", 0); !ok || got.key != "moved" || got.n != 2999 {
		t.Fatalf("Get(moved) = %+v, %v", got, ok)
	}
	if got, _, ok := c.Get("key02999", 0); !ok || got.key != "key02999" {
		t.Fatalf("Get(key02999) = %+v, %v after moving a copy", got, ok)
	}
	seen := 0
	c.Range(0, func(k string, v carried, _ int64) bool {
		if v.key != k {
			t.Fatalf("Range gave %q with a value carrying %q", k, v.key)
		}
		seen++
		return true
	})
	if seen != c.Len() {
		t.Fatalf("Range saw %d of %d", seen, c.Len())
	}
	checkInvariants(t, c)
}

func TestInValueOptions(t *testing.T) {
	t.Parallel()
	o := carriedOpts()
	if _, err := New(o); err == nil {
		t.Fatal("New accepted KeyOf and Own")
	}
	o.Own = nil
	if _, err := NewStore[string, carried, InValue](o); err == nil {
		t.Fatal("NewStore accepted KeyOf without Own")
	}
	o = carriedOpts()
	o.KeyOf = nil
	if _, err := NewStore[string, carried, InValue](o); err == nil {
		t.Fatal("NewStore accepted Own without KeyOf")
	}
}

// boxed is a value that holds its key behind a pointer, as the node's collections do.
type boxed struct{ p *carried }

// A store whose values hold their keys behind a pointer (Options.KeyAt) applies batches of
// present and absent keys as a store without it does, and its warm pass asks KeyAt for the
// holders of the batch's present keys (New refuses KeyAt, as KeyOf).
func TestKeyAtBatch(t *testing.T) {
	t.Parallel()
	asked := map[*carried]int{}
	o := Options[string, boxed]{
		Shards: 4,
		KeyOf:  func(v *boxed) string { return v.p.key },
		KeyAt: func(v *boxed) (uintptr, uintptr) {
			asked[v.p]++
			return uintptr(unsafe.Pointer(v.p)), unsafe.Sizeof(*v.p)
		},
		Own:      func(k string, v *boxed) { v.p.key = k },
		Size:     func(k string, v boxed) int { return len(k) },
		MaxBytes: 1 << 20,
	}
	if _, err := New(o); err == nil {
		t.Fatal("New accepted KeyAt")
	}
	c, err := NewStore[string, boxed, InValue](o)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	// The index sized for the keys beforehand: growing it as they arrive, grow asks KeyAt for
	// the entries its splits move, which is not what this test counts.
	c.Reserve(len(keys))
	add := func(i int, cur Current[boxed]) Update[boxed] {
		if cur.Exists {
			cur.Value.p.n++
			return Update[boxed]{Action: Keep}
		}
		return Update[boxed]{Action: Put, Value: boxed{p: &carried{n: 1}}}
	}
	c.ApplyBatch(keys[:50], 0, add)
	if len(asked) != 0 {
		t.Fatalf("KeyAt asked for %d values of a batch of absent keys", len(asked))
	}
	present := map[*carried]bool{}
	for _, k := range keys[:50] {
		v, _, _ := c.Get(k, 0)
		present[v.p] = true
	}
	clear(asked)
	c.ApplyBatch(keys, 0, add) // 50 present, 50 absent
	// Every present key whose entry warm reaches (the first two of its bucket's chain: most of
	// them; how many depends on the hash seed, 35–50 in 3000 runs). Besides those, an absent
	// key's warm-up may find an entry with its 4-bit tag: one the batch's earlier chunk just
	// inserted (51–52 values asked in a few runs of 3000).
	n := 0
	for p := range asked {
		if present[p] {
			n++
		}
	}
	if n < 25 {
		t.Fatalf("KeyAt asked for %d of the 50 present values (%d in all), want most", n, len(asked))
	}
	for i, k := range keys {
		want := 1
		if i < 50 {
			want = 2
		}
		if v, _, ok := c.Get(k, 0); !ok || v.p.n != want || v.p.key != k {
			t.Fatalf("%s: %+v %v, want n=%d", k, v.p, ok, want)
		}
	}
}
