package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/geocache/geocache/node"
)

// Persistence is implemented by a Backend that saves its cache to disk (as *node.Node does with
// Config.DataDir); /metrics exports its snapshot statistics. It must not block.
type Persistence interface {
	PersistenceStats() node.PersistenceStats
}

var (
	descSaveSeconds = prometheus.NewDesc("geocache_snapshot_last_save_seconds",
		"Duration of the last cache snapshot save (successful or not).", nil, nil)
	descSaveBytes = prometheus.NewDesc("geocache_snapshot_last_save_bytes",
		"Size of the last snapshot file written.", nil, nil)
	descSaveKeys = prometheus.NewDesc("geocache_snapshot_last_save_entries",
		"Entries (values and delete tombstones) in the last snapshot written.", nil, nil)
	descSaveTime = prometheus.NewDesc("geocache_snapshot_last_save_timestamp_seconds",
		"Unix time of the last successful save (the start of the process before one).", nil, nil)
	descSaves = prometheus.NewDesc("geocache_snapshot_saves_total",
		"Snapshot saves by result: ok or failed.", []string{"result"}, nil)
	descChanges = prometheus.NewDesc("geocache_snapshot_changes_since_save",
		"Writes (local and replicated) not yet in a snapshot: what a kill -9 now could lose locally.", nil, nil)
	descLoading = prometheus.NewDesc("geocache_snapshot_loading",
		"1 while the snapshot is being loaded at start.", nil, nil)
	descLoadSeconds = prometheus.NewDesc("geocache_snapshot_load_seconds",
		"Duration of the snapshot load at start.", nil, nil)
)

// persistCollector exports a Persistence backend's snapshot statistics.
type persistCollector struct{ p Persistence }

func (c *persistCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSaveSeconds, descSaveBytes, descSaveKeys, descSaveTime,
		descSaves, descChanges, descLoading, descLoadSeconds} {
		ch <- d
	}
}

func (c *persistCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.PersistenceStats()
	if !st.Enabled {
		return
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descSaveSeconds, st.LastSaveDuration.Seconds())
	gauge(descSaveBytes, float64(st.LastSaveBytes))
	gauge(descSaveKeys, float64(st.LastSaveKeys))
	gauge(descSaveTime, float64(st.LastSave.UnixMilli())/1000)
	gauge(descChanges, float64(st.ChangesSinceSave))
	loading := 0.0
	if st.Loading {
		loading = 1
	}
	gauge(descLoading, loading)
	gauge(descLoadSeconds, st.LoadDuration.Seconds())
	ch <- prometheus.MustNewConstMetric(descSaves, prometheus.CounterValue, float64(st.Saves), "ok")
	ch <- prometheus.MustNewConstMetric(descSaves, prometheus.CounterValue, float64(st.Failures), "failed")
}
