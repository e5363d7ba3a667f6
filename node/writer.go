package node

import (
	"unsafe"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// writer is where a read-modify-write runs: the node itself (each key under its own store lock
// for the one operation, the write replicated on its own) or a transaction (the keys locked for
// its whole run, its writes replicated as one unit). Operations written against it (IncrBy,
// Modify, RENAME and COPY) behave the same in and out of MULTI/EXEC and scripts.
type writer interface {
	// apply is the store's compare-and-apply for key.
	apply(key string, nowMs int64, fn func(cur lru.Current[value]) lru.Update[value])
	// peek reads key without touching its recency.
	peek(key string, nowMs int64) (value, int64, bool)
	// get reads key and marks it recently used.
	get(key string, nowMs int64) (value, int64, bool)
	// stamp stamps a local write replacing cur (a fresh version and a dot), under key's lock.
	stamp(nowMs int64, cur *lru.Current[value], data []byte, flags crdt.Flags) value
	// version issues the version and dot seq of a local write above after (stamp without the
	// value, for writes that build their own).
	version(nowMs int64, after crdt.Timestamp) (crdt.Version, uint64)
	// emit hands a written entry to replication, after apply returned.
	emit(key string, e crdt.Entry)
}

// nodeWriter runs operations directly on the node.
type nodeWriter struct{ n *Node }

func (w nodeWriter) apply(key string, nowMs int64, fn func(cur lru.Current[value]) lru.Update[value]) {
	w.n.store.Do(key, nowMs, fn)
}

func (w nodeWriter) peek(key string, nowMs int64) (value, int64, bool) {
	return w.n.store.Peek(key, nowMs)
}

func (w nodeWriter) get(key string, nowMs int64) (value, int64, bool) {
	return w.n.store.Get(key, nowMs)
}

func (w nodeWriter) version(nowMs int64, after crdt.Timestamp) (crdt.Version, uint64) {
	return w.n.stamp(nowMs, after)
}

func (w nodeWriter) stamp(nowMs int64, cur *lru.Current[value], data []byte, flags crdt.Flags) value {
	return w.n.newValue(nowMs, cur, data, flags)
}

func (w nodeWriter) emit(key string, e crdt.Entry) { w.n.emit(key, e) }

// txWriter runs operations inside a transaction: its locks, its clock reading, its dot.
type txWriter struct{ tx *Tx }

func (w txWriter) apply(key string, nowMs int64, fn func(cur lru.Current[value]) lru.Update[value]) {
	w.tx.l.Do(key, nowMs, fn)
}

func (w txWriter) peek(key string, nowMs int64) (value, int64, bool) {
	return w.tx.l.Peek(key, nowMs)
}

func (w txWriter) get(key string, nowMs int64) (value, int64, bool) {
	return w.tx.l.Get(key, nowMs)
}

func (w txWriter) version(_ int64, after crdt.Timestamp) (crdt.Version, uint64) {
	ver, seq := w.tx.n.stampSeq(w.tx.nowMs, after, w.tx.seq)
	w.tx.seq = seq
	return ver, seq
}

func (w txWriter) stamp(_ int64, cur *lru.Current[value], data []byte, flags crdt.Flags) value {
	return w.tx.write(cur, data, flags)
}

func (w txWriter) emit(key string, e crdt.Entry) { w.tx.record(key, e) }

// Warm brings the store's index entries of keys into the processor's caches, their cache
// misses overlapping (lru.Cache.Warm), for a front end about to run a pipeline of commands on
// them: each command then finds its key without waiting on memory. It changes nothing and does
// not retain keys.
func (n *Node) Warm(keys []string) { n.store.Warm(keys) }

// WarmReads is Warm for a pipeline of reads (GETs): it also loads each present string value's
// bytes, which the replies copy (value.warm).
func (n *Node) WarmReads(keys []string) { n.store.WarmReads(keys) }

// warm loads a string value's bytes, for WarmReads (lru.Options.WarmValue): a GET copies them into
// its reply, and in a large store they are a cache miss of their own after the entry's (a
// profile of GET -P 16 on 100k keys: 17 % of a node's CPU in that copy). One byte per cache
// line of the first warmValueMax bytes: a reply is copied from its first bytes on.
func (v *value) warm() uint64 {
	if v.isObj() || v.n == 0 {
		return 0
	}
	n := min(uintptr(v.n), warmValueMax)
	sum := uint64(*(*byte)(unsafe.Add(v.p, n-1)))
	for off := uintptr(0); off < n; off += 64 {
		sum += uint64(*(*byte)(unsafe.Add(v.p, off)))
	}
	return sum
}

// warmValueMax bounds the bytes of a value warm loads: beyond a few lines the copy streams and
// the hardware prefetcher keeps up.
const warmValueMax = 256

// warmMinEntries is the store size from which warming keys pays: below it the index and the
// entries a pipeline touches stay in the processor's caches, and a warming pass only costs
// (a profile of GET misses -P 16 on a near-empty node: 11 % of its CPU in warmPipeline).
const warmMinEntries = 1 << 15

// Warming reports whether Warm is worth calling: the store held at least warmMinEntries at
// the janitor's last pass, or a collection of at least crdt.WarmMinElems was written since
// (collValue: its elements are worth warming, WarmElems).
func (n *Node) Warming() bool { return n.warming.Load() }
