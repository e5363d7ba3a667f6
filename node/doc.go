// Package node is the embeddable geocache node: a bounded LRU cache of last-writer-wins
// registers, stamped with a hybrid logical clock, that accepts reads and writes locally.
//
// # Model
//
// Every key holds one register (crdt.Entry): value, absolute expiry, version (HLC timestamp,
// replica id) and dot (replica id, sequence). A local write is stamped with a version greater
// than the one it replaces, applied with one atomic compare-and-apply on the store, and handed to
// replication as a delta. Deletes are replicated tombstones kept as entries for
// Config.TombstoneTTL; evictions and expiries are local and leave local tombstones (key hash and
// timestamp) so a late, older delta cannot re-insert a stale value.
//
// # Persistence
//
// With Config.DataDir the node saves its cache (entries, delete tombstones, version vector,
// flush marker, a tombstone floor) to DataDir/cache.snap on Close and periodically, and loads it
// in the background when it starts; until then Ready is false and data operations return
// ErrLoading. See persist.go and snapshot.go.
//
// # Concurrency
//
// All methods of Node are safe for concurrent use. Node owns its goroutines (a janitor that
// reclaims expired entries without reads and collects stable tombstones); Close stops them and
// waits. User code (a Loader, a Codec) is never called under a lock.
//
// # Transactions
//
// Atomic and AtomicAll run a function with the store locks of a set of keys (or of every
// shard) held, taken in shard order; other operations hold one shard lock at a time, so no
// deadlock is possible and no other goroutine sees part of a transaction. The function works
// through a Tx and must not call the Node. A transaction's writes share one dot and are
// replicated as one unit that every peer applies under the locks of its keys; conflicts are
// still resolved per key (LWW). The function is the caller's code run under locks: it must be
// short, and it is the one exception to the rule above.
package node
