package node

import (
	"sync"
	"sync/atomic"

	"github.com/geocache/geocache/crdt"
)

// replicaTable interns the writer ids of the values a node stores, so that a stored value
// carries a 24-bit index instead of the 64-bit id (value.bits): that makes the value 32 bytes
// and the store's slab entry 64 instead of 72, 8 bytes per key. Ids are added, never removed,
// for the process's lifetime: one per writer incarnation whose writes this node stored (a node
// draws a fresh id at every start), a few per member in a healthy cluster; heartbeats and
// hellos already refuse vectors of more than crdt.DefaultMaxReplicas (16384) replicas. The
// table holds maxReplicaIndex+1 ids; a write by a further one is refused (not stored, counted in
// full).
//
// Safe for concurrent use: id is lock-free (a value's index was published before the value
// reached the store, and the store's lock orders the reader after it); index is a sync.Map
// read for a known id; adding takes mu.
type replicaTable struct {
	self   crdt.ReplicaID // index 0, found without the map: every local write is by self
	mu     sync.Mutex
	byID   sync.Map // crdt.ReplicaID -> uint32
	n      atomic.Uint32
	chunks [maxReplicaIndex/replicaChunk + 1]atomic.Pointer[[replicaChunk]crdt.ReplicaID]
	full   atomic.Uint64 // ids refused because the table was full
}

const (
	replicaBits     = 24
	maxReplicaIndex = 1<<replicaBits - 1
	replicaChunk    = 1 << 12
)

// newReplicaTable makes a table whose index 0 is self.
func newReplicaTable(self crdt.ReplicaID) *replicaTable {
	t := &replicaTable{self: self}
	t.index(self)
	return t
}

// id returns the replica id at index i (interned before).
func (t *replicaTable) id(i uint32) crdt.ReplicaID {
	return t.chunks[i/replicaChunk].Load()[i%replicaChunk]
}

// index returns r's index, adding it; false when r is new and the table is full.
func (t *replicaTable) index(r crdt.ReplicaID) (uint32, bool) {
	if r == t.self && t.n.Load() > 0 {
		return 0, true
	}
	if i, ok := t.byID.Load(r); ok {
		return i.(uint32), true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.byID.Load(r); ok {
		return i.(uint32), true
	}
	i := t.n.Load()
	if i > maxReplicaIndex {
		t.full.Add(1)
		return 0, false
	}
	c := t.chunks[i/replicaChunk].Load()
	if c == nil {
		c = new([replicaChunk]crdt.ReplicaID)
		t.chunks[i/replicaChunk].Store(c)
	}
	c[i%replicaChunk] = r
	t.n.Store(i + 1)
	t.byID.Store(r, i)
	return i, true
}
