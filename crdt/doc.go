// Package crdt holds the replication core of geocache: hybrid logical
// clocks, versions and dots, the LWW-register and counter entries and their
// merge rule,
// version vectors for anti-entropy, and the binary wire codec.
//
// # Model
//
// Every write is stamped with a [Version]: an HLC [Timestamp] (48-bit wall
// milliseconds, 16-bit logical counter) and the [ReplicaID] of the writer.
// Versions are totally ordered (timestamp first, then replica id), so the
// register value with the highest version wins everywhere. [Merge] is the
// only conflict rule: higher wins ([Applied]), equal is a no-op
// ([Duplicate]), lower is dropped ([Stale]). Because it is a max over a total
// order it is commutative, associative and idempotent, which is what makes
// gossip delivery order, duplicates and relays irrelevant to the final state.
// Deletes are entries with [FlagTombstone], ordinary LWW writes, so an older
// write that arrives late loses to the tombstone and never resurrects a key.
//
// A [TypeCounter] entry holds a [Counter]: a PN-counter (one running total
// per replica, merged by the replica's highest seq) started from a base,
// the register it replaced. Against registers it follows the observed-reset
// order: a register wins over a counter whose base version is lower (the
// increments had not seen it) and loses to the counter started from it or
// from a newer one. [Merge] applies this when either side is a counter; it
// stays commutative, associative and idempotent over both types.
//
// Each write also carries a dot (writer replica, sequence number counting
// from 1 per process start). A [Vector] records which dots a node has
// applied as a contiguous prefix per replica plus a bounded set of
// out-of-order dots; [Vector.Missing] tells a sync peer exactly which dot
// ranges to send. The HLC of the write at each replica's prefix is kept so
// the minimum over live replicas gives the causally stable time used to
// collect tombstones.
//
// The codec ([AppendBatch], [DecodeBatch], [AppendVector], [DecodeVector])
// is a versioned binary format. Frames start with [WireMagic], [WireVersion]
// and a [Kind] byte, every entry carries a [Type] tag, so new frame kinds
// and new CRDT types can be added without breaking old frames.
// Decoders treat input as hostile: every length is checked against
// [Limits] and against the remaining input before anything is allocated,
// and decoded values never alias the input buffer.
//
// # Concurrency and purity
//
// The package does no I/O, starts no goroutines and never reads the wall
// clock: physical time is passed in as unix milliseconds, so tests drive
// hours of clock behaviour instantly and deterministically. [Clock] and
// [Vector] are not safe for concurrent use; the owner (the node) guards each
// with its own mutex. Everything else is either an immutable value or a pure
// function and may be used from any goroutine. There is no package-level
// mutable state, so any number of nodes can share one process.
package crdt
