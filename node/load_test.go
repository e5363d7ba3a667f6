package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingLoader is a Config.Loader whose answer the test sets per call number.
type countingLoader struct {
	calls  atomic.Int32
	answer func(call int32, key string) ([]byte, time.Duration, error)
}

func (l *countingLoader) load(_ context.Context, key string) ([]byte, time.Duration, error) {
	return l.answer(l.calls.Add(1), key)
}

func TestGetWithLoader(t *testing.T) {
	t.Parallel()
	boom := errors.New("origin: 503 Service Unavailable")
	ld := &countingLoader{answer: func(_ int32, key string) ([]byte, time.Duration, error) {
		switch key {
		case "absent":
			return nil, 0, fmt.Errorf("origin says: %w", ErrNotFound)
		case "broken":
			return nil, 0, boom
		}
		return []byte("origin:" + key), time.Minute, nil
	}}
	n, clk := newTestNode(t, func(c *Config) { c.Loader = ld.load; c.NegativeTTL = time.Hour })
	ctx := context.Background()

	it, ok, err := n.Get(ctx, "k")
	if err != nil || !ok || string(it.Value) != "origin:k" {
		t.Fatalf("Get with loader = %q %v %v", it.Value, ok, err)
	}
	if want := clk.Now().Add(time.Minute); !it.ExpireAt.Equal(want) {
		t.Fatalf("ExpireAt = %v, want %v (the loader's TTL)", it.ExpireAt, want)
	}
	// Stored: the next read is local and the loader is not called again.
	if it, ok, _ := n.GetLocal(ctx, "k"); !ok || string(it.Value) != "origin:k" {
		t.Fatalf("loaded value not stored: %q %v", it.Value, ok)
	}
	mustGet(t, n, "k")
	if c := ld.calls.Load(); c != 1 {
		t.Fatalf("loader calls = %d, want 1", c)
	}
	if st := n.Stats(); st.OriginLoads != 1 {
		t.Fatalf("OriginLoads = %d, want 1", st.OriginLoads)
	}

	// The TTL is the loader's: past it, the key is loaded again.
	clk.Advance(time.Minute + time.Second)
	if v, ok := mustGet(t, n, "k"); !ok || v != "origin:k" || ld.calls.Load() != 2 {
		t.Fatalf("after expiry: %q %v, loader calls %d (want 2)", v, ok, ld.calls.Load())
	}

	// A deleted key is loaded again (DEL invalidates; the load is a newer write).
	if _, err := n.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, n, "k"); !ok || v != "origin:k" || ld.calls.Load() != 3 {
		t.Fatalf("after DEL: %q %v, loader calls %d (want 3)", v, ok, ld.calls.Load())
	}

	// ErrNotFound: a miss, remembered (no second loader call, no fill attempt).
	before := ld.calls.Load()
	for range 3 {
		if _, ok, err := n.Get(ctx, "absent"); ok || err != nil {
			t.Fatalf("absent key: ok=%v err=%v, want a plain miss", ok, err)
		}
	}
	if c := ld.calls.Load() - before; c != 1 {
		t.Fatalf("loader calls for an absent key = %d, want 1 (then the negative cache)", c)
	}
	if n.FillCandidate("absent") {
		t.Fatal("FillCandidate true for a key the origin reported absent")
	}
	if _, err := n.GetOrLoad(ctx, "absent", ld.load); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetOrLoad of a remembered absent key: %v, want ErrNotFound", err)
	}

	// Any other error: returned as a *LoadError, nothing stored, not remembered.
	before = ld.calls.Load()
	for range 2 {
		_, ok, err := n.Get(ctx, "broken")
		var le *LoadError
		if ok || !errors.As(err, &le) || le.Key != "broken" || !errors.Is(err, boom) {
			t.Fatalf("failing loader: ok=%v err=%v, want a *LoadError wrapping %v", ok, err, boom)
		}
	}
	if c := ld.calls.Load() - before; c != 2 {
		t.Fatalf("loader calls for a failing key = %d, want 2 (errors are not cached)", c)
	}
	if _, ok, _ := n.GetLocal(ctx, "broken"); ok {
		t.Fatal("a failed load stored something")
	}
	if !n.FillCandidate("broken") {
		t.Fatal("a failed load made the key a non-candidate")
	}
}

