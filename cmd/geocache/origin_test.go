package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
)

func TestOriginConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig([]string{"--origin", "http://origin.internal:8000/cache/"},
		env(map[string]string{"GEOCACHE_ORIGIN_TIMEOUT": "750ms", "GEOCACHE_ORIGIN_DEDUP": "node"}), func() {})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Origin != "http://origin.internal:8000/cache/" || cfg.OriginTimeout != 750*time.Millisecond ||
		cfg.OriginDedup != "node" || cfg.OriginTTL != 5*time.Minute {
		t.Fatalf("origin config: %+v", cfg)
	}
	def, _ := loadConfig(nil, env(nil), func() {})
	if def.Origin != "" || def.OriginTimeout != 5*time.Second || def.OriginDedup != "cluster" {
		t.Fatalf("defaults: origin %q timeout %v dedup %q", def.Origin, def.OriginTimeout, def.OriginDedup)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--origin", "ftp://x/"}, "--origin: scheme"},
		{[]string{"--origin", "http:///path"}, "--origin: no host"},
		{[]string{"--origin", "http://x/?a=b"}, "no query"},
		{[]string{"--origin", "http://x", "--origin-timeout", "0s"}, "--origin-timeout must be positive"},
		{[]string{"--origin-dedup", "region"}, "--origin-dedup must be cluster or node"},
	} {
		if _, err := loadConfig(c.args, env(nil), func() {}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestOriginKeyURLAndTTL(t *testing.T) {
	t.Parallel()
	o, err := newOrigin(Config{Origin: "http://o:81/base/", OriginTimeout: time.Second, MaxValueSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"user:42": "http://o:81/base/user:42",
		"a/b c?d": "http://o:81/base/a%2Fb%20c%3Fd",
		"ü":       "http://o:81/base/%C3%BC",
	} {
		if got := o.keyURL(key); got != want {
			t.Errorf("keyURL(%q) = %q, want %q", key, got, want)
		}
	}
	for _, c := range []struct {
		cc   []string
		want time.Duration
	}{
		{nil, time.Hour},
		{[]string{"max-age=60"}, time.Minute},
		{[]string{"public, max-age=60, s-maxage=5"}, 5 * time.Second},
		{[]string{"no-cache", `max-age="30"`}, 30 * time.Second},
		{[]string{"max-age=0"}, minOriginTTL},
		{[]string{"max-age=abc"}, time.Hour},
	} {
		h := http.Header{}
		for _, v := range c.cc {
			h.Add("Cache-Control", v)
		}
		if got := cacheTTL(h, time.Hour); got != c.want {
			t.Errorf("Cache-Control %q: ttl %v, want %v", c.cc, got, c.want)
		}
	}
}

// fakeOrigin serves keys for the daemon tests and counts requests per path.
type fakeOrigin struct {
	mu       sync.Mutex
	requests map[string]int
	slowIn   chan struct{} // receives when /slow arrives
	slowGo   chan struct{} // closed to let /slow answer
}

func (f *fakeOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests[r.URL.EscapedPath()]++
	f.mu.Unlock()
	switch r.URL.EscapedPath() {
	case "/o/hello":
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "world")
	case "/o/a%2Fb":
		io.WriteString(w, "slash")
	case "/o/broken":
		http.Error(w, "database down", http.StatusInternalServerError)
	case "/o/hang":
		<-r.Context().Done()
	case "/o/slow":
		f.slowIn <- struct{}{}
		<-f.slowGo
		io.WriteString(w, "slow value")
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeOrigin) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

func (f *fakeOrigin) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.requests {
		n += c
	}
	return n
}

// TestDaemonOrigin runs the daemon with --origin in front of a fake origin and checks RESP and
// HTTP reads of present, absent, failing and slow keys, that a slow origin does not hold up the
// event loop, and the counters.
func TestDaemonOrigin(t *testing.T) {
	t.Parallel()
	fo := &fakeOrigin{requests: map[string]int{}, slowIn: make(chan struct{}), slowGo: make(chan struct{})}
	srv := httptest.NewServer(fo)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-fo.slowGo:
		default:
			close(fo.slowGo)
		}
	})
	banner, _ := startDaemon(t, "--origin", srv.URL+"/o/", "--origin-timeout", "300ms", "--event-loops", "1")
	m := addrRE.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("banner:\n%s", banner)
	}
	respAddr, httpURL := m[1], m[2]
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", respAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	c, r := dial()

	if got := respDo(t, r, c, "GET", "hello"); got != "world" {
		t.Fatalf("GET hello = %q", got)
	}
	pttl, _ := strconv.Atoi(strings.TrimPrefix(respDo(t, r, c, "PTTL", "hello"), ":"))
	if pttl <= 55000 || pttl > 60000 {
		t.Fatalf("PTTL of a value loaded with max-age=60: %d ms", pttl)
	}
	if got := respDo(t, r, c, "GET", "hello"); got != "world" || fo.count("/o/hello") != 1 {
		t.Fatalf("second GET = %q after %d origin requests, want 1 (cached)", got, fo.count("/o/hello"))
	}
	if got := respDo(t, r, c, "GET", "a/b"); got != "slash" {
		t.Fatalf("GET a/b = %q (the key must be one path-escaped segment)", got)
	}
	for range 2 {
		if got := respDo(t, r, c, "GET", "missing"); got != "$-1" {
			t.Fatalf("GET missing = %q, want a nil reply", got)
		}
	}
	if n := fo.count("/o/missing"); n != 1 {
		t.Fatalf("origin asked %d times for an absent key within the negative TTL, want 1", n)
	}
	if got := respDo(t, r, c, "GET", "broken"); got != "-ERR origin: GET "+srv.URL+"/o/broken: 500 Internal Server Error" {
		t.Fatalf("GET broken = %q", got)
	}
	if got := respDo(t, r, c, "EXISTS", "broken"); got != ":0" {
		t.Fatalf("a failed load stored something: EXISTS = %q", got)
	}
	if got := respDo(t, r, c, "GET", "hang"); !strings.HasPrefix(got, "-ERR origin: ") || !strings.Contains(got, "Timeout") {
		t.Fatalf("GET hang = %q, want an origin timeout error", got)
	}

	// A slow origin: the GET waits off the event loop, and the same (single) loop keeps
	// serving other connections meanwhile.
	slowC, slowR := dial()
	slowC.Write([]byte("*2\r\n$3\r\nGET\r\n$4\r\nslow\r\n"))
	select {
	case <-fo.slowIn:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin never saw GET slow")
	}
	c2, r2 := dial()
	if got := respDo(t, r2, c2, "PING"); got != "+PONG" {
		t.Fatalf("PING while a load is in flight = %q", got)
	}
	if got := respDo(t, r, c, "GET", "hello"); got != "world" {
		t.Fatalf("GET hello while a load is in flight = %q", got)
	}
	close(fo.slowGo)
	if got := respDo(t, slowR, slowC, "PING"); got != "slow value" {
		// The reply to the earlier GET comes first on that connection.
		t.Fatalf("GET slow = %q", got)
	}

	// HTTP GET fills misses the same way.
	get := func(path string) (int, string) {
		resp, err := http.Get(httpURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/v1/keys/fresh"); code != http.StatusNotFound {
		t.Fatalf("HTTP GET of a key the origin lacks: %d %q", code, body)
	}
	if code, body := get("/v1/keys/broken"); code != http.StatusBadGateway || !strings.Contains(body, "origin: GET") {
		t.Fatalf("HTTP GET of a failing key: %d %q, want 502 with the origin's error", code, body)
	}
	if code, body := get("/v1/keys/slow"); code != http.StatusOK || body != "slow value" {
		t.Fatalf("HTTP GET of a loaded key: %d %q", code, body)
	}

	// Counters: every origin request is one load (the origin saw each once).
	want := strconv.Itoa(fo.total())
	info := ""
	c.Write([]byte("*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n"))
	if line, _ := r.ReadString('\n'); strings.HasPrefix(line, "$") {
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		buf := make([]byte, n+2)
		io.ReadFull(r, buf)
		info = string(buf)
	}
	if !strings.Contains(info, "origin_loads:"+want+"\r\n") {
		t.Fatalf("INFO stats lacks origin_loads:%s:\n%s", want, info)
	}
	if _, metrics := get("/metrics"); !strings.Contains(metrics, "geocache_origin_loads_total "+want+"\n") {
		t.Fatalf("/metrics lacks geocache_origin_loads_total %s", want)
	}
}

func TestOriginLoaderErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, strings.Repeat("x", 11))
		case "/gone":
			w.WriteHeader(http.StatusGone)
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	o, err := newOrigin(Config{Origin: srv.URL, OriginTimeout: time.Second, OriginTTL: time.Minute, MaxValueSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.close)
	ctx := context.Background()
	if v, ttl, err := o.load(ctx, "k"); err != nil || string(v) != "ok" || ttl != time.Minute {
		t.Fatalf("load = %q %v %v, want ok with the default TTL", v, ttl, err)
	}
	if _, _, err := o.load(ctx, "big"); err == nil || !strings.Contains(err.Error(), "larger than --max-value-size") {
		t.Fatalf("oversized value: %v", err)
	}
	if _, _, err := o.load(ctx, "gone"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("410: %v, want node.ErrNotFound", err)
	}
}
