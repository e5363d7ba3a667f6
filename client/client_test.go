package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/client"
)

// TestMain fails the package if a test leaves goroutines behind: the
// client's loop, go-redis pools, HTTP connections or the fakes.
func TestMain(m *testing.M) {
	// go-redis logs every refused dial, which the failover tests cause on
	// purpose. (A process-wide setting: fine in a test binary, never in
	// the package.)
	redis.SetLogger(discardRedisLog{})
	code := m.Run()
	if code == 0 {
		if leaks := leakedGoroutines(10 * time.Second); leaks != "" {
			os.Stderr.WriteString("leaked goroutines:\n" + leaks)
			code = 1
		}
	}
	os.Exit(code)
}

func leakedGoroutines(wait time.Duration) string {
	suspects := []string{"geocache/geocache/client", "go-redis", "net/http.(*persistConn)", "net/http/httptest"}
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaks []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakedGoroutines") {
				continue
			}
			for _, s := range suspects {
				if strings.Contains(g, s) {
					leaks = append(leaks, g)
					break
				}
			}
		}
		if len(leaks) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaks, "\n\n")
		}
		<-time.After(10 * time.Millisecond) // poll interval of the deadline loop above
	}
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testConfig probes fast so failover and failback take milliseconds.
func testConfig(seeds ...string) client.Config {
	return client.Config{
		Seeds:           seeds,
		ProbeInterval:   20 * time.Millisecond,
		ProbeTimeout:    2 * time.Second,
		RefreshInterval: 50 * time.Millisecond,
		Logger:          quiet,
	}
}

func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// threeRegions starts nodes 5, 30 and 60 ms away.
func threeRegions(t *testing.T) (near, mid, far *fakeNode, fc *fakeCluster) {
	near = newFakeNode(t, "near", 5*time.Millisecond)
	mid = newFakeNode(t, "mid", 30*time.Millisecond)
	far = newFakeNode(t, "far", 60*time.Millisecond)
	// Listed farthest first, so list order cannot be what picks "near".
	fc = newFakeCluster(t, far, mid, near)
	return near, mid, far, fc
}

func currentIs(c *client.Client, id string) func() bool {
	return func() bool { return c.Current().ID == id }
}

