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
// collection and returns the freed memory at once (debug.FreeOSMemory), and once more
// releaseFollowUp later if the store has not grown again. Under a steady load the
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

// releaseFollowUp is how long after a release the daemon returns memory once more if the store
// has not grown meanwhile: what the node frees some time after the keys go — the remembered
// expiries, dropped a save interval (1 min by default) after every member holds the write
// (node/expired.go) — is otherwise returned only after the next collection, which an idle
// process runs every two minutes and which the scavenger then follows gradually.
const releaseFollowUp = 90 * time.Second

// shrinkWatch decides when a shrink of the store is worth returning memory for. It is fed the
// store's charged bytes once per check; not safe for concurrent use.
type shrinkWatch struct {
	peak int64 // highest size since the last release
	// followAt is when to return memory once more after the last release (zero: not due),
	// unless the store has grown by releaseMin over followBase, its size at that release.
	followAt   time.Time
	followBase int64
}

// observe records the store's size at now and reports whether memory should be returned: the
// size fell to half of the peak or below, by at least releaseMin; or releaseFollowUp has
// passed since such a release and the store has not grown since.
func (w *shrinkWatch) observe(bytes int64, now time.Time) bool {
	if !w.followAt.IsZero() {
		switch {
		case bytes >= w.followBase+releaseMin:
			w.followAt = time.Time{} // growing again: what was freed is being reused
		case !now.Before(w.followAt):
			w.followAt = time.Time{}
			w.peak = bytes
			return true
		}
	}
	if bytes >= w.peak {
		w.peak = bytes
		return false
	}
	if bytes > w.peak/2 || w.peak-bytes < releaseMin {
		return false
	}
	w.peak = bytes
	w.followAt, w.followBase = now.Add(releaseFollowUp), bytes
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
		if st := d.node.Stats(); w.observe(st.Bytes, time.Now()) {
			debug.FreeOSMemory()
			d.log.Debug("returned freed memory to the OS", "store_bytes", st.Bytes)
		}
	}
}