func TestGetWithLoaderNegativeExpires(t *testing.T) {
	t.Parallel()
	var present atomic.Bool
	ld := &countingLoader{answer: func(_ int32, key string) ([]byte, time.Duration, error) {
		if !present.Load() {
			return nil, 0, ErrNotFound
		}
		return []byte("now here"), 0, nil
	}}
	n, _ := newTestNode(t, func(c *Config) { c.Loader = ld.load; c.NegativeTTL = 20 * time.Millisecond })
	if _, ok := mustGet(t, n, "k"); ok {
		t.Fatal("absent key found")
	}
	present.Store(true)
	// The origin's "absent" is remembered for NegativeTTL only.
	waitFor(t, func() bool { return n.FillCandidate("k") })
	if v, ok := mustGet(t, n, "k"); !ok || v != "now here" {
		t.Fatalf("after the negative entry expired: %q %v", v, ok)
	}
}

func TestGetWithLoaderSingleflight(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	ld := &countingLoader{answer: func(call int32, key string) ([]byte, time.Duration, error) {
		if call == 1 {
			close(started)
		}
		<-release
		return []byte("v"), 0, nil
	}}
	n, _ := newTestNode(t, func(c *Config) { c.Loader = ld.load })
	const callers = 16
	var wg sync.WaitGroup
	got := make([]string, callers)
	for i := range callers {
		wg.Go(func() {
			it, ok, err := n.Get(context.Background(), "cold")
			if err != nil || !ok {
				got[i] = fmt.Sprintf("ok=%v err=%v", ok, err)
				return
			}
			got[i] = string(it.Value)
		})
	}
	<-started
	close(release)
	wg.Wait()
	for i, g := range got {
		if g != "v" {
			t.Fatalf("caller %d: %s", i, g)
		}
	}
	if c := ld.calls.Load(); c != 1 {
		t.Fatalf("loader calls = %d for %d concurrent callers, want 1", c, callers)
	}
}

// loaderCluster starts three replicating nodes that fill misses with their own loader (all
// answering through ld) and a short lease.
func loaderCluster(t *testing.T, ld *countingLoader, lease time.Duration) []*Node {
	t.Helper()
	mod := func(c *Config) {
		c.Loader = ld.load
		c.LoadLeaseTTL = lease
	}
	a := newP2PNode(t, mod)
	b := newP2PNode(t, func(c *Config) { mod(c); c.Join = a.P2PAddrs() })
	c := newP2PNode(t, func(c *Config) { mod(c); c.Join = a.P2PAddrs() })
	nodes := []*Node{a, b, c}
	for _, n := range nodes {
		waitFor(t, func() bool { return reachablePeers(n) == 2 })
	}
	return nodes
}

// disconnects sums, over nodes, the links to peers that went down.
func disconnects(nodes []*Node) uint64 {
	var sum uint64
	for _, n := range nodes {
		sum += n.cluster.Stats().Disconnects
	}
	return sum
}

// getAll runs one Get of key on every node at once and returns each node's value, or its error
// or "(miss)".
func getAll(nodes []*Node, key string) []string {
	out := make([]string, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			it, ok, err := n.Get(context.Background(), key)
			switch {
			case err != nil:
				out[i] = "error: " + err.Error()
			case !ok:
				out[i] = "(miss)"
			default:
				out[i] = string(it.Value)
			}
		})
	}
	wg.Wait()
	return out
}

func TestP2PLoaderOncePerCluster(t *testing.T) {
	t.Parallel()
	ld := &countingLoader{answer: func(_ int32, key string) ([]byte, time.Duration, error) {
		return []byte("origin:" + key), time.Minute, nil
	}}
	nodes := loaderCluster(t, ld, 5*time.Second)
	drops := disconnects(nodes)
	var wg sync.WaitGroup
	var bad atomic.Value
	for _, n := range nodes {
		for range 8 {
			wg.Go(func() {
				it, ok, err := n.Get(context.Background(), "cold")
				if err != nil || !ok || string(it.Value) != "origin:cold" {
					bad.Store(fmt.Sprintf("%q %v %v", it.Value, ok, err))
				}
			})
		}
	}
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	if c := ld.calls.Load(); c != 1 {
		// One load per connected cluster: a link that dropped meanwhile splits the owner
		// choice (a healthy peer dropped by a false stale-connection probe did, see
		// cluster.probeVerdict).
		t.Fatalf("origin loaded %d times for 24 callers on 3 nodes, want 1 (%d disconnects during the Gets)",
			c, disconnects(nodes)-drops)
	}
	var loads uint64
	for _, n := range nodes {
		loads += n.Stats().OriginLoads
	}
	if loads != 1 {
		t.Fatalf("OriginLoads summed over nodes = %d, want 1", loads)
	}
}

