package node

import (
	"sync"

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

// since returns the expiries seen at or after minAt, oldest first, dropping older ones.
func (r *recentExpiries) since(minAt int64) []expiredRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0
	for i < len(r.q) && r.q[i].at < minAt {
		r.q[i] = expiredRec{}
		i++
	}
	r.q = r.q[i:]
	return append([]expiredRec(nil), r.q...)
}

// prune drops the expiries seen before minAt (a snapshot would skip them: since) and, when the
// FIFO is mostly empty, gives back its backing array: called on the janitor's tick, so that the
// memory goes when the keys have (the FIFO was pruned only when a snapshot was built, and held
// 3.9 MiB after every key of the soak had expired: docs/benchmarks.md).
func (r *recentExpiries) prune(minAt int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0
	for i < len(r.q) && r.q[i].at < minAt {
		r.q[i] = expiredRec{}
		i++
	}
	r.q = r.q[i:]
	if len(r.q) == 0 {
		r.q = nil
	} else if cap(r.q) >= 64 && len(r.q) < cap(r.q)/4 {
		r.q = append([]expiredRec(nil), r.q...)
	}
}
