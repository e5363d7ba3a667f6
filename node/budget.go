package node

// The memory budget: what grows with traffic is sized from Config.MaxMemory or bounded by a
// small constant, so that a process given MaxMemory stays within 1.5 × MaxMemory + 32 MiB of
// RSS under a sustained write flood (docs/design.md, "Memory budget"). The store holds
// MaxMemory; beside it:
//
//   - the delta log: logBytesFor(MaxMemory), a sixty-fourth of it, between 1 and 16 MiB;
//   - the evicted-keys table: 16 bytes per KiB of MaxMemory, 64 KiB to 16 MiB (evicted.go);
//   - the outbound gossip queue: at most 65536 deltas (replConfig.QueueSize);
//   - each member's data send queue: gossipQueueMessages messages, a message being one batch of
//     up to 64 deltas, plus 64 KiB of write and read buffer per data stream and a yamux window
//     of at most 4 MiB per stream (node/internal/cluster, direct.go and host.go).
const (
	minLogBytes = 1 << 20
	maxLogBytes = 16 << 20

	// gossipQueueMessages bounds each member's data send queue (and gossipsub's, for the catalog).
	// 512 batches of 64 deltas is 32k deltas, ~5 MiB with 100-byte values; a full queue drops
	// (counted) and anti-entropy repairs from the delta log.
	gossipQueueMessages = 512
)

// logBytesFor is the delta log bound for a store of maxMemory bytes: a sixty-fourth of it (16
// MiB from 1 GiB up). A plain write is logged as a reference of 28 bytes plus its key (the value
// is re-read from the store, deltalog.go), so 16 MiB holds ~370k writes of 16-byte keys — about
// what 64 MiB held as copies of 100-byte values. A gap the log does not cover is repaired by a
// snapshot of the uncovered writers' entries.
func logBytesFor(maxMemory int64) int {
	return int(min(max(maxMemory/64, minLogBytes), maxLogBytes))
}