func TestP2PLoaderAbsentShared(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	ld := &countingLoader{answer: func(call int32, key string) ([]byte, time.Duration, error) {
		if call == 1 {
			<-release // the others queue up behind the lease meanwhile
		}
		return nil, 0, ErrNotFound
	}}
	nodes := loaderCluster(t, ld, 5*time.Second)
	done := make(chan []string)
	go func() { done <- getAll(nodes, "nowhere") }()
	waitFor(t, func() bool { return ld.calls.Load() == 1 })
	// Release only once the two other nodes wait on the holder: a node that asked the owner
	// after the release (a slow goroutine on a loaded machine) would be told "absent" only
	// while NegativeTTL lasts, and could load in turn.
	waitFor(t, func() bool { return leaseWaits(nodes) >= 2 })
	close(release)
	for i, g := range <-done {
		if g != "(miss)" {
			t.Fatalf("node %d: %s, want a miss", i, g)
		}
	}
	// The holder's "absent" reached the waiters through the lease owner: one origin request.
	if c := ld.calls.Load(); c != 1 {
		t.Fatalf("origin asked %d times for an absent key, want 1", c)
	}
}

// leaseWaits sums, over nodes, the lease answers that told an asker to wait.
func leaseWaits(nodes []*Node) uint64 {
	var sum uint64
	for _, n := range nodes {
		n.leases.mu.Lock()
		sum += n.leases.waits
		n.leases.mu.Unlock()
	}
	return sum
}

func TestP2PLoaderErrorHandsLeaseOver(t *testing.T) {
	t.Parallel()
	boom := errors.New("origin: 500 Internal Server Error")
	release := make(chan struct{})
	ld := &countingLoader{answer: func(call int32, key string) ([]byte, time.Duration, error) {
		if call == 1 {
			<-release
			return nil, 0, boom
		}
		return []byte("second try"), time.Minute, nil
	}}
	nodes := loaderCluster(t, ld, 5*time.Second)
	start := time.Now()
	done := make(chan []string)
	go func() { done <- getAll(nodes, "flaky") }()
	waitFor(t, func() bool { return ld.calls.Load() == 1 })
	close(release)
	got := <-done
	errs, vals := 0, 0
	for i, g := range got {
		switch g {
		case "second try":
			vals++
		case "error: node: loading flaky: " + boom.Error():
			errs++
		default:
			t.Fatalf("node %d: %q", i, g)
		}
	}
	// The failed holder's callers see its error; the lease goes to a waiter at once (not after
	// the 5 s lease), which loads for the others.
	if errs != 1 || vals != 2 || ld.calls.Load() != 2 {
		t.Fatalf("errors %d, values %d, loader calls %d; want 1, 2, 2 (%q)", errs, vals, ld.calls.Load(), got)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Fatalf("took %v: the waiters sat out the lease instead of taking it over", el)
	}
}

func TestP2PLoaderHolderHangs(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	ld := &countingLoader{answer: func(call int32, key string) ([]byte, time.Duration, error) {
		if call == 1 {
			<-hang // a holder that never finishes (or died): its lease must run out
			return nil, 0, errors.New("too late")
		}
		return []byte("after the lease"), time.Minute, nil
	}}
	const lease = 300 * time.Millisecond
	nodes := loaderCluster(t, ld, lease)
	start := time.Now()
	out := make(chan string, len(nodes))
	for _, n := range nodes {
		go func() {
			it, ok, err := n.Get(context.Background(), "stuck")
			if err != nil || !ok {
				out <- fmt.Sprintf("ok=%v err=%v", ok, err)
				return
			}
			out <- string(it.Value)
		}()
	}
	// Two nodes answer (the hung holder's caller does not, until cleanup).
	for range 2 {
		if v := <-out; v != "after the lease" {
			t.Fatalf("waiter got %q", v)
		}
	}
	if el := time.Since(start); el < lease {
		t.Fatalf("waiters answered after %v, before the %v lease ran out", el, lease)
	}
	if c := ld.calls.Load(); c != 2 {
		t.Fatalf("loader calls = %d, want 2 (the hung holder and one waiter after the lease)", c)
	}
}

