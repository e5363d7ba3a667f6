package main

import (
	"context"
	"runtime/debug"
	"time"
)

// Returning memory after the store shrinks. The Go runtime gives freed heap back to the OS only
// after a collection, and then gradually: the background scavenger keeps about the heap goal
// (twice the live heap) mapped, and an idle process collects only every two minutes. So a node
// whose keys expired or were deleted en masse stayed near its peak RSS for minutes: in the
// geobench soak (10k ops/s with 30–60 s TTLs) nodes sat at 89 MiB three minutes after every
// key had expired, having grown from 36 to 101 MiB under the load (16–28 % returned), while
// redis-server's allocator gave back 52–60 % of its growth. When the store's charged bytes fall
// to half of their peak since the last release, by at least releaseMin, the daemon forces a
// collection and returns the freed memory at once (debug.FreeOSMemory). Under a steady load the
// store does not halve, so this never runs on the hot path's account.

const (
	// releaseEvery is how often the store's size is checked, and so the closest two releases
	// can be: a forced collection costs a full mark of the live heap.
	releaseEvery = 10 * time.Second
	// releaseMin is the least shrink worth a forced collection. Small, because a wave of
	// expiries halves the store several times in a row while the heap still holds the
	// collector's headroom over all of it (soak: 12 MiB of store, released at 6, 3 and 1.5).
	releaseMin = 1 << 20
)

// shrinkWatch decides when a shrink of the store is worth returning memory for. It is fed the
// store's charged bytes once per check; not safe for concurrent use.
type shrinkWatch struct {
	peak int64 // highest size since the last release
}

// observe records the store's size and reports whether memory should be returned now: the
// size fell to half of the peak or below, by at least releaseMin.
func (w *shrinkWatch) observe(bytes int64) bool {
	if bytes >= w.peak {
		w.peak = bytes
		return false
	}
	if bytes > w.peak/2 || w.peak-bytes < releaseMin {
		return false
	}
	w.peak = bytes
	return true
}

// returnMemory checks the store's size every releaseEvery until ctx is done, returning memory
// to the OS when shrinkWatch says so.
func (d *daemon) returnMemory(ctx context.Context) {
	t := time.NewTicker(releaseEvery)
	defer t.Stop()
	var w shrinkWatch
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if st := d.node.Stats(); w.observe(st.Bytes) {
			debug.FreeOSMemory()
			d.log.Debug("returned freed memory to the OS", "store_bytes", st.Bytes)
		}
	}
}
