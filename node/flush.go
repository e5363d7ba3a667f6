package node

import (
	"context"

	"github.com/geocache/geocache/crdt"
)

// Flush removes every key written before it — live values, delete tombstones, expired entries —
// here and, by replication, in every region: Redis's FLUSHALL and FLUSHDB. It writes one flush
// marker (a crdt.TypeFlush delta) stamped with a fresh version F; every node that applies it
// removes the entries stamped at or before F's timestamp and refuses any later-arriving write
// stamped at or before it. Writes stamped after F survive wherever they were made, so the result
// is the same on every node whatever the order in which flushes and writes arrive, during
// partitions too. It returns how many entries it removed here.
func (n *Node) Flush(ctx context.Context) (int, error) {
	if err := n.check(ctx); err != nil {
		return 0, err
	}
	nowMs := n.nowMs()
	n.flushMu.Lock()
	after := n.flushed.Version.TS
	n.flushMu.Unlock()
	// stamp advances the HLC past F, so every later local write is stamped after the flush.
	ver, seq := n.stamp(nowMs, after)
	e := crdt.Entry{Type: crdt.TypeFlush, Version: ver, Seq: seq}
	removed, _ := n.applyFlush(&e)
	n.emit("", e)
	return removed, nil
}

// applyFlush applies a flush marker (local or remote; the caller has made our clock observe its
// timestamp): if it is newer than the last one applied it becomes the flush floor and every
// entry stamped at or before it is removed. It reports how many entries went and whether the
// marker was newer.
func (n *Node) applyFlush(e *crdt.Entry) (int, bool) {
	n.flushMu.Lock()
	defer n.flushMu.Unlock()
	if !n.flushed.Version.Less(e.Version) {
		return 0, false
	}
	n.flushed = *e
	// Collections apply the floor to their elements: raised first, so a merge or write from
	// now on applies it, then every collection already held (flushColls).
	n.flushTS.Store(uint64(e.Version.TS))
	removed := n.store.ClearBy(uint64(e.Version.TS), func(v value) uint64 { return flushStamp(n.reps, v) })
	n.flushColls(e.Version.TS)
	return removed, true
}

// flushStamp is the timestamp a flush compares an entry by: its version, but a counter's base
// version. A counter started from a base before the flush holds increments that did not observe
// it (a region that had not heard of the flush kept incrementing), and a flush, like a DEL,
// wins over every increment that did not observe it; increments made after observing it start
// from a base above the flush floor (counterFrom).
func flushStamp(t *replicaTable, v value) uint64 {
	if v.typ() == crdt.TypeCounter {
		e := v.entry(t, 0)
		return entryFlushStamp(&e)
	}
	return uint64(v.ts)
}

// entryFlushStamp is flushStamp of an entry.
func entryFlushStamp(e *crdt.Entry) uint64 {
	if e.Type == crdt.TypeCounter {
		if c, err := crdt.CounterOf(e); err == nil {
			return uint64(c.BaseVer.TS)
		}
	}
	return uint64(e.Version.TS)
}

// flushedBefore reports whether a remote entry predates the newest flush applied here (by
// flushStamp): it must not be stored.
func (n *Node) flushedBefore(e *crdt.Entry) bool {
	f := n.flushTS.Load()
	if f == 0 {
		return false
	}
	if uint64(e.Version.TS) <= f {
		return true
	}
	return e.Type == crdt.TypeCounter && entryFlushStamp(e) <= f
}

// flushMarker returns the newest flush marker applied here and whether there is one.
func (n *Node) flushMarker() (crdt.Entry, bool) {
	n.flushMu.Lock()
	defer n.flushMu.Unlock()
	return n.flushed, n.flushed.Type == crdt.TypeFlush
}