func TestPicksNearest(t *testing.T) {
	t.Parallel()
	near, mid, far, fc := threeRegions(t)
	c := newClient(t, fc.config())
	ctx := context.Background()

	// Under load a few PINGs may be slow; the client must settle on near.
	waitFor(t, "near selected", currentIs(c, "near"))
	if cur := c.Current(); cur.ID != "near" || !cur.Healthy || cur.RESP != near.Addr() || cur.Region != "region-near" {
		t.Fatalf("Current = %+v, want the healthy node near", cur)
	}
	if err := c.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok := near.value("k"); !ok || v != "v" {
		t.Fatalf("near holds %q, %v", v, ok)
	}
	got, err := c.Get(ctx, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if _, err := c.Get(ctx, "missing"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	if n, err := c.Del(ctx, "k", "missing"); err != nil || n != 1 {
		t.Fatalf("Del = %d, %v; want 1", n, err)
	}
	if mid.count("SET")+far.count("SET")+mid.count("GET")+far.count("GET") != 0 {
		t.Fatal("commands reached a farther node")
	}

	// Every node is measured, nearest first, RTTs reflect the delays.
	waitFor(t, "three measured nodes in order", func() bool {
		ns := c.Nodes()
		return len(ns) == 3 && ns[0].ID == "near" && ns[1].ID == "mid" && ns[2].ID == "far"
	})
	ns := c.Nodes()
	for i, want := range []struct {
		id  string
		min time.Duration
	}{{"near", 5 * time.Millisecond}, {"mid", 30 * time.Millisecond}, {"far", 60 * time.Millisecond}} {
		if ns[i].ID != want.id || ns[i].RTT < want.min || !ns[i].Up {
			t.Errorf("Nodes()[%d] = %s rtt %v up %v; want %s with RTT >= %v", i, ns[i].ID, ns[i].RTT, ns[i].Up, want.id, want.min)
		}
	}

	if rdb := c.Redis(); rdb == nil || rdb.Ping(ctx).Err() != nil {
		t.Fatal("Redis() is not a working client for the current node")
	}
	if c.Redis().Options().Addr != near.Addr() {
		t.Fatalf("Redis() talks to %s, want near %s", c.Redis().Options().Addr, near.Addr())
	}
}

// TestCallFailsOver kills the nearest node under a call: the call itself
// moves to the next nearest and succeeds.
func TestCallFailsOver(t *testing.T) {
	t.Parallel()
	// Far apart, so the three start-up probes pick near even on a busy
	// machine: there is no later probe round to correct a wrong pick.
	near := newFakeNode(t, "near", 0)
	mid := newFakeNode(t, "mid", 150*time.Millisecond)
	fc := newFakeCluster(t, mid, near)
	cfg := fc.config()
	cfg.ProbeInterval = time.Hour // only the call can notice
	cfg.RefreshInterval = time.Hour
	c := newClient(t, cfg)
	ctx := context.Background()
	if err := c.Set(ctx, "k", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	near.stop()

	if err := c.Set(ctx, "k", []byte("v2"), 0); err != nil {
		t.Fatalf("Set with the nearest node dead: %v", err)
	}
	if v, _ := mid.value("k"); v != "v2" {
		t.Fatalf("mid holds %q, want v2", v)
	}
	if s := c.Stats(); s.Failovers != 1 {
		t.Fatalf("Failovers = %d, want 1", s.Failovers)
	}
	if cur := c.Current(); cur.ID != "mid" {
		t.Fatalf("Current = %s, want mid", cur.ID)
	}
	// Later calls go straight to mid.
	if got, err := c.Get(ctx, "k"); err != nil || string(got) != "v2" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if s := c.Stats(); s.Failovers != 1 {
		t.Fatalf("Failovers = %d after a call to mid, want still 1", s.Failovers)
	}
	if n := c.Nodes(); n[len(n)-1].ID != "near" || n[len(n)-1].Up || n[len(n)-1].Err == nil {
		t.Fatalf("near should be listed last, down, with its error: %+v", n[len(n)-1])
	}
}

// TestFailoverAndFailback: the probe loop alone moves the client off dead
// nodes and back to the nearest once it recovers.
func TestFailoverAndFailback(t *testing.T) {
	t.Parallel()
	near, mid, far, fc := threeRegions(t)
	c := newClient(t, fc.config())
	ctx := context.Background()
	waitFor(t, "near selected", currentIs(c, "near"))

	near.stop()
	waitFor(t, "failover to mid", currentIs(c, "mid"))
	mid.stop()
	waitFor(t, "failover to far", currentIs(c, "far"))
	if err := c.Set(ctx, "k", []byte("far"), 0); err != nil {
		t.Fatal(err)
	}
	if v, _ := far.value("k"); v != "far" {
		t.Fatalf("far holds %q", v)
	}

	near.start(t)
	waitFor(t, "failback to near", currentIs(c, "near"))
	if err := c.Set(ctx, "k", []byte("near"), 0); err != nil {
		t.Fatalf("Set after failback: %v", err)
	}
	if v, _ := near.value("k"); v != "near" {
		t.Fatalf("near holds %q after failback", v)
	}

	// A farther node coming back does not move the client.
	mid.start(t)
	waitFor(t, "mid up again", func() bool {
		for _, n := range c.Nodes() {
			if n.ID == "mid" {
				return n.Up
			}
		}
		return false
	})
	if cur := c.Current(); cur.ID != "near" {
		t.Fatalf("Current = %s, want near", cur.ID)
	}
	if s := c.Stats(); s.Switches < 3 || s.ProbeFailures == 0 {
		t.Fatalf("Stats = %+v, want >= 3 switches and some probe failures", s)
	}
}

// TestAllDown: with every node dead calls fail fast with ErrNoNode, and
// the client recovers by itself.
func TestAllDown(t *testing.T) {
	t.Parallel()
	a := newFakeNode(t, "a", 0)
	fc := newFakeCluster(t, a)
	c := newClient(t, fc.config())
	ctx := context.Background()
	a.stop()
	waitFor(t, "no current node", currentIs(c, ""))
	if _, err := c.Get(ctx, "k"); !errors.Is(err, client.ErrNoNode) {
		t.Fatalf("Get with every node down = %v, want ErrNoNode", err)
	}
	if c.Redis() != nil {
		t.Fatal("Redis() with every node down is not nil")
	}
	a.start(t)
	waitFor(t, "a back", currentIs(c, "a"))
	if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
}

// TestPrefersServingNodes: a node the member list shows as leaving is left
// for a serving one, and used again when it serves.
func TestPrefersServingNodes(t *testing.T) {
	t.Parallel()
	near, _, _, fc := threeRegions(t)
	c := newClient(t, fc.config())
	waitFor(t, "near selected", currentIs(c, "near"))
	near.setState("leaving")
	waitFor(t, "move off the leaving node", currentIs(c, "mid"))
	for _, n := range c.Nodes() {
		if n.ID == "near" && (n.Healthy || !n.Up || n.State != "leaving") {
			t.Fatalf("near = %+v, want up but not healthy", n)
		}
	}
	near.setState("serving")
	waitFor(t, "back to near", currentIs(c, "near"))
}

// TestMembershipChanges: a nearer node that joins is found and used; a
// node that leaves the list is forgotten.
func TestMembershipChanges(t *testing.T) {
	t.Parallel()
	mid := newFakeNode(t, "mid", 30*time.Millisecond)
	far := newFakeNode(t, "far", 60*time.Millisecond)
	fc := newFakeCluster(t, mid, far)
	c := newClient(t, fc.config())
	waitFor(t, "mid selected", currentIs(c, "mid"))
	near := newFakeNode(t, "near", 2*time.Millisecond)
	fc.setNodes(mid, far, near)
	waitFor(t, "the new nearest node", currentIs(c, "near"))
	fc.setNodes(near, mid)
	waitFor(t, "far forgotten", func() bool { return len(c.Nodes()) == 2 })
}

func TestSeeds(t *testing.T) {
	t.Parallel()
	a := newFakeNode(t, "a", 0)
	fc := newFakeCluster(t, a)
	fc.token = "s3cret"
	dead := "http://" + deadAddr(t)

	cfg := testConfig(dead, strings.TrimPrefix(fc.URL(), "http://")+"/")
	cfg.HTTPToken = "s3cret"
	c := newClient(t, cfg)
	if c.Current().ID != "a" {
		t.Fatalf("Current = %+v", c.Current())
	}

	cfg.HTTPToken = "wrong"
	_, err := client.New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), dead) {
		t.Fatalf("New with a wrong token = %v, want a 401 and the dead seed reported", err)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	down := newFakeNode(t, "down", 0)
	down.stop()
	fcDown := newFakeCluster(t, down)
	fcEmpty := newFakeCluster(t)
	tests := []struct {
		name string
		cfg  client.Config
		is   error
		msg  string
	}{
		{"no seeds", client.Config{}, nil, "no seeds"},
		{"bad seed", client.Config{Seeds: []string{"ftp://x"}}, nil, "scheme"},
		{"negative interval", client.Config{Seeds: []string{"x"}, ProbeInterval: -1}, nil, "ProbeInterval"},
		{"bad ratio", client.Config{Seeds: []string{"x"}, SwitchRatio: 2}, nil, "SwitchRatio"},
		{"seed down", testConfig("http://" + deadAddr(t)), nil, "no member list"},
		{"no usable members", testConfig(fcEmpty.URL()), nil, "no member with a usable RESP address"},
		{"no node answers", testConfig(fcDown.URL()), client.ErrNoNode, down.Addr()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(context.Background(), tt.cfg)
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestNewCanceled(t *testing.T) {
	t.Parallel()
	_, _, _, fc := threeRegions(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.New(ctx, fc.config()); !errors.Is(err, context.Canceled) {
		t.Fatalf("New with a cancelled context = %v", err)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	a := newFakeNode(t, "a", 0)
	a.password = "pw"
	fc := newFakeCluster(t, a)

	cfg := fc.config()
	cfg.Password = "pw"
	c := newClient(t, cfg)
	ctx := context.Background()
	if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatalf("Set with the right password: %v", err)
	}

	cfg.Password = "nope"
	_, err := client.New(ctx, cfg)
	var re *client.ReplyError
	if !errors.Is(err, client.ErrNoNode) || !errors.As(err, &re) || !strings.HasPrefix(re.Reply, "-WRONGPASS") {
		t.Fatalf("New with a wrong password = %v, want ErrNoNode with the WRONGPASS reply", err)
	}
}

// TestReplyErrorsDoNotFailOver: the server's own errors are answers, not
// failures.
func TestReplyErrorsDoNotFailOver(t *testing.T) {
	t.Parallel()
	_, _, _, fc := threeRegions(t)
	c := newClient(t, fc.config())
	waitFor(t, "near selected", currentIs(c, "near"))
	ctx := context.Background()
	err := c.Do(ctx, func(ctx context.Context, rdb *redis.Client) error {
		return rdb.Do(ctx, "BOGUS").Err()
	})
	if err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("Do(BOGUS) = %v", err)
	}
	if s := c.Stats(); s.Failovers != 0 || c.Current().ID != "near" {
		t.Fatalf("a reply error moved the client: %+v, current %s", s, c.Current().ID)
	}
	// Nor does the caller's own deadline.
	expired, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Set(expired, "k", nil, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled context = %v", err)
	}
	if c.Current().ID != "near" {
		t.Fatal("a cancelled call moved the client")
	}
	if err := c.Set(ctx, "k", nil, -time.Second); err == nil {
		t.Fatal("a negative TTL was accepted")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	_, _, _, fc := threeRegions(t)
	c, err := client.New(context.Background(), fc.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := c.Get(ctx, "k"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
	if c.Redis() != nil || c.Current().ID != "" || len(c.Nodes()) != 0 {
		t.Fatal("a closed client still reports nodes")
	}
}

// TestConcurrentCallsDuringFailover hammers the client from several
// goroutines while the nearest node dies and comes back; run with -race.
func TestConcurrentCallsDuringFailover(t *testing.T) {
	t.Parallel()
	near, _, _, fc := threeRegions(t)
	c := newClient(t, fc.config())
	waitFor(t, "near selected", currentIs(c, "near"))
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for ctx.Err() == nil {
				if err = c.Set(ctx, "k", []byte("v"), 0); err != nil && ctx.Err() == nil {
					break
				}
				err = nil
			}
			errs <- err
		}()
	}
	waitFor(t, "some traffic on near", func() bool { return near.count("SET") > 20 })
	near.stop()
	waitFor(t, "failover", currentIs(c, "mid"))
	near.start(t)
	waitFor(t, "failback", currentIs(c, "near"))
	cancel()
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("a call failed during failover: %v", err)
		}
	}
}

func TestDialerRoutesEveryConnection(t *testing.T) {
	t.Parallel()
	near, mid, _, fc := threeRegions(t)
	var mu sync.Mutex
	dials := map[string]int{}
	cfg := fc.config()
	// A route that cannot reach near: probes and commands must both take it, so the client
	// settles on mid although near is up and nearer.
	cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dials[addr]++
		mu.Unlock()
		if addr == near.Addr() {
			return nil, errors.New("no route to near")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	c := newClient(t, cfg)
	waitFor(t, "mid selected", currentIs(c, "mid"))
	ctx := context.Background()
	if err := c.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if v, ok := mid.value("k"); !ok || v != "v" {
		t.Fatalf("mid holds %q, %v", v, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	// One probe connection plus at least one command connection to mid, both through Dialer.
	if dials[mid.Addr()] < 2 || dials[near.Addr()] == 0 {
		t.Fatalf("dials through Dialer: %v; want >= 2 to mid (probe and command) and some to near", dials)
	}
	if near.count("PING") != 0 {
		t.Fatal("near was probed around the Dialer")
	}
}

// TestFailbackDoesNotWaitForRefresh: a node that comes back while the last
// member list showed it not serving is used again as soon as its probes
// answer: the client fetches the list early rather than after
// RefreshInterval.
func TestFailbackDoesNotWaitForRefresh(t *testing.T) {
	t.Parallel()
	near, _, _, fc := threeRegions(t)
	near.setState("joining") // the only list the client fetches by itself
	cfg := fc.config()
	cfg.RefreshInterval = time.Hour
	c := newClient(t, cfg)
	waitFor(t, "mid selected (near is not serving)", currentIs(c, "mid"))

	near.stop()
	waitFor(t, "near down", func() bool {
		for _, n := range c.Nodes() {
			if n.ID == "near" {
				return !n.Up
			}
		}
		return false
	})
	near.setState("serving")
	near.start(t)
	waitFor(t, "failback to near", currentIs(c, "near"))
	if cur := c.Current(); !cur.Healthy || cur.State != "serving" {
		t.Fatalf("Current = %+v, want near healthy and serving", cur)
	}
	// New's, and one per recovery seen (near's first probes count as one):
	// early fetches, not a polling loop.
	if s := c.Stats(); s.Refreshes < 2 || s.Refreshes > 3 {
		t.Fatalf("member lists fetched: %d, want 2 or 3", s.Refreshes)
	}
}
