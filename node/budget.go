package node

// The memory budget: what grows with traffic is sized from Config.MaxMemory or bounded by a
// small constant, so that a process given MaxMemory stays within 1.5 × MaxMemory + 32 MiB of
// RSS under a sustained write flood (docs/design.md, "Memory budget"). The store holds
// MaxMemory; beside it:
//
//   - the delta log: a sixty-fourth of the data the store holds (logBytesForData), at least
//     1 MiB and at most logBytesFor(MaxMemory), a sixty-fourth of MaxMemory up to 16 MiB;
//   - the evicted-keys table: 16 bytes per KiB of MaxMemory, 64 KiB to 16 MiB (evicted.go);
//   - the outbound gossip queue: at most 65536 deltas (replConfig.QueueSize);
//   - each member's data send queue: gossipQueueMessages messages and 4 MiB, a message being
//     one batch of up to 256 deltas and ~32 KiB of keys and values (publishFrameBytes), queued
//     in pooled 64 KiB chunks, plus 64 KiB of read buffer per data stream and a yamux window of
//     at most 4 MiB per stream (node/internal/cluster, direct.go and host.go).
//
// SetMaxMemory moves MaxMemory at run time (maxmemory.go): the store follows; the delta log's
// ceiling and the evicted-keys table stay sized by the start bound (KeptFromStart).
const (
	minLogBytes = 1 << 20
	maxLogBytes = 16 << 20

	// gossipQueueMessages bounds each member's data send queue (and gossipsub's, for the catalog).
	// The queue also holds at most 4 MiB (cluster's directQueueBytes): ~30k deltas with
	// 100-byte values; a publisher waits for room in a full queue while the member reads
	// (back-pressure, cluster.Config.PublishWait), and drops (counted) for anti-entropy to
	// repair once the member stalls.
	gossipQueueMessages = 512
)

// logBytesFor is the most the delta log may take in a store of maxMemory bytes: a sixty-fourth
// of it (16 MiB from 1 GiB up). The log is sized below that by the data held (logBytesForData).
func logBytesFor(maxMemory int64) int {
	return int(min(max(maxMemory/64, minLogBytes), maxLogBytes))
}

// logBytesForData is the delta log bound while the store holds data bytes (as it charges them):
// a sixty-fourth of the data, at least minLogBytes (the janitor applies it, sizeLog). What the
// log buys is a repair that costs the gap rather than a snapshot of the gap's writers' entries,
// which costs their data; a log in proportion to the data keeps that saving in proportion too.
// A plain write is logged as a reference of ~6 bytes plus its key (deltalog.go), so a log of a
// sixty-fourth of the data covers a gap of ~10–15 % of the keys (16-byte keys, 32- to 100-byte
// values): a larger gap is repaired by a snapshot costing at most ~10 times the repair the log
// would have served. 1M keys of 100 bytes: ~3 MiB of log (3 bytes per key) holding ~140k
// writes, where a log sized by MaxMemory alone (16 MiB at a 4 GiB limit) cost 17 bytes per key.
// An empty or small store keeps 1 MiB (~47k writes; Redis's replication backlog is 1 MiB).
func logBytesForData(data int64) int {
	return int(min(max(data/64, minLogBytes), maxLogBytes))
}

// KeptFromStart is what a node started with a bound of maxMemory bytes keeps, sized by that
// bound, when SetMaxMemory moves it: the evicted-keys table (16 bytes per KiB of the bound,
// 64 KiB to 16 MiB), allocated at the first eviction. The delta log, also sized at start,
// shrinks with the data held (logBytesForData) and is not counted. The daemon adds what this
// exceeds at the new bound to the Go runtime's memory limit, so that a limit derived from a
// much smaller bound does not fall below what the node still holds and run the collector flat
// out.
func KeptFromStart(maxMemory int64) int64 {
	return int64(evictedSlots(maxMemory)) * 16
}
