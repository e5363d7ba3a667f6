// Package httpapi serves a node over HTTP/JSON: keys (GET, PUT, DELETE under /v1/keys/ with
// TTL, content type and version as ETag), the cluster view (/v1/members), health and
// readiness probes, Prometheus metrics and a small status page.
//
// # Model
//
// A Server is an http.Handler over a Backend (a *node.Node); the caller owns the http.Server,
// its listener, TLS and timeouts. Optional interfaces light features up when the backend has
// them: Replicator (?replicas=N on writes), Readiness (/readyz while warming), Cluster
// (/v1/members, the status page and the replication metrics), prometheus.Collector (its
// metrics on /metrics). *node.Node implements all of them.
//
// # Concurrency
//
// Handlers run concurrently, one goroutine per request (net/http); the Backend must be safe for
// that. Each Server has its own Prometheus registry — no package-level metric state — so
// several nodes can run in one process. Metrics are read from the node's counters when
// scraped, so the request path pays nothing for them.
package httpapi
