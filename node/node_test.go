package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// fakeClock is a settable wall clock for tests.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixMilli())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// newTestNode starts a node on a fake clock whose janitor never runs on its own, so tests
// decide when time passes and when sweeps happen.
func newTestNode(t testing.TB, mod func(*Config)) (*Node, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	cfg := Config{Now: clk.Now, JanitorInterval: time.Hour}
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, clk
}

func mustGet(t *testing.T, n *Node, key string) (string, bool) {
	t.Helper()
	it, ok, err := n.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(it.Value), ok
}

func mustSet(t *testing.T, n *Node, key, val string, opt SetOptions) SetResult {
	t.Helper()
	r, err := n.Set(context.Background(), key, []byte(val), opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSetGet(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	mustSet(t, n, "k", "v1", SetOptions{})
	if v, ok := mustGet(t, n, "k"); !ok || v != "v1" {
		t.Fatalf("Get = %q, %v; want v1, true", v, ok)
	}
	if _, ok := mustGet(t, n, "missing"); ok {
		t.Fatal("Get(missing) found a value")
	}
	mustSet(t, n, "", "empty key", SetOptions{})
	if v, ok := mustGet(t, n, ""); !ok || v != "empty key" {
		t.Fatalf("empty key: %q, %v", v, ok)
	}
	r := mustSet(t, n, "ct", `{"a":1}`, SetOptions{ContentType: "application/json"})
	it, ok, _ := n.Peek(ctx, "ct")
	if !ok || it.ContentType != "application/json" || string(it.Value) != `{"a":1}` || it.Version != r.Version {
		t.Fatalf("Peek(ct) = %+v, %v; want json item with version %v", it, ok, r.Version)
	}
	if n.Len() != 3 {
		t.Fatalf("Len = %d, want 3", n.Len())
	}
}

func TestSetConditions(t *testing.T) {
	t.Parallel()
	n, clk := newTestNode(t, nil)
	if r := mustSet(t, n, "k", "a", SetOptions{XX: true}); r.Written {
		t.Fatal("XX wrote an absent key")
	}
	if r := mustSet(t, n, "k", "a", SetOptions{NX: true}); !r.Written {
		t.Fatal("NX did not write an absent key")
	}
	if r := mustSet(t, n, "k", "b", SetOptions{NX: true, Get: true}); r.Written || !r.HadPrev || string(r.Prev.Value) != "a" {
		t.Fatalf("NX+GET on present key = %+v", r)
	}
	mustSet(t, n, "k", "c", SetOptions{XX: true, TTL: time.Minute})
	r := mustSet(t, n, "k", "d", SetOptions{KeepTTL: true, Get: true})
	if string(r.Prev.Value) != "c" {
		t.Fatalf("GET returned %q, want c", r.Prev.Value)
	}
	ttl, exists, has, _ := n.TTL(context.Background(), "k")
	if !exists || !has || ttl != time.Minute {
		t.Fatalf("TTL after KEEPTTL = %v %v %v, want 1m", ttl, exists, has)
	}
	clk.Advance(time.Minute)
	if _, ok := mustGet(t, n, "k"); ok {
		t.Fatal("key with kept TTL did not expire")
	}
}

func TestVersionsIncrease(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	var deltas []crdt.Delta
	n.sink = func(d crdt.Delta) { deltas = append(deltas, d) }
	mustSet(t, n, "a", "1", SetOptions{})
	mustSet(t, n, "a", "2", SetOptions{})
	mustSet(t, n, "b", "3", SetOptions{NX: true})
	mustSet(t, n, "b", "x", SetOptions{NX: true}) // not written, no delta
	n.Delete(context.Background(), "a", "nothere")
	if len(deltas) != 5 {
		t.Fatalf("got %d deltas, want 5 (3 sets, 2 deletes)", len(deltas))
	}
	for i, d := range deltas {
		if d.Entry.Seq != uint64(i+1) || d.Entry.Version.Replica != n.ReplicaID() {
			t.Fatalf("delta %d has dot (%v, %d)", i, d.Entry.Version.Replica, d.Entry.Seq)
		}
		if i > 0 && !deltas[i-1].Entry.Version.Less(d.Entry.Version) {
			t.Fatalf("version %v not after %v", d.Entry.Version, deltas[i-1].Entry.Version)
		}
	}
	if !deltas[3].Entry.Tombstone() || deltas[3].Key != "a" || !deltas[4].Entry.Tombstone() {
		t.Fatalf("deletes not replicated as tombstones: %+v %+v", deltas[3], deltas[4])
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	n, clk := newTestNode(t, func(c *Config) { c.TombstoneTTL = time.Minute })
	ctx := context.Background()
	mustSet(t, n, "a", "1", SetOptions{})
	mustSet(t, n, "b", "2", SetOptions{})
	got, err := n.Delete(ctx, "a", "b", "c", "a")
	if err != nil || got != 2 {
		t.Fatalf("Delete = %d, %v; want 2", got, err)
	}
	if _, ok := mustGet(t, n, "a"); ok {
		t.Fatal("deleted key still readable")
	}
	if n.Len() != 0 {
		t.Fatalf("Len = %d after deleting everything", n.Len())
	}
	st := n.Stats()
	if st.DeleteTombstones != 3 || st.Entries != 3 {
		t.Fatalf("tombstones %d entries %d, want 3 and 3", st.DeleteTombstones, st.Entries)
	}
	if c, _ := n.Exists(ctx, "a", "b"); c != 0 {
		t.Fatalf("Exists counts deleted keys: %d", c)
	}
	// A write after a delete brings the key back with a newer version.
	mustSet(t, n, "a", "again", SetOptions{})
	if v, ok := mustGet(t, n, "a"); !ok || v != "again" {
		t.Fatalf("re-set after delete: %q %v", v, ok)
	}
	// Tombstone entries age into local tombstones.
	clk.Advance(time.Minute)
	n.sweep(n.nowMs())
	st = n.Stats()
	if st.DeleteTombstones != 0 || st.Keys != 1 {
		t.Fatalf("after TombstoneTTL: tombstones %d keys %d, want 0 and 1", st.DeleteTombstones, st.Keys)
	}
	it, ok, _ := n.GetDel(ctx, "a")
	if !ok || string(it.Value) != "again" {
		t.Fatalf("GetDel = %q %v", it.Value, ok)
	}
	if _, ok, _ := n.GetDel(ctx, "a"); ok {
		t.Fatal("second GetDel found the key")
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	n, clk := newTestNode(t, nil)
	ctx := context.Background()
	mustSet(t, n, "ttl", "v", SetOptions{TTL: 10 * time.Second})
	mustSet(t, n, "abs", "v", SetOptions{ExpireAt: clk.Now().Add(time.Hour)})
	mustSet(t, n, "forever", "v", SetOptions{})
	if ttl, _, _, _ := n.TTL(ctx, "abs"); ttl != time.Hour {
		t.Fatalf("TTL(abs) = %v", ttl)
	}
	if _, exists, has, _ := n.TTL(ctx, "forever"); !exists || has {
		t.Fatal("forever key reports an expiry")
	}
	if _, exists, _, _ := n.TTL(ctx, "nope"); exists {
		t.Fatal("missing key exists")
	}
	clk.Advance(9999 * time.Millisecond)
	if _, ok := mustGet(t, n, "ttl"); !ok {
		t.Fatal("expired 1 ms early")
	}
	clk.Advance(time.Millisecond)
	if _, ok := mustGet(t, n, "ttl"); ok {
		t.Fatal("expired key returned")
	}
	// Expire / Persist.
	if ok, _ := n.Expire(ctx, "forever", clk.Now().Add(time.Second)); !ok {
		t.Fatal("Expire on live key returned false")
	}
	if ok, _ := n.Persist(ctx, "forever"); !ok {
		t.Fatal("Persist on key with TTL returned false")
	}
	if ok, _ := n.Persist(ctx, "forever"); ok {
		t.Fatal("Persist on key without TTL returned true")
	}
	if ok, _ := n.Expire(ctx, "missing", clk.Now().Add(time.Second)); ok {
		t.Fatal("Expire on missing key returned true")
	}
	if ok, _ := n.Expire(ctx, "abs", clk.Now()); !ok {
		t.Fatal("Expire in the past on a live key returned false")
	}
	if _, ok := mustGet(t, n, "abs"); ok {
		t.Fatal("key expired in the past still readable")
	}
	clk.Advance(2 * time.Second)
	if _, ok := mustGet(t, n, "forever"); !ok {
		t.Fatal("persisted key expired")
	}
	// Memory of expired keys is reclaimed without reads.
	for i := range 100 {
		mustSet(t, n, fmt.Sprint("e", i), "v", SetOptions{TTL: time.Second})
	}
	before := n.Stats().Entries
	clk.Advance(time.Second)
	n.sweep(n.nowMs())
	if after := n.Stats().Entries; before-after < 100 {
		t.Fatalf("sweep reclaimed %d of 100 expired entries", before-after)
	}
}

func TestDefaultTTL(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, func(c *Config) { c.DefaultTTL = time.Minute })
	mustSet(t, n, "k", "v", SetOptions{})
	if ttl, _, has, _ := n.TTL(context.Background(), "k"); !has || ttl != time.Minute {
		t.Fatalf("DefaultTTL not applied: %v %v", ttl, has)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, func(c *Config) { c.MaxKeySize = 8; c.MaxValueSize = 16 })
	ctx := context.Background()
	if _, err := n.Set(ctx, "123456789", []byte("v"), SetOptions{}); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("long key: %v", err)
	}
	if _, err := n.Set(ctx, "k", bytes.Repeat([]byte("x"), 17), SetOptions{}); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("long value: %v", err)
	}
	if err := n.MSet(ctx, map[string][]byte{"a": []byte("1"), "b": bytes.Repeat([]byte("x"), 17)}); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("MSet with long value: %v", err)
	}
	if n.Len() != 0 || n.Stats().Sets != 0 {
		t.Fatalf("rejected writes changed state: len %d sets %d", n.Len(), n.Stats().Sets)
	}
	if _, err := New(Config{MaxMemory: -1}); err == nil || err.Error()[:5] != "node:" {
		t.Fatalf("invalid config error = %v", err)
	}
	if _, err := New(Config{MaxValueSize: 1 << 32}); err == nil || !strings.Contains(err.Error(), "MaxValueSize must be at most") {
		t.Fatalf("MaxValueSize beyond a 32-bit length: error = %v", err)
	}
	if _, err := New(Config{MaxKeySize: 1 << 16}); err == nil || !strings.Contains(err.Error(), "MaxKeySize must be between 0 and 65535") {
		t.Fatalf("MaxKeySize beyond the store's 16-bit key length: error = %v", err)
	}
}

