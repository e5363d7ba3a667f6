package cluster

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// waitFor polls cond until it holds or timeout passes, then fails the test.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	// The timeouts are how long a loaded machine may take, not assertions of speed (those use
	// waitWithin): under the race detector beside a CPU hog, libp2p dials, identify and
	// gossipsub meshes took several times the figures the tests were written with.
	waitWithin(t, max(timeout, minWait), what, cond)
}

// minWait is the least waitFor waits.
const minWait = 45 * time.Second

// waitWithin polls cond until it holds and fails the test if it does not within timeout: for
// the few waits whose bound is the assertion (a fix that must act within seconds, not after
// a keepalive).
func waitWithin(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// never fails the test if cond becomes true within d. Only for asserting
// that something does not happen.
func never(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("unexpected: %s", what)
		}
		<-tick.C
	}
}

// testConfig is a fast-ticking, quiet config on loopback.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.PingInterval = 100 * time.Millisecond
	cfg.ReconnectMin = 50 * time.Millisecond
	cfg.ReconnectMax = 500 * time.Millisecond
	cfg.DialTimeout = 2 * time.Second
	return cfg
}

func newKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func newNode(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func joinAddr(c *Cluster) string { return c.Addrs()[0].String() }

func connectedTo(a, b *Cluster) bool { return slices.Contains(a.ConnectedPeers(), b.ID()) }

// gossipReady reports whether a holds a data stream to every peer in ps, i.e. a's
// publications will reach them.
func gossipReady(a *Cluster, ps ...*Cluster) bool {
	for _, p := range ps {
		if !a.hasDataStream(p.ID()) {
			return false
		}
	}
	return true
}

// inbox collects messages delivered to a node.
type inbox struct {
	mu   sync.Mutex
	msgs []delivered
}

type delivered struct {
	from peer.ID
	data string
}

func collect(c *Cluster) *inbox {
	in := &inbox{}
	c.OnMessage(func(from peer.ID, data []byte) {
		in.mu.Lock()
		in.msgs = append(in.msgs, delivered{from, string(data)})
		in.mu.Unlock()
	})
	return in
}

func (in *inbox) has(from peer.ID, data string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Contains(in.msgs, delivered{from, data})
}

func (in *inbox) len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

func (in *inbox) all() []delivered {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.msgs)
}

// member returns c's view of p.
func member(c *Cluster, p peer.ID) (Member, bool) {
	for _, m := range c.Members() {
		if m.PeerID == p.String() {
			return m, true
		}
	}
	return Member{}, false
}

// joined starts A and B joining A; it does not wait for them to connect.
func joined(t *testing.T) (a, b *Cluster) {
	t.Helper()
	a = newNode(t, testConfig())
	cfg := testConfig()
	cfg.Join = []string{joinAddr(a)}
	return a, newNode(t, cfg)
}

// trio starts A, B joining A, and C joining B, and waits until every node
// is connected to the two others and gossip is ready everywhere.
func trio(t *testing.T) (a, b, c *Cluster) {
	t.Helper()
	cfg := testConfig()
	cfg.Self = Record{Region: "eu-west", State: StateServing, Lat: 53.3, Lon: -6.2}
	a = newNode(t, cfg)

	cfg = testConfig()
	cfg.Self = Record{Region: "us-east", State: StateJoining, Lat: 38.9, Lon: -77.0}
	cfg.Join = []string{joinAddr(a)}
	b = newNode(t, cfg)

	cfg = testConfig()
	cfg.Self = Record{Region: "ap-south", State: StateServing, Lat: 19.1, Lon: 72.9}
	cfg.Join = []string{joinAddr(b)}
	c = newNode(t, cfg)

	nodes := []*Cluster{a, b, c}
	waitFor(t, 20*time.Second, "full mesh with gossip ready", func() bool {
		for _, x := range nodes {
			for _, y := range nodes {
				if x != y && (!connectedTo(x, y) || !gossipReady(x, y)) {
					return false
				}
			}
		}
		return true
	})
	return a, b, c
}
