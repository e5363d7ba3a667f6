package httpapi

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

// Server is the HTTP/JSON API of one node. It is an http.Handler; the caller owns the
// http.Server and its listener.
type Server struct {
	b       Backend
	cfg     Config
	repl    Replicator
	ready   Readiness
	cluster Cluster
	mux     *http.ServeMux
	reg     *prometheus.Registry
	reqs    *prometheus.CounterVec
	started time.Time
	rates   *rateRing // filled by Run for the status page's charts

	release     chan struct{} // closed by ReleaseWaits
	releaseOnce sync.Once
}

// New returns the API for b. It validates cfg (errors are prefixed "httpapi:") and never
// modifies it. Each Server has its own Prometheus registry, so several can live in a process.
func New(b Backend, cfg Config) (*Server, error) {
	if b == nil {
		return nil, errors.New("httpapi: nil Backend")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{b: b, cfg: c, mux: http.NewServeMux(), reg: prometheus.NewRegistry(), started: time.Now(),
		release: make(chan struct{})}
	s.rates = newRateRing(int(min(c.SampleWindow/c.SampleInterval+1, maxSamples)))
	s.rates.add(s.sample()) // the base of the first interval: what happens from now on is charted
	s.repl, _ = b.(Replicator)
	s.ready, _ = b.(Readiness)
	s.cluster, _ = b.(Cluster)

	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "geocache_http_requests_total",
		Help: "HTTP API requests by route and status code.",
	}, []string{"route", "code"})
	regs := []prometheus.Collector{
		s.reqs,
		&cacheCollector{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if p, ok := b.(Persistence); ok {
		regs = append(regs, &persistCollector{p: p})
	}
	if bc, ok := b.(prometheus.Collector); ok {
		regs = append(regs, bc)
	}
	regs = append(regs, c.Collectors...)
	for _, col := range regs {
		if err := s.reg.Register(col); err != nil {
			return nil, fmt.Errorf("httpapi: registering metrics: %w", err)
		}
	}

	s.handle("GET /v1/keys/{key...}", "keys", s.getKey)
	s.handle("PUT /v1/keys/{key...}", "keys", s.putKey)
	s.handle("DELETE /v1/keys/{key...}", "keys", s.deleteKey)
	s.handle("GET /v1/members", "members", s.listMembers)
	s.handle("DELETE /v1/members/{peer}", "members", s.forgetMember)
	s.handle("GET /v1/nearest", "nearest", s.nearest)
	s.handle("GET /v1/dump", "dump", s.dump)
	s.handle("GET /healthz", "healthz", s.healthz)
	s.handle("GET /readyz", "readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.count("metrics", s.auth(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))))
	s.handle("GET /{$}", "status", s.status)
	if c.Pprof {
		s.mux.Handle("/debug/pprof/", s.auth(http.HandlerFunc(pprof.Index)))
		s.mux.Handle("/debug/pprof/cmdline", s.auth(http.HandlerFunc(pprof.Cmdline)))
		s.mux.Handle("/debug/pprof/profile", s.auth(http.HandlerFunc(pprof.Profile)))
		s.mux.Handle("/debug/pprof/symbol", s.auth(http.HandlerFunc(pprof.Symbol)))
		s.mux.Handle("/debug/pprof/trace", s.auth(http.HandlerFunc(pprof.Trace)))
	}
	return s, nil
}

// ServeHTTP serves the API. Requests no route matches get the mux's status (404, or 405 with
// its Allow header) with a JSON body like every other error of the API, not net/http's text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // which sets the path values Handler does not
		return
	}
	rec := &codeRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r) // the mux's own 404/405/redirect handler: learn its status and headers
	code := cmp.Or(rec.code, http.StatusNotFound)
	for k, v := range rec.header {
		if k != "Content-Type" && k != "X-Content-Type-Options" && k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	route := "unmatched"
	switch {
	case code == http.StatusMethodNotAllowed:
		writeError(w, code, "method "+r.Method+" not allowed; allowed: "+w.Header().Get("Allow"))
	case code >= 300 && code < 400: // a redirect to the cleaned path
		w.WriteHeader(code)
	default:
		writeError(w, code, "no such endpoint: "+r.URL.Path)
	}
	s.reqs.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// codeRecorder captures the status and headers of the mux's fallback handlers.
type codeRecorder struct {
	header http.Header
	code   int
}

func (c *codeRecorder) Header() http.Header { return c.header }
func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}
func (c *codeRecorder) Write(b []byte) (int, error) { return len(b), nil }

// ReleaseWaits makes every write waiting for other nodes (?replicas=N) answer at once with the
// count so far, and later ones not wait at all, as Redis's WAIT does when the server stops.
// Call it when a graceful shutdown begins, before http.Server.Shutdown, which would otherwise
// wait for those requests until their timeout. It is idempotent and safe to call concurrently.
func (s *Server) ReleaseWaits() {
	s.releaseOnce.Do(func() { close(s.release) })
}