// TestValueCarriesKey: a stored string value's bytes follow its key in one block (own), keys of
// the longest length included, and a value read from the store and put back is not copied.
func TestValueCarriesKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "k", strings.Repeat("k", maxKeyLen)} {
		for _, data := range [][]byte{nil, []byte("v"), bytes.Repeat([]byte("x"), 100)} {
			v, _ := newReplicaTable(1).newValue(crdt.Version{TS: 5, Replica: 1}, maxDotSeq, crdt.TypeLWW, 0)
			v.setData(bytes.Clone(data))
			own(key, &v)
			if !v.keyed() || v.key() != key || !bytes.Equal(v.data(), data) || v.seq() != maxDotSeq {
				t.Fatalf("key %d bytes, data %d: keyed %v key %d bytes data %q seq %d", len(key), len(data), v.keyed(), len(v.key()), v.data(), v.seq())
			}
			p := v.p
			own(key, &v)
			if v.p != p {
				t.Fatal("own copied a value that already carries its key")
			}
			other := "o" + key[min(len(key), 1):] // a different key of at most maxKeyLen bytes
			own(other, &v)
			if v.p == p || v.key() != other || !bytes.Equal(v.data(), data) {
				t.Fatalf("own under another key: key %q data %q", v.key(), v.data())
			}
		}
	}
	if _, ok := newReplicaTable(1).newValue(crdt.Version{TS: 5, Replica: 2}, maxDotSeq+1, crdt.TypeLWW, 0); ok {
		t.Fatal("a seq beyond 48 bits was accepted")
	}
}

