package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/geocache/geocache/node"
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
	descReadThrough = prometheus.NewDesc("geocache_read_through_total",
		"Local misses sent to the nearest peers, by result: hit (filled from a peer) or miss (no peer had it in time).",
		[]string{"result"}, nil)
	descOriginLoads = prometheus.NewDesc("geocache_origin_loads_total",
		"Loader (origin) calls made by this node to fill misses (GetOrLoad, or GET with --origin); successful or not.", nil, nil)
	descLag = prometheus.NewDesc("geocache_replication_lag_seconds",
		"Smoothed delay between a peer's write and its apply here.", []string{"peer", "region"}, nil)
	descBehind = prometheus.NewDesc("geocache_replication_behind_writes",
		"This node's writes a peer has not acknowledged yet.", []string{"peer", "region"}, nil)
	descRTT = prometheus.NewDesc("geocache_peer_rtt_seconds",
		"Smoothed libp2p round-trip time to a peer.", []string{"peer", "region"}, nil)
	descPeerUp = prometheus.NewDesc("geocache_peer_connected",
		"1 if the peer has a live connection.", []string{"peer", "region"}, nil)
	descDeltas = prometheus.NewDesc("geocache_deltas_total",
		"Replication deltas by outcome: sent (gossip), applied (won), stale (lost to a newer version or a tombstone), duplicate.",
		[]string{"outcome"}, nil)
	descRejected = prometheus.NewDesc("geocache_deltas_rejected_total",
		"Remote deltas refused, by reason: malformed (or from a disallowed peer) or clock_skew (timestamp too far ahead).",
		[]string{"reason"}, nil)
	descDropped = prometheus.NewDesc("geocache_deltas_dropped_total",
		"Local deltas dropped because the outbound queue was full (anti-entropy repairs them).", nil, nil)
	descSync = prometheus.NewDesc("geocache_sync_sessions_total",
		"Anti-entropy sync sessions run with peers.", nil, nil)
	descSyncFailed = prometheus.NewDesc("geocache_sync_failures_total",
		"Anti-entropy sync sessions that failed.", nil, nil)
	descReceived = prometheus.NewDesc("geocache_deltas_received_total",
		"Replication deltas received by path, before deduplication: gossip (a writer's batches), sync (anti-entropy sessions, snapshot entries included).",
		[]string{"path"}, nil)
	descSyncWaste = prometheus.NewDesc("geocache_sync_deltas_wasted_total",
		"Deltas anti-entropy delivered that were already here: duplicate (dot held) or stale (lost to a newer version).",
		[]string{"outcome"}, nil)
	descSyncStarts = prometheus.NewDesc("geocache_sync_starts_total",
		"Anti-entropy sessions this node opened, by reason: connect, gap, loss (a peer's own writes lost on the way), periodic.",
		[]string{"reason"}, nil)
	descSyncPaced = prometheus.NewDesc("geocache_sync_paced_total",
		"Anti-entropy repairs not started because the last session with that peer ended less than three times its length ago.",
		nil, nil)
	descPassesWaited = prometheus.NewDesc("geocache_write_passes_waited_total",
		"Write passes (an event loop's requests) and writes of the Go and HTTP APIs that waited for the gossip queue: peers read more slowly than this node writes.",
		nil, nil)
	descLogBytes = prometheus.NewDesc("geocache_replication_log_bytes",
		"Bytes held by the delta log used to repair gaps.", nil, nil)
	descClusterEvents = prometheus.NewDesc("geocache_cluster_events_total",
		"Cluster connection events: dial, dial_failure, handshake_failure, refused_peer, member_lost, "+
			"member_regained, identity_change, stale_conn_closed, gossip_reset, dropped_outbound (data messages a "+
			"member missed: its send queue was full). Each failure but dropped_outbound is also logged.", []string{"event"}, nil)
)

// cacheCollector exports the node's statistics and the per-peer cluster view.
type cacheCollector struct{ s *Server }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOps, descHits, descMisses, descEvictions, descExpirations,
		descBytes, descMaxBytes, descEntries, descStoreEntries, descTombstones, descTombstonesDropped,
		descReadThrough, descOriginLoads, descLag, descBehind, descRTT, descPeerUp, descDeltas, descRejected, descDropped, descSync, descSyncFailed, descLogBytes,
		descClusterEvents, descReceived, descSyncWaste, descSyncStarts, descSyncPaced, descPassesWaited} {
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
	counter(descReadThrough, st.RemoteHits, "hit")
	counter(descReadThrough, st.RemoteMisses, "miss")
	counter(descOriginLoads, st.OriginLoads)

	if c.s.cluster == nil {
		return
	}
	for _, m := range c.s.cluster.Members() {
		if m.Self {
			continue
		}
		up := 0.0
		if m.Connected {
			up = 1
		}
		gauge(descLag, m.Lag.Seconds(), m.PeerID, m.Region)
		gauge(descBehind, float64(m.Behind), m.PeerID, m.Region)
		gauge(descRTT, m.RTT.Seconds(), m.PeerID, m.Region)
		gauge(descPeerUp, up, m.PeerID, m.Region)
	}
	rs := c.s.cluster.ReplicationStats()
	counter(descDeltas, rs.DeltasSent, "sent")
	counter(descDeltas, rs.DeltasApplied, "applied")
	counter(descDeltas, rs.DeltasStale, "stale")
	counter(descDeltas, rs.DeltasDuplicate, "duplicate")
	counter(descRejected, rs.DeltasRejected, "malformed")
	counter(descRejected, rs.ClockSkewRejected, "clock_skew")
	counter(descDropped, rs.DeltasDropped)
	counter(descSync, rs.SyncSessions)
	counter(descSyncFailed, rs.SyncFailures)
	gauge(descLogBytes, float64(rs.LogBytes))
	counter(descReceived, rs.GossipDeltasRecv, "gossip")
	counter(descReceived, rs.SyncDeltasIn, "sync")
	counter(descSyncWaste, rs.SyncDeltasDuplicate, "duplicate")
	counter(descSyncWaste, rs.SyncDeltasStale, "stale")
	counter(descSyncStarts, rs.SyncStartsConnect, "connect")
	counter(descSyncStarts, rs.SyncStartsGap, "gap")
	counter(descSyncStarts, rs.SyncStartsLoss, "loss")
	counter(descSyncStarts, rs.SyncStartsPeriodic, "periodic")
	counter(descSyncPaced, rs.SyncPaced)
	counter(descPassesWaited, rs.PassesWaited)
	if cs, ok := c.s.cluster.(interface{ ClusterStats() node.ClusterStats }); ok {
		st := cs.ClusterStats()
		for _, e := range []struct {
			name string
			v    uint64
		}{{"dial", st.Dials}, {"dial_failure", st.DialFailures}, {"handshake_failure", st.HandshakeFailures},
			{"refused_peer", st.RefusedPeers}, {"member_lost", st.MembersLost}, {"member_regained", st.MembersRegained},
			{"identity_change", st.IdentityChanges}, {"stale_conn_closed", st.StaleConnsClosed},
			{"gossip_reset", st.GossipResets}, {"dropped_outbound", st.DroppedOutbound}} {
			counter(descClusterEvents, e.v, e.name)
		}
	}
}