func TestP2PLoaderWithoutLease(t *testing.T) {
	t.Parallel()
	all := make(chan struct{})
	var once sync.Once
	ld := &countingLoader{}
	ld.answer = func(call int32, key string) ([]byte, time.Duration, error) {
		if call == 3 {
			once.Do(func() { close(all) })
		}
		select { // every node loads for itself: the three loads overlap
		case <-all:
		case <-time.After(10 * time.Second):
		}
		return []byte("own load"), time.Minute, nil
	}
	a := newP2PNode(t, func(c *Config) { c.Loader = ld.load; c.DisableLoadLease = true })
	b := newP2PNode(t, func(c *Config) { c.Loader = ld.load; c.DisableLoadLease = true; c.Join = a.P2PAddrs() })
	c := newP2PNode(t, func(c *Config) { c.Loader = ld.load; c.DisableLoadLease = true; c.Join = a.P2PAddrs() })
	nodes := []*Node{a, b, c}
	for _, n := range nodes {
		waitFor(t, func() bool { return reachablePeers(n) == 2 })
	}
	for i, g := range getAll(nodes, "cold") {
		if g != "own load" {
			t.Fatalf("node %d: %q", i, g)
		}
	}
	select {
	case <-all:
	default:
		t.Fatalf("loader calls = %d, want 3 overlapping loads (one per node)", ld.calls.Load())
	}
}

func TestP2PLoaderOwnerAnswersWithValue(t *testing.T) {
	t.Parallel()
	ld := &countingLoader{answer: func(_ int32, key string) ([]byte, time.Duration, error) {
		return []byte("from the origin"), 0, nil
	}}
	a := newP2PNode(t, nil)
	// b cannot read through: only the lease owner's answer can spare it the load.
	// A janitor that collects b's local tombstone of the key before the Get makes the owner's
	// copy one b refuses (see TestP2PReadThrough): keep it quiet for the test.
	b := newP2PNode(t, func(c *Config) {
		c.Join, c.Loader, c.DisableReadThrough, c.MaxMemory = a.P2PAddrs(), ld.load, true, 256<<10
		c.JanitorInterval = time.Hour
	})
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 })
	key := ""
	for i := 0; key == ""; i++ {
		if k := fmt.Sprint("owned-by-a-", i); b.leaseOwner(k) == a.PeerID() {
			key = k
		}
	}
	v := mustSetCtx(t, a, key, "from a")
	waitFor(t, func() bool { _, ok, _ := b.Peek(context.Background(), key); return ok })
	for i := 0; ; i++ { // b evicts it under memory pressure
		mustSetCtx(t, b, fmt.Sprint("fill", i), strings.Repeat("x", 1000))
		if _, ok, _ := b.Peek(context.Background(), key); !ok {
			break
		}
	}
	it, ok, err := b.Get(context.Background(), key)
	if err != nil || !ok || string(it.Value) != "from a" || it.Version != v {
		t.Fatalf("Get = %q %v %v (version %v, want %v)", it.Value, ok, err, it.Version, v)
	}
	if c := ld.calls.Load(); c != 0 {
		t.Fatalf("loader called %d times for a key the lease owner holds", c)
	}
	if _, ok, _ := b.Peek(context.Background(), key); !ok {
		t.Fatal("the owner's answer was not kept locally")
	}
}

func TestRendezvousSpreadsSimilarKeys(t *testing.T) {
	t.Parallel()
	peers := []string{"12D3KooWAbc1x9sdfkjh23kjh4", "12D3KooWQwe8sdf98s7df9s8d", "12D3KooWZzz77sdfsdf7s6df"}
	for _, prefix := range []string{"user:", "stampede/x7/cluster/", ""} {
		owned := map[string]int{}
		const keys = 3000
		for i := range keys {
			k := fmt.Sprint(prefix, i)
			best, bs := "", uint64(0)
			for _, p := range peers {
				if s := rendezvousScore(p, k); s > bs {
					best, bs = p, s
				}
			}
			owned[best]++
		}
		// A fair share is 1000 each; sequential keys must not pile up on one owner.
		for _, p := range peers {
			if owned[p] < 850 || owned[p] > 1150 {
				t.Fatalf("keys %q0..%d: owners %v, want about 1000 each", prefix, keys-1, owned)
			}
		}
	}
}

// A node with a Loader fills misses of Get from an origin (here a map): once per key at a
// time, stored with the loader's TTL; ErrNotFound makes a plain miss.
func ExampleNode_Get_withLoader() {
	origin := map[string]string{"user:42": `{"name":"ada"}`}
	n, err := New(Config{Loader: func(ctx context.Context, key string) ([]byte, time.Duration, error) {
		v, ok := origin[key]
		if !ok {
			return nil, 0, ErrNotFound
		}
		return []byte(v), time.Minute, nil
	}})
	if err != nil {
		panic(err)
	}
	defer n.Close()
	ctx := context.Background()
	it, ok, _ := n.Get(ctx, "user:42")
	fmt.Println(string(it.Value), ok)
	_, ok, err = n.Get(ctx, "user:7")
	fmt.Println(ok, err)
	fmt.Println(n.Stats().OriginLoads)
	// Output:
	// {"name":"ada"} true
	// false <nil>
	// 2
}
