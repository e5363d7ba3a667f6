package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/geocache/geocache/node/resp"
)

var (
	descRESPConns = prometheus.NewDesc("geocache_resp_connections",
		"Open RESP connections.", nil, nil)
	descRESPConnsTotal = prometheus.NewDesc("geocache_resp_connections_total",
		"RESP connections accepted.", nil, nil)
	descRESPRejected = prometheus.NewDesc("geocache_resp_connections_rejected_total",
		"RESP connections refused at --max-clients.", nil, nil)
	descRESPBlocked = prometheus.NewDesc("geocache_resp_blocked_clients",
		"RESP connections blocked in WAIT.", nil, nil)
	descRESPCommands = prometheus.NewDesc("geocache_resp_commands_total",
		"RESP commands processed.", nil, nil)
	descRESPProtoErrors = prometheus.NewDesc("geocache_resp_protocol_errors_total",
		"RESP connections closed for malformed input or oversized requests.", nil, nil)
)

// respCollector exports the RESP server's counters on /metrics.
type respCollector struct{ s *resp.Server }

func (c respCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRESPConns, descRESPConnsTotal, descRESPRejected,
		descRESPBlocked, descRESPCommands, descRESPProtoErrors} {
		ch <- d
	}
}

func (c respCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(descRESPConns, prometheus.GaugeValue, float64(st.Connected))
	ch <- prometheus.MustNewConstMetric(descRESPConnsTotal, prometheus.CounterValue, float64(st.ConnectionsTotal))
	ch <- prometheus.MustNewConstMetric(descRESPRejected, prometheus.CounterValue, float64(st.ConnectionsRejected))
	ch <- prometheus.MustNewConstMetric(descRESPBlocked, prometheus.GaugeValue, float64(st.Blocked))
	ch <- prometheus.MustNewConstMetric(descRESPCommands, prometheus.CounterValue, float64(st.Commands))
	ch <- prometheus.MustNewConstMetric(descRESPProtoErrors, prometheus.CounterValue, float64(st.ProtocolErrors))
}
