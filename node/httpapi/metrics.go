package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric descriptions. Counters are read from the node's statistics at scrape time, so the hot
// path pays nothing for them.
var (
	descOps = prometheus.NewDesc("geocache_operations_total",
		"Cache operations by kind: get (hits and misses), set (local writes, expiry changes included), delete.",
		[]string{"op"}, nil)
	descHits = prometheus.NewDesc("geocache_hits_total",
		"Reads that found a live key.", nil, nil)
	descMisses = prometheus.NewDesc("geocache_misses_total",
		"Reads of absent, expired or deleted keys.", nil, nil)
	descEvictions = prometheus.NewDesc("geocache_evictions_total",
		"Entries evicted to stay under the memory bound (local, not replicated).", nil, nil)
	descExpirations = prometheus.NewDesc("geocache_expirations_total",
		"Entries removed because their TTL passed.", nil, nil)
	descBytes = prometheus.NewDesc("geocache_bytes",
		"Bytes charged against the memory bound: keys, values and per-entry overhead.", nil, nil)
	descMaxBytes = prometheus.NewDesc("geocache_max_bytes",
		"The memory bound.", nil, nil)
	descEntries = prometheus.NewDesc("geocache_entries",
		"Live keys.", nil, nil)
	descStoreEntries = prometheus.NewDesc("geocache_store_entries",
		"Entries in the store, delete tombstones included.", nil, nil)
	descTombstones = prometheus.NewDesc("geocache_tombstones",
		"Tombstones held: replicated deletes kept as entries (delete) and key-hash records of evictions and expiries (local).",
		[]string{"kind"}, nil)
	descTombstonesDropped = prometheus.NewDesc("geocache_tombstones_dropped_total",
		"Local tombstones dropped at their cap (the timestamp floor rose).", nil, nil)
	descLag = prometheus.NewDesc("geocache_replication_lag_seconds",
		"Replication lag from this node to a peer: age of the oldest write it has not acknowledged.",
		[]string{"peer", "region"}, nil)
	descRTT = prometheus.NewDesc("geocache_peer_rtt_seconds",
		"Smoothed round-trip time to a peer.", []string{"peer", "region"}, nil)
	descPeerUp = prometheus.NewDesc("geocache_peer_connected",
		"1 if the peer is connected.", []string{"peer", "region"}, nil)
	descRejected = prometheus.NewDesc("geocache_deltas_rejected_total",
		"Deltas from a peer rejected (timestamp too far ahead, malformed).", []string{"peer", "region"}, nil)
	descDropped = prometheus.NewDesc("geocache_deltas_dropped_total",
		"Deltas from a peer dropped because this node already held a newer version.", []string{"peer", "region"}, nil)
	descSync = prometheus.NewDesc("geocache_sync_sessions_total",
		"Anti-entropy sync sessions run with a peer.", []string{"peer", "region"}, nil)
)

// cacheCollector exports the node's statistics and the per-peer cluster view.
type cacheCollector struct{ s *Server }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOps, descHits, descMisses, descEvictions, descExpirations,
		descBytes, descMaxBytes, descEntries, descStoreEntries, descTombstones, descTombstonesDropped,
		descLag, descRTT, descPeerUp, descRejected, descDropped, descSync} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.b.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descOps, st.Hits+st.Misses, "get")
	counter(descOps, st.Sets, "set")
	counter(descOps, st.Deletes, "delete")
	counter(descHits, st.Hits)
	counter(descMisses, st.Misses)
	counter(descEvictions, st.Evictions)
	counter(descExpirations, st.Expirations)
	gauge(descBytes, float64(st.Bytes))
	gauge(descMaxBytes, float64(st.MaxMemory))
	gauge(descEntries, float64(st.Keys))
	gauge(descStoreEntries, float64(st.Entries))
	gauge(descTombstones, float64(st.DeleteTombstones), "delete")
	gauge(descTombstones, float64(st.LocalTombstones), "local")
	counter(descTombstonesDropped, st.LocalTombstonesDropped)

	if c.s.members == nil {
		return
	}
	for _, m := range c.s.members.Members() {
		if m.State == "self" {
			continue
		}
		up := 0.0
		if m.State == "connected" {
			up = 1
		}
		gauge(descLag, m.Lag.Seconds(), m.ID, m.Region)
		gauge(descRTT, m.RTT.Seconds(), m.ID, m.Region)
		gauge(descPeerUp, up, m.ID, m.Region)
		counter(descRejected, m.DeltasRejected, m.ID, m.Region)
		counter(descDropped, m.DeltasDropped, m.ID, m.Region)
		counter(descSync, m.SyncSessions, m.ID, m.Region)
	}
}