func TestEviction(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, func(c *Config) { c.MaxMemory = 64 << 10 })
	val := bytes.Repeat([]byte("x"), 1000)
	for i := range 1000 {
		if _, err := n.Set(context.Background(), fmt.Sprint("key", i), val, SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st := n.Stats()
	if st.Bytes > 64<<10 || st.Evictions == 0 || st.Keys >= 1000 {
		t.Fatalf("memory bound not kept: %+v", st)
	}
	if _, ok := mustGet(t, n, "key999"); !ok {
		t.Fatal("most recent key evicted")
	}
	if _, ok := mustGet(t, n, "key0"); ok {
		t.Fatal("least recent key survived")
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	want := map[string]bool{}
	for i := range 500 {
		k := fmt.Sprintf("user:%d", i)
		mustSet(t, n, k, "v", SetOptions{})
		want[k] = true
		mustSet(t, n, fmt.Sprintf("order:%d", i), "v", SetOptions{})
	}
	n.Delete(ctx, "user:7")
	delete(want, "user:7")
	got := map[string]bool{}
	cursor, calls := uint64(0), 0
	for {
		keys, next, err := n.Scan(ctx, cursor, "user:*", 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			got[k] = true
		}
		calls++
		if cursor = next; cursor == 0 {
			break
		}
		if calls > 10000 {
			t.Fatal("scan does not terminate")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("scan found %d keys, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("scan missed %s", k)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "anything", true},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h*llo", "heeeello", true},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hallo", true},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{"user:*:name", "user:42:name", true},
		{"user:*:name", "user:42:age", false},
		{"", "", true},
		{"a*b*c", "abbbbc", true},
		{"a*b*c", "acb", false},
		{"a[bc]*", "ab", true},
		{"a[bc]", "ab", true},
		{"*[bc]", "xxc", true},
	} {
		if got := Match(tc.p, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestGetOrLoadSingleflight(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	load := func(ctx context.Context, key string) ([]byte, time.Duration, error) {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-release
		return []byte("loaded:" + key), time.Minute, nil
	}
	const callers = 20
	var wg sync.WaitGroup
	results := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it, err := n.GetOrLoad(ctx, "cold", load)
			results[i], errs[i] = string(it.Value), err
		}()
	}
	// Callers arriving after the load finished find the stored value (Get, or Peek inside the
	// flight), so the count below holds however the goroutines are scheduled.
	<-started
	close(release)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || results[i] != "loaded:cold" {
			t.Fatalf("caller %d: %q, %v", i, results[i], errs[i])
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("loader called %d times, want 1", c)
	}
	if v, ok := mustGet(t, n, "cold"); !ok || v != "loaded:cold" {
		t.Fatal("loaded value not cached")
	}
}

func TestGetOrLoadErrors(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	boom := errors.New("origin down")
	_, err := n.GetOrLoad(ctx, "k", func(context.Context, string) ([]byte, time.Duration, error) { return nil, 0, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("loader error = %v", err)
	}
	_, err = n.GetOrLoad(ctx, "k", func(context.Context, string) ([]byte, time.Duration, error) { panic("kaboom") })
	if !errors.Is(err, ErrLoaderPanic) {
		t.Fatalf("loader panic = %v", err)
	}
	// Errors are not cached: the next call loads again.
	it, err := n.GetOrLoad(ctx, "k", func(context.Context, string) ([]byte, time.Duration, error) { return []byte("ok"), 0, nil })
	if err != nil || string(it.Value) != "ok" {
		t.Fatalf("after errors: %q %v", it.Value, err)
	}
	// A caller whose context ends stops waiting.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.GetOrLoad(cctx, "other", func(context.Context, string) ([]byte, time.Duration, error) { return nil, 0, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
}

type point struct{ X, Y int }

func TestTypedAndMemoize(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	pts := NewTyped[point](n, "pt:", nil)
	if err := pts.Set(ctx, "a", point{1, 2}, 0); err != nil {
		t.Fatal(err)
	}
	p, ok, err := pts.Get(ctx, "a")
	if err != nil || !ok || p != (point{1, 2}) {
		t.Fatalf("typed Get = %v %v %v", p, ok, err)
	}
	it, _, _ := n.Get(ctx, "pt:a")
	if it.ContentType != "application/json" || string(it.Value) != `{"X":1,"Y":2}` {
		t.Fatalf("stored as %q %q", it.ContentType, it.Value)
	}
	calls := 0
	square := Memoize(NewTyped[int](n, "sq:", nil), func(x int) string { return fmt.Sprint(x) }, time.Minute,
		func(_ context.Context, x int) (int, error) { calls++; return x * x, nil })
	for range 3 {
		if v, err := square(ctx, 7); err != nil || v != 49 {
			t.Fatalf("square(7) = %d %v", v, err)
		}
	}
	if calls != 1 {
		t.Fatalf("memoized function called %d times", calls)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	n, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := n.Set(context.Background(), "k", nil, SetOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close = %v", err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	// Not parallel: counts goroutines.
	base := runtime.NumGoroutine()
	for range 10 {
		n, err := New(Config{JanitorInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		n.Close()
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= base })
}

// waitFor polls cond every few milliseconds until it holds, failing the test after 20 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	// Not an assertion of speed: under the race detector beside a CPU hog, joins and syncs
	// took longer than 20 s.
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatal("condition not met within 60s")
		case <-tick.C:
		}
	}
}

func TestMatchPathological(t *testing.T) {
	t.Parallel()
	// Exponential without Redis's skipLongerMatches: 40 stars against a 60-byte key.
	p := strings.Repeat("a*", 40) + "b"
	s := strings.Repeat("a", 60)
	if Match(p, s) {
		t.Fatal("matched a key without the final b")
	}
	if !Match(strings.Repeat("a*", 40), s[:40]+"x") {
		t.Fatal("star-heavy pattern failed to match")
	}
}

// SetBytesAt writes at the time its caller read: a TTL counts from it, and the write's version
// is still later than one this node issued after that time.
func TestSetBytesAtWritesAtTheGivenTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, clk := newTestNode(t, nil)
	read := clk.Now().UnixMilli() // a run of commands read the clock here
	clk.Advance(4 * time.Second)
	first := mustSet(t, n, "k", "first", SetOptions{})
	res, err := n.SetBytesAt(ctx, []byte("k"), []byte("second"), SetOptions{TTL: 10 * time.Second}, read)
	if err != nil || !res.Written {
		t.Fatalf("SetBytesAt = %+v, %v", res, err)
	}
	if !first.Version.Less(res.Version) {
		t.Fatalf("version %v of the write at the earlier time is not after %v", res.Version, first.Version)
	}
	if v, ok := mustGet(t, n, "k"); !ok || v != "second" {
		t.Fatalf("k = %q, %v", v, ok)
	}
	ttl, ok, has, err := n.TTL(ctx, "k")
	if err != nil || !ok || !has || ttl != 6*time.Second {
		t.Fatalf("TTL = %v (exists %v, has expiry %v, %v); want 6s: 10s from the time given, read 4s ago", ttl, ok, has, err)
	}
}