// Registry is the server's Prometheus registry, for tests and for embedding callers that want
// to add collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

func (s *Server) handle(pattern, route string, h http.HandlerFunc) {
	var hh http.Handler = h
	if route != "healthz" && route != "readyz" {
		hh = s.auth(hh)
	}
	s.mux.Handle(pattern, s.count(route, hh))
}

// statusWriter records the status code for the request counter.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) count(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.reqs.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

// auth requires a bearer token when tokens are configured.
func (s *Server) auth(h http.Handler) http.Handler {
	if len(s.cfg.Tokens) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		valid := false
		for _, t := range s.cfg.Tokens {
			if ok && subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
				valid = true
			}
		}
		if !valid {
			w.Header().Set("WWW-Authenticate", `Bearer realm="geocache"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// etag formats a version as a strong entity tag.
func etag(v crdt.Version) string {
	return fmt.Sprintf(`"%016x-%016x"`, uint64(v.TS), uint64(v.Replica))
}

// key returns the request's key, or writes 400 and returns false.
func key(w http.ResponseWriter, r *http.Request) (string, bool) {
	k := r.PathValue("key")
	if k == "" {
		writeError(w, http.StatusBadRequest, "empty key")
		return "", false
	}
	return k, true
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	k, ok := key(w, r)
	if !ok {
		return
	}
	it, found, err := s.b.Get(r.Context(), k)
	if cb, ok := s.b.(Collections); ok && errors.Is(err, node.ErrWrongType) {
		s.getCollection(w, r, cb, k)
		return
	}
	if err != nil {
		s.backendError(w, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "key not found")
		return
	}
	s.writeMeta(w, it.Version, it.ExpireAt)
	tag := w.Header().Get("ETag")
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ct := it.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(it.Value)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(it.Value)
	}
}

// matchesETag reports whether an If-None-Match header lists tag (or is "*").
func matchesETag(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// parseTTL reads a TTL from the ttl query parameter or the X-Geocache-TTL header: a Go duration
// ("90s", "1h30m") or a number of seconds.
func parseTTL(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("ttl")
	src := "ttl parameter"
	if v == "" {
		v = r.Header.Get("X-Geocache-TTL")
		src = "X-Geocache-TTL header"
	}
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, err2 := strconv.ParseInt(v, 10, 64)
		if err2 != nil || n > int64(1<<63-1)/int64(time.Second) {
			return 0, fmt.Errorf("%s: want a duration like 90s or a number of seconds, got %q", src, v)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s must be positive, got %q", src, v)
	}
	return d, nil
}

// parseReplicas reads ?replicas=N&timeout=D: how many other regions to wait for, and for how
// long (default 5s).
func parseReplicas(r *http.Request) (int, time.Duration, error) {
	q := r.URL.Query()
	v := q.Get("replicas")
	if v == "" {
		return 0, 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, 0, fmt.Errorf("replicas: want a non-negative integer, got %q", v)
	}
	timeout := 5 * time.Second
	if t := q.Get("timeout"); t != "" {
		if timeout, err = time.ParseDuration(t); err != nil || timeout <= 0 {
			return 0, 0, fmt.Errorf("timeout: want a positive duration like 500ms, got %q", t)
		}
	}
	return n, timeout, nil
}

// putResult is the body of a PUT reply.
type putResult struct {
	Written   bool   `json:"written"`
	Version   string `json:"version,omitempty"`
	ETag      string `json:"etag,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
	Replicas  *int   `json:"replicas,omitempty"`
}

func (s *Server) putKey(w http.ResponseWriter, r *http.Request) {
	k, ok := key(w, r)
	if !ok {
		return
	}
	ttl, err := parseTTL(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	replicas, timeout, err := parseReplicas(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	buf, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", s.cfg.MaxBodySize))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	opt := node.SetOptions{TTL: ttl, ContentType: r.Header.Get("Content-Type")}
	if inm := r.Header.Get("If-None-Match"); strings.TrimSpace(inm) == "*" {
		opt.NX = true
	}
	res, err := s.b.Set(r.Context(), k, buf, opt)
	if err != nil {
		s.backendError(w, err)
		return
	}
	if !res.Written {
		writeError(w, http.StatusPreconditionFailed, "key exists (If-None-Match: *)")
		return
	}
	out := putResult{Written: true, Version: res.Version.String(), ETag: etag(res.Version)}
	if ttl > 0 { // as the node computes it: whole milliseconds
		out.ExpiresAt = time.UnixMilli(s.b.Now().UnixMilli() + ttl.Milliseconds()).UTC().Format(time.RFC3339Nano)
	}
	if replicas > 0 {
		n := s.waitReplicated(r.Context(), replicas, timeout)
		out.Replicas = &n
	}
	w.Header().Set("ETag", out.ETag)
	writeJSON(w, http.StatusOK, out)
}

// waitReplicated waits for replicas other nodes to apply this node's writes so far, up to
// timeout, and returns how many did. Without replication that is none.
func (s *Server) waitReplicated(ctx context.Context, replicas int, timeout time.Duration) int {
	if s.repl == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case <-s.release:
		cancel() // shutting down: count what has arrived, without waiting
	default:
		// ReleaseWaits cancels this wait; the goroutine ends when the wait does (deferred cancel).
		go func() {
			select {
			case <-s.release:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	n, err := s.repl.WaitReplicated(ctx, replicas)
	if err != nil && ctx.Err() == nil {
		s.cfg.Logger.Warn("httpapi: waiting for replication failed", "err", err)
	}
	return n
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	k, ok := key(w, r)
	if !ok {
		return
	}
	replicas, timeout, err := parseReplicas(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n, err := s.b.Delete(r.Context(), k)
	if err != nil {
		s.backendError(w, err)
		return
	}
	out := map[string]any{"deleted": n > 0}
	if replicas > 0 {
		out["replicas"] = s.waitReplicated(r.Context(), replicas, timeout)
	}
	writeJSON(w, http.StatusOK, out)
}

// backendError maps a Backend error to a status code.
func (s *Server) backendError(w http.ResponseWriter, err error) {
	var le *node.LoadError
	switch {
	case errors.As(err, &le):
		// The origin failed or timed out: a gateway error with the loader's message.
		writeError(w, http.StatusBadGateway, strings.TrimPrefix(le.Err.Error(), "node: "))
	case errors.Is(err, node.ErrKeyTooLarge):
		writeError(w, http.StatusRequestURITooLong, "key too large")
	case errors.Is(err, node.ErrValueTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "value too large")
	case errors.Is(err, crdt.ErrTooLarge):
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "crdt: "))
	case errors.Is(err, node.ErrWrongType):
		writeError(w, http.StatusConflict, "the key holds another type")
	case errors.Is(err, node.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "node is shutting down")
	case errors.Is(err, node.ErrLoading):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "loading the cache snapshot")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "request canceled")
	default:
		s.cfg.Logger.Error("httpapi: backend error", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// memberJSON is a node.Member as /v1/members shows it.
type memberJSON struct {
	ID        string  `json:"id"`
	Region    string  `json:"region"`
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	RESP      string  `json:"resp,omitempty"`
	HTTP      string  `json:"http,omitempty"`
	State     string  `json:"state"`
	Version   string  `json:"version,omitempty"`
	Self      bool    `json:"self"`
	Connected bool    `json:"connected"`
	Reachable bool    `json:"reachable"`
	RTTMs     float64 `json:"rtt_ms"`
	LagMs     float64 `json:"lag_ms"`
	Behind    uint64  `json:"behind"`
	LastSeen  string  `json:"last_seen,omitempty"`
	// P2P are the member's libp2p addresses: --join accepts this node's URL and reads them.
	P2P []string `json:"p2p,omitempty"`
}

// members is the cluster view: the backend's, or this node alone.
func (s *Server) members() []node.Member {
	if s.cluster != nil {
		return s.cluster.Members()
	}
	return []node.Member{{Region: s.b.Region(), Self: true, State: "serving", Connected: true, Reachable: true}}
}

func (s *Server) listMembers(w http.ResponseWriter, _ *http.Request) {
	ms := s.members()
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		id := m.PeerID
		if id == "" && m.Self {
			id = s.b.ReplicaID().String()
		}
		out[i] = memberJSON{ID: id, Region: m.Region, Lat: m.Lat, Lon: m.Lon, RESP: m.RESP, HTTP: m.HTTP,
			State: m.State, Version: m.Version, Self: m.Self, Connected: m.Connected, Reachable: m.Reachable,
			RTTMs: durMs(m.RTT), LagMs: durMs(m.Lag), Behind: m.Behind, P2P: m.P2P}
		if !m.LastSeen.IsZero() {
			out[i].LastSeen = m.LastSeen.UTC().Format(time.RFC3339Nano)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"replica": s.b.ReplicaID().String(), "members": out})
}

func durMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// healthz is liveness: the process answers.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: 200 once the node has caught up with its cluster, else 503 with the
// reason (see node.Node.ReadyReason).
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.ready != nil && !s.ready.Ready() {
		reason := "warming up"
		if rr, ok := s.b.(ReadyReasoner); ok {
			if _, why := rr.ReadyReason(); why != "" {
				reason = why
			}
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "status": "warming", "reason": reason})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "status": "ready"})
}
