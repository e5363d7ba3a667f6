package node

import (
	"errors"

	"github.com/geocache/geocache/lru"
)

// The memory bound at run time (Redis's CONFIG SET maxmemory). Config.MaxMemory is the bound
// at start; SetMaxMemory moves it. What follows the bound:
//
//   - the store's byte bound and its per-shard shares (lru Store.SetMaxBytes): shrinking evicts
//     least-recently-used entries down to it at once, as a write over the bound does (local
//     tombstones, counted in Stats.Evictions, listed as evicted keys), collections included:
//     a hash, set or sorted set is one entry, charged what it holds, and is evicted whole;
//   - the largest collection a write may grow (collTooBig reads the store's bound);
//   - Stats.MaxMemory, and so INFO memory, CONFIG GET maxmemory and geocache_max_bytes;
//   - Config.OnMaxMemory, through which the daemon moves the Go runtime's memory limit.
//
// What does not: the number of store shards, chosen from the start bound (a store grown far
// beyond it holds at most about a million entries per shard), and the replication budget
// sized at start from it (budget.go): the delta log's ceiling and the evicted-keys table. The
// log is sized by the data held below its ceiling, so it shrinks with the data; the two are at
// most 16 MiB each.
//
// 0 means no bound, as maxmemory 0 does in Redis: the store evicts nothing (but its shards'
// entry capacity). Config.MaxMemory's 0 means the default instead, as every Config field's
// does; a bound of 0 is reached only at run time.
//
// A bound too small for the store to hold even the smallest entry (below 83 bytes with 32
// shards: minEntryBytes against lru MaxEntryBytesAt) is not one the store can be evicted down
// to: it would empty the node and then drop every write as it is stored. The node takes it as
// Redis with its default policy (noeviction) takes a bound below its used memory, the way
// Redis's own tests use maxmemory 1: out of memory (OutOfMemory), the data kept and served,
// writes refused by the RESP server (OOM), until a bound that can hold an entry is set. The
// store meanwhile keeps the last such bound, which replicated writes (and scripts flagged
// allow-oom) still obey; the node's own write methods do not check OutOfMemory.

// minEntryBytes is the charge of the smallest entry the store can hold: a one-byte key with an
// empty value.
var minEntryBytes = int64(lru.EntryOverhead + allocSize(2) + valueOverhead)

// MaxMemory returns the current memory bound: Config.MaxMemory, or what SetMaxMemory last set
// (0: unbounded).
func (n *Node) MaxMemory() int64 {
	if b := n.oomBound.Load(); b > 0 {
		return b
	}
	return n.store.MaxBytes()
}

// SetMaxMemory changes the memory bound to maxMemory bytes (0: unbounded) at run time and
// returns how many entries it evicted to get within it. See Config.MaxMemory: keys, values and
// the per-entry overhead count against it. Evictions are local and never replicated. A bound
// too small for any entry evicts nothing and puts the node out of memory (OutOfMemory; see
// above). Calls are serialised; Config.OnMaxMemory is called with the store's new bound before
// SetMaxMemory returns, when it changes.
func (n *Node) SetMaxMemory(maxMemory int64) (evicted int, err error) {
	if n.closed.Load() {
		return 0, ErrClosed
	}
	if maxMemory < 0 {
		return 0, errors.New("node: MaxMemory must not be negative")
	}
	// The lock orders the store's changes and the hook's calls alike, so that the hook's last
	// call always carries the bound in force. The hook is the embedder's, called under it: it
	// must not call SetMaxMemory.
	n.memMu.Lock()
	defer n.memMu.Unlock()
	if maxMemory > 0 && n.store.MaxEntryBytesAt(maxMemory) < minEntryBytes {
		n.oomBound.Store(maxMemory)
		return 0, nil
	}
	evicted, err = n.store.SetMaxBytes(maxMemory)
	if err != nil {
		return 0, err
	}
	n.oomBound.Store(0)
	if n.cfg.OnMaxMemory != nil {
		n.cfg.OnMaxMemory(maxMemory)
	}
	return evicted, nil
}

// OutOfMemory reports whether the memory bound set last is too small for the store to keep any
// entry (see above): the RESP server then refuses writes as Redis does over maxmemory (OOM).
func (n *Node) OutOfMemory() bool { return n.oomBound.Load() > 0 }
