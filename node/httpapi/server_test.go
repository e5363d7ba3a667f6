package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/httpapi"
)

// *node.Node is what the API serves, with every optional interface.
var (
	_ httpapi.Backend     = (*node.Node)(nil)
	_ httpapi.Replicator  = (*node.Node)(nil)
	_ httpapi.Readiness   = (*node.Node)(nil)
	_ httpapi.Cluster     = (*node.Node)(nil)
	_ httpapi.Collections = (*node.Node)(nil)
)

// fakeClock is the node's clock in a test; the node's janitor reads it concurrently.
type fakeClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.mu.Unlock()
}

func newAPI(t *testing.T, b httpapi.Backend, cfg httpapi.Config) *httptest.Server {
	t.Helper()
	api, err := httpapi.New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv
}

func newNode(t *testing.T, clock *fakeClock) *node.Node {
	t.Helper()
	cfg := node.Config{Region: "eu-west"}
	if clock != nil {
		cfg.Now = clock.now
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func do(t *testing.T, method, url string, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestKeys(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{at: time.UnixMilli(1_700_000_000_000)}
	n := newNode(t, clock)
	srv := newAPI(t, n, httpapi.Config{})
	url := srv.URL + "/v1/keys/"

	resp, body := do(t, "GET", url+"missing", "", nil)
	if resp.StatusCode != 404 || !strings.Contains(body, "key not found") {
		t.Fatalf("GET missing: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "PUT", url+"user/42?ttl=90s", `{"name":"ada"}`, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"written": true`) || resp.Header.Get("ETag") == "" {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	putTag := resp.Header.Get("ETag")
	it, ok, _ := n.Peek(context.Background(), "user/42")
	if !ok || string(it.Value) != `{"name":"ada"}` || it.ContentType != "application/json" ||
		!it.ExpireAt.Equal(clock.now().Add(90*time.Second)) {
		t.Fatalf("stored item %+v %v", it, ok)
	}
	resp, body = do(t, "GET", url+"user/42", "", nil)
	if resp.StatusCode != 200 || body != `{"name":"ada"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp.Header.Get("ETag") != putTag || resp.Header.Get("X-Geocache-TTL") != "90000ms" ||
		resp.Header.Get("X-Geocache-Version") != it.Version.String() {
		t.Fatalf("GET headers: %v", resp.Header)
	}
	resp, _ = do(t, "GET", url+"user/42", "", map[string]string{"If-None-Match": putTag})
	if resp.StatusCode != 304 {
		t.Fatalf("conditional GET: %d", resp.StatusCode)
	}
	resp, body = do(t, "HEAD", url+"user/42", "", nil)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(`{"name":"ada"}`)) {
		t.Fatalf("HEAD: %d %q %d", resp.StatusCode, body, resp.ContentLength)
	}

	// TTL from the header, in seconds; no content type: octet-stream.
	do(t, "PUT", url+"raw", "\x00\x01", map[string]string{"X-Geocache-TTL": "30"})
	resp, body = do(t, "GET", url+"raw", "", nil)
	if body != "\x00\x01" || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("X-Geocache-TTL") != "30000ms" {
		t.Fatalf("GET raw: %q %v", body, resp.Header)
	}
	// A new write changes the version.
	resp, _ = do(t, "PUT", url+"raw", "2", nil)
	if resp.Header.Get("ETag") == "" || resp.Header.Get("ETag") == putTag {
		t.Fatalf("second PUT ETag %q", resp.Header.Get("ETag"))
	}
	// If-None-Match: * writes only an absent key.
	resp, _ = do(t, "PUT", url+"raw", "3", map[string]string{"If-None-Match": "*"})
	if resp.StatusCode != 412 {
		t.Fatalf("PUT If-None-Match existing: %d", resp.StatusCode)
	}
	resp, _ = do(t, "PUT", url+"fresh", "3", map[string]string{"If-None-Match": "*"})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT If-None-Match absent: %d", resp.StatusCode)
	}
	// Keys with escapes round-trip.
	do(t, "PUT", url+"a%20b%2Fc", "spaced", nil)
	if _, ok, _ := n.Peek(context.Background(), "a b/c"); !ok {
		t.Fatal("escaped key not stored as decoded")
	}

	resp, body = do(t, "DELETE", url+"raw", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"deleted": true`) {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "DELETE", url+"raw", "", nil)
	if !strings.Contains(body, `"deleted": false`) {
		t.Fatalf("DELETE again: %d %s", resp.StatusCode, body)
	}
	// Expiry follows the node's clock.
	clock.advance(91 * time.Second)
	if resp, _ := do(t, "GET", url+"user/42", "", nil); resp.StatusCode != 404 {
		t.Fatalf("GET after expiry: %d", resp.StatusCode)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	n := newNode(t, nil)
	srv := newAPI(t, n, httpapi.Config{MaxBodySize: 10})
	for _, c := range []struct {
		method, path, body string
		hdr                map[string]string
		code               int
	}{
		{"PUT", "/v1/keys/k?ttl=abc", "v", nil, 400},
		{"PUT", "/v1/keys/k?ttl=-5s", "v", nil, 400},
		{"PUT", "/v1/keys/k?ttl=0", "v", nil, 400},
		{"PUT", "/v1/keys/k", "v", map[string]string{"X-Geocache-TTL": "soon"}, 400},
		{"PUT", "/v1/keys/k?replicas=x", "v", nil, 400},
		{"PUT", "/v1/keys/k?replicas=1&timeout=-1s", "v", nil, 400},
		{"PUT", "/v1/keys/k", "this body is too long", nil, 413},
		{"PUT", "/v1/keys/k", "v", map[string]string{"Content-Type": strings.Repeat("x", 300)}, 400},
		{"PUT", "/v1/keys/" + strings.Repeat("k", 17<<10), "v", nil, 414},
		{"GET", "/v1/keys/", "", nil, 400},
		{"POST", "/v1/keys/k", "v", nil, 405},
		{"GET", "/v1/nosuch", "", nil, 404},
	} {
		resp, body := do(t, c.method, srv.URL+c.path, c.body, c.hdr)
		if resp.StatusCode != c.code {
			t.Errorf("%s %.40s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.code)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	n := newNode(t, nil)
	token := "0123456789abcdef-token"
	srv := newAPI(t, n, httpapi.Config{Tokens: []string{token}})
	for _, path := range []string{"/v1/keys/k", "/v1/members", "/metrics", "/"} {
		resp, _ := do(t, "GET", srv.URL+path, "", nil)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without a token: %d", path, resp.StatusCode)
		}
		resp, _ = do(t, "GET", srv.URL+path, "", map[string]string{"Authorization": "Bearer wrong"})
		if resp.StatusCode != 401 {
			t.Errorf("GET %s with a wrong token: %d", path, resp.StatusCode)
		}
	}
	auth := map[string]string{"Authorization": "Bearer " + token}
	if resp, _ := do(t, "PUT", srv.URL+"/v1/keys/k", "v", auth); resp.StatusCode != 200 {
		t.Fatalf("PUT with the token: %d", resp.StatusCode)
	}
	if resp, body := do(t, "GET", srv.URL+"/v1/keys/k", "", auth); resp.StatusCode != 200 || body != "v" {
		t.Fatalf("GET with the token: %d %q", resp.StatusCode, body)
	}
	// Probes stay open for load balancers.
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, _ := do(t, "GET", srv.URL+path, "", nil); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
}

// cluster wraps a node with fake cluster state.
type cluster struct {
	*node.Node
	ready   bool
	waited  []int
	members []node.Member
	stats   node.ReplicationStats
}

func (c *cluster) Ready() bool { return c.ready }
func (c *cluster) WaitReplicated(_ context.Context, n int) (int, error) {
	c.waited = append(c.waited, n)
	return min(n, 2), nil
}
func (c *cluster) Members() []node.Member                  { return c.members }
func (c *cluster) ReplicationStats() node.ReplicationStats { return c.stats }

var peer2 = node.Member{PeerID: "12D3KooWpeer2", Region: "us-east", State: "serving", Connected: true,
	Reachable: true, RTT: 81500 * time.Microsecond, Lag: 250 * time.Millisecond, Behind: 4,
	RESP: "10.0.0.2:6379", HTTP: "https://10.0.0.2:8080"}

func TestClusterViews(t *testing.T) {
	t.Parallel()
	c := &cluster{Node: newNode(t, nil), members: []node.Member{
		{Self: true, PeerID: "12D3KooWself", Region: "eu-west", State: "serving"}, peer2}}
	srv := newAPI(t, c, httpapi.Config{})

	if resp, body := do(t, "GET", srv.URL+"/readyz", "", nil); resp.StatusCode != 503 || !strings.Contains(body, "warming") {
		t.Fatalf("readyz while warming: %d %s", resp.StatusCode, body)
	}
	c.ready = true
	if resp, _ := do(t, "GET", srv.URL+"/readyz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	resp, body := do(t, "PUT", srv.URL+"/v1/keys/k?replicas=3&timeout=1s", "v", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"replicas": 2`) || fmt.Sprint(c.waited) != "[3]" {
		t.Fatalf("PUT with replicas: %d %s (waited %v)", resp.StatusCode, body, c.waited)
	}
	resp, body = do(t, "DELETE", srv.URL+"/v1/keys/k?replicas=1", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"replicas": 1`) || fmt.Sprint(c.waited) != "[3 1]" {
		t.Fatalf("DELETE with replicas: %d %s (waited %v)", resp.StatusCode, body, c.waited)
	}
	_, body = do(t, "GET", srv.URL+"/v1/members", "", nil)
	for _, want := range []string{`"id": "12D3KooWpeer2"`, `"region": "us-east"`, `"state": "serving"`,
		`"connected": true`, `"rtt_ms": 81.5`, `"lag_ms": 250`, `"behind": 4`, `"id": "12D3KooWself"`, `"self": true`} {
		if !strings.Contains(body, want) {
			t.Errorf("members lacks %s:\n%s", want, body)
		}
	}
	_, page := do(t, "GET", srv.URL+"/", "", nil)
	if !strings.Contains(page, "us-east") || !strings.Contains(page, "81.50") {
		t.Errorf("status page lacks the peer:\n%s", page)
	}
}

func TestMembersOfASingleNode(t *testing.T) {
	t.Parallel()
	n := newNode(t, nil)
	n.SetClientAddrs(context.Background(), "127.0.0.1:6379", "http://127.0.0.1:8080")
	srv := newAPI(t, n, httpapi.Config{})
	_, body := do(t, "GET", srv.URL+"/v1/members", "", nil)
	for _, want := range []string{`"replica": "` + n.ReplicaID().String() + `"`, `"region": "eu-west"`,
		`"self": true`, `"resp": "127.0.0.1:6379"`, `"http": "http://127.0.0.1:8080"`} {
		if !strings.Contains(body, want) {
			t.Errorf("members lacks %s:\n%s", want, body)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	c := &cluster{Node: newNode(t, nil), ready: true, members: []node.Member{{Self: true}, peer2},
		stats: node.ReplicationStats{DeltasSent: 11, DeltasApplied: 9, DeltasStale: 2, DeltasRejected: 3,
			ClockSkewRejected: 1, DeltasDropped: 5, SyncSessions: 7, SyncFailures: 1, LogBytes: 4096}}
	api, err := httpapi.New(c, httpapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx := context.Background()
	c.Set(ctx, "a", []byte("1"), node.SetOptions{})
	c.Set(ctx, "b", []byte("2"), node.SetOptions{})
	c.Get(ctx, "a")
	c.Get(ctx, "zz")
	c.Delete(ctx, "b")
	do(t, "GET", srv.URL+"/v1/keys/a", "", nil)

	_, body := do(t, "GET", srv.URL+"/metrics", "", nil)
	for _, want := range []string{
		`geocache_operations_total{op="get"} 3`,
		`geocache_operations_total{op="set"} 2`,
		`geocache_operations_total{op="delete"} 1`,
		`geocache_hits_total 2`,
		`geocache_misses_total 1`,
		`geocache_entries 1`,
		`geocache_evictions_total 0`,
		`geocache_expirations_total 0`,
		`geocache_tombstones{kind="delete"} 1`,
		`geocache_replication_lag_seconds{peer="12D3KooWpeer2",region="us-east"} 0.25`,
		`geocache_replication_behind_writes{peer="12D3KooWpeer2",region="us-east"} 4`,
		`geocache_peer_rtt_seconds{peer="12D3KooWpeer2",region="us-east"} 0.0815`,
		`geocache_peer_connected{peer="12D3KooWpeer2",region="us-east"} 1`,
		`geocache_deltas_total{outcome="applied"} 9`,
		`geocache_deltas_total{outcome="stale"} 2`,
		`geocache_deltas_rejected_total{reason="malformed"} 3`,
		`geocache_deltas_rejected_total{reason="clock_skew"} 1`,
		`geocache_deltas_dropped_total 5`,
		`geocache_sync_sessions_total 7`,
		`geocache_sync_failures_total 1`,
		`geocache_replication_log_bytes 4096`,
		`geocache_http_requests_total{code="200",route="keys"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	mfs, err := api.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "geocache_bytes" {
			found = len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetGauge().GetValue() > 0
		}
	}
	if !found {
		t.Error("geocache_bytes missing or zero")
	}
}

// TestMetricsMove checks that the eviction and expiration counters, and the gauges of bytes and
// entries, follow what the node does.
func TestMetricsMove(t *testing.T) {
	t.Parallel()
	// The node's expiry sweeper reads the clock from its own goroutine.
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	n, err := node.New(node.Config{Region: "eu-west", MaxEntries: 2, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := newAPI(t, n, httpapi.Config{})
	metric := func(name string) string {
		t.Helper()
		_, body := do(t, "GET", srv.URL+"/metrics", "", nil)
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		t.Fatalf("/metrics lacks %s", name)
		return ""
	}
	if got := metric("geocache_bytes"); got != "0" {
		t.Fatalf("geocache_bytes of an empty node = %s", got)
	}
	for _, k := range []string{"a", "b", "c"} { // the third evicts the least recently used
		if resp, body := do(t, "PUT", srv.URL+"/v1/keys/"+k, "value", nil); resp.StatusCode != 200 {
			t.Fatalf("PUT %s: %d %s", k, resp.StatusCode, body)
		}
	}
	if got := metric("geocache_evictions_total"); got != "1" {
		t.Errorf("geocache_evictions_total after 3 writes with MaxEntries 2 = %s, want 1", got)
	}
	if got := metric("geocache_entries"); got != "2" {
		t.Errorf("geocache_entries = %s, want 2", got)
	}
	if got := metric("geocache_bytes"); got == "0" {
		t.Errorf("geocache_bytes = 0 with 2 entries")
	}
	if resp, _ := do(t, "PUT", srv.URL+"/v1/keys/c?ttl=10s", "v", nil); resp.StatusCode != 200 {
		t.Fatalf("PUT with TTL: %d", resp.StatusCode)
	}
	now.Add(int64(11 * time.Second))
	if resp, _ := do(t, "GET", srv.URL+"/v1/keys/c", "", nil); resp.StatusCode != 404 {
		t.Fatalf("GET of an expired key: %d, want 404", resp.StatusCode)
	}
	if got := metric("geocache_expirations_total"); got != "1" {
		t.Errorf("geocache_expirations_total after an expiry = %s, want 1", got)
	}
	if got := metric("geocache_entries"); got != "1" {
		t.Errorf("geocache_entries after an expiry = %s, want 1", got)
	}
}

// stuckPeers is a backend whose other nodes never acknowledge: WaitReplicated blocks until its
// ctx ends and then reports the one node that had acknowledged.
type stuckPeers struct {
	*node.Node
	waiting chan struct{} // receives once per wait that has begun
}

func (p *stuckPeers) WaitReplicated(ctx context.Context, _ int) (int, error) {
	p.waiting <- struct{}{}
	<-ctx.Done()
	return 1, nil
}

// TestReleaseWaits checks that a graceful shutdown does not wait for writes blocked on other
// regions: ReleaseWaits answers them at once with the count so far, as RESP WAIT does.
func TestReleaseWaits(t *testing.T) {
	t.Parallel()
	p := &stuckPeers{Node: newNode(t, nil), waiting: make(chan struct{}, 4)}
	api, err := httpapi.New(p, httpapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	type reply struct {
		code int
		body string
	}
	replies := make(chan reply, 2)
	for _, method := range []string{"PUT", "DELETE"} {
		go func() {
			req, _ := http.NewRequest(method, srv.URL+"/v1/keys/k?replicas=2&timeout=1h", strings.NewReader("v"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				replies <- reply{0, err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			replies <- reply{resp.StatusCode, string(b)}
		}()
	}
	for range 2 { // both requests are waiting for the other nodes
		select {
		case <-p.waiting:
		case r := <-replies:
			t.Fatalf("a write answered before ReleaseWaits: %d %s", r.code, r.body)
		case <-time.After(10 * time.Second):
			t.Fatal("the writes did not wait for the other nodes")
		}
	}
	api.ReleaseWaits()
	api.ReleaseWaits() // idempotent
	for range 2 {
		select {
		case r := <-replies:
			if r.code != 200 || !strings.Contains(r.body, `"replicas": 1`) {
				t.Fatalf("released write: %d %s, want 200 with the 1 acknowledgement so far", r.code, r.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ReleaseWaits did not release the waiting writes")
		}
	}
	// Later writes do not wait either.
	resp, body := do(t, "PUT", srv.URL+"/v1/keys/k2?replicas=2&timeout=1h", "v", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"replicas": 1`) {
		t.Fatalf("write after ReleaseWaits: %d %s", resp.StatusCode, body)
	}
}

func TestUnmatchedRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	srv := newAPI(t, newNode(t, nil), httpapi.Config{})
	for _, c := range []struct {
		method, path string
		code         int
		allow, msg   string
	}{
		{"GET", "/nosuch", 404, "", "no such endpoint: /nosuch"},
		{"GET", "/v1/nosuch/x", 404, "", "no such endpoint"},
		{"POST", "/v1/keys/k", 405, "DELETE, GET, HEAD, PUT", "method POST not allowed"},
		{"POST", "/v1/members", 405, "GET, HEAD", "method POST not allowed"},
		{"PUT", "/healthz", 405, "GET, HEAD", "method PUT not allowed"},
	} {
		resp, body := do(t, c.method, srv.URL+c.path, "", nil)
		if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != "application/json" ||
			!strings.Contains(body, `"error": "`+c.msg) {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}
