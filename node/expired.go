package node

import (
	"sync"
	"time"

	"github.com/geocache/geocache/crdt"
)

// Expiries a snapshot must carry. Anti-entropy falls back to a snapshot of the live entries when
// its delta log no longer covers a peer's gap, and then marks the writers' seqs as held by the
// peer (adopt). A write that expired here is no longer an entry, so a snapshot alone would never
// tell the peer about it: a peer holding an older value of the key (written in a region cut off
// when the newer write happened) would keep that value for good. Found by the testnet's CI
// scenario and reproduced by TestExpiredNewerWriteReachesPeerBySnapshot. So the node remembers
// the keys and versions of writes that expired here, bounded in number and age, and a snapshot
// ships each as a delete tombstone of that version already expired: the peer's older value
// loses to it, and nothing is stored.

// maxRecentExpiries bounds the expiries remembered; the oldest go first. Beyond it a snapshot
// may miss an expiry, leaving the gap above (documented, counted by nothing: it needs a snapshot,
// an older value elsewhere and more than this many expiries within TombstoneTTL).
const maxRecentExpiries = 1 << 16

type expiredRec struct {
	key string
	ver crdt.Version
	seq uint64
	at  int64 // unix ms when it was seen expired here
	// heldAt is when (unix ms) pruneExpired first found every member holding the write; 0
	// until then.
	heldAt int64
}

// recentExpiries is a FIFO of expired writes, bounded by maxRecentExpiries and by age. Dropping
// from the front leaves the backing array's head unused until append reallocates, so the memory
// held is at most about twice the bound.
type recentExpiries struct {
	mu sync.Mutex
	q  []expiredRec // oldest first
}

func (r *recentExpiries) add(rec expiredRec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.q = append(r.q, rec)
	if len(r.q) > maxRecentExpiries {
		r.q[0] = expiredRec{}
		r.q = r.q[1:]
	}
}

// dropIf removes the expiries for which held reports true (it may update them), keeping the
// order, and gives memory back as shrinkLocked does.
func (r *recentExpiries) dropIf(held func(*expiredRec) bool) (dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.q[:0]
	for i := range r.q {
		if !held(&r.q[i]) {
			kept = append(kept, r.q[i])
		}
	}
	dropped = len(r.q) - len(kept)
	clear(r.q[len(kept):])
	r.q = kept
	r.shrinkLocked()
	return dropped
}

// shrinkLocked moves the records to a fresh array when they fill less than a quarter of the
// old one, and drops an empty one, so that an emptied FIFO gives its memory back. r.mu held.
func (r *recentExpiries) shrinkLocked() {
	switch {
	case len(r.q) == 0:
		r.q = nil
	case cap(r.q) >= 64 && len(r.q) < cap(r.q)/4:
		r.q = append([]expiredRec(nil), r.q...)
	}
}

// dropBeforeLocked drops the expiries seen before minAt: a prefix, oldest first. r.mu held.
func (r *recentExpiries) dropBeforeLocked(minAt int64) {
	i := 0
	for i < len(r.q) && r.q[i].at < minAt {
		r.q[i] = expiredRec{}
		i++
	}
	r.q = r.q[i:]
}

func (r *recentExpiries) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.q)
}

// expiryPruneInterval is how often the janitor drops the expiries every member holds.
const expiryPruneInterval = 5 * time.Second

// pruneExpired drops the remembered expiries of writes every member has held for SaveInterval
// (plus one prune interval): a snapshot sent to a member needs no tombstone for a write it
// holds, since it can hold no older value of the key that the write would have to beat — and
// after a save interval not even in the snapshot it would restart from after a crash (a
// member with a longer --save-interval than ours is not covered). Without this the FIFO kept
// up to maxRecentExpiries records (~4 MiB) long after the keys were gone (the soak's memory
// after expiry). A member not yet heard from, or whose vector we lack, keeps everything; so
// does a node that is not ready (it may not know every member yet).
func (r *replicator) pruneExpired(nowMs int64) int {
	if !r.n.Ready() || r.n.expired.len() == 0 {
		return 0
	}
	var members []string
	if r.cfg.Members != nil {
		members = r.cfg.Members() // outside r.mu: the catalog takes its own locks
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	vecs := make([]*crdt.Vector, 0, len(r.peers))
	for _, id := range members {
		if p := r.peers[id]; p == nil || p.vector == nil {
			return 0
		}
	}
	for _, p := range r.peers {
		if r.leftComplete(p) {
			continue
		}
		if p.vector == nil {
			return 0
		}
		vecs = append(vecs, p.vector)
	}
	hold := (r.n.cfg.SaveInterval + expiryPruneInterval).Milliseconds()
	return r.n.expired.dropIf(func(x *expiredRec) bool {
		if x.heldAt == 0 {
			d := crdt.Dot{Replica: x.ver.Replica, Seq: x.seq}
			for _, v := range vecs {
				if !v.Contains(d) {
					return false
				}
			}
			x.heldAt = nowMs
		}
		return nowMs-x.heldAt >= hold
	})
}

// since returns the expiries seen at or after minAt, oldest first, dropping older ones.
func (r *recentExpiries) since(minAt int64) []expiredRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropBeforeLocked(minAt)
	return append([]expiredRec(nil), r.q...)
}

// prune drops the expiries seen before minAt (a snapshot would skip them: since) and, when the
// FIFO is mostly empty, gives back its backing array: called on the janitor's tick, so that the
// memory goes when the keys have (the FIFO was pruned only when a snapshot was built, and held
// 3.9 MiB after every key of the soak had expired: docs/benchmarks.md).
func (r *recentExpiries) prune(minAt int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropBeforeLocked(minAt)
	r.shrinkLocked()
}
