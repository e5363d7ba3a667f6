package node

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"unsafe"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// ErrWrongType is returned by an operation on a key that holds another type of value (Redis's
// WRONGTYPE).
var ErrWrongType = errors.New("node: wrong type")

// coll is a hash, set or sorted set held by the store. Its state is mutated in place, only
// inside the store's Apply for the key (so writers are serialised by the shard lock) and under
// mu, which readers holding a copy of the value take to read it.
type coll struct {
	mu  sync.RWMutex
	typ crdt.Type
	// key is the key the store holds it under (value.key, own: the store's slot keeps none);
	// set under that key's store lock.
	key  string
	hash *crdt.Hash
	set  *crdt.Set
	zset *crdt.ZSet
	// bytes is the size charged to the store, refreshed under the shard lock before each Put
	// (the store's Size function reads it there).
	bytes int
	// flushed is the newest flush marker's timestamp applied to this state (flushTo).
	flushed crdt.Timestamp
	// lost, for a partial state, is the key's floor here when it was adopted: writes stamped at
	// or below it may have been dropped by this node (evicted) and will not come again.
	lost crdt.Timestamp
	// queued: the key is in the janitor's queue of collections holding removed writes
	// (colltombs.go), so a write need not queue it again.
	queued bool
	// floorRaised: the removed-writes cap raised this state's floor since it was last shipped
	// whole; floorQueued: the key is in the janitor's queue to ship it (colltombs.go).
	floorRaised, floorQueued bool
}

// keyAt is where a collection value's key is read from (value.key: its coll's key field) and
// how much of the coll and its boxed state (newColl) a write or merge reads after the lookup,
// for the store's warm pass (lru.Options.KeyAt): it prefetches them, so that a batch of
// writes to many small collections has those misses in flight together instead of one after
// another (the coll, then the key's bytes, then the state's lines). 0 for a string value,
// whose key is right before its bytes. The type comes from the value's bits: reading the coll's
// would be the load the prefetch is for.
func (v *value) keyAt() (uintptr, uintptr) {
	if !v.isObj() {
		return 0, 0
	}
	n := unsafe.Sizeof(collWith[crdt.ZSetBox]{})
	switch v.typ() {
	case crdt.TypeHash:
		n = unsafe.Sizeof(collWith[crdt.HashBox]{})
	case crdt.TypeSet:
		n = unsafe.Sizeof(collWith[crdt.SetBox]{})
	}
	return uintptr(v.p), n
}

// maxCollection bounds one encoded collection value on the wire and in a snapshot block (the
// decoders accept values up to it). A collection larger than collPartBytes is shipped and
// saved in parts (crdt AppendParts), so a collection itself is bounded only by the store: it
// may grow to what its shard may borrow of MaxMemory (lru borrow.go; collTooBig).
const maxCollection = crdt.DefaultMaxCollection

// collPartBytes is the size of the parts a large collection is shipped and saved in: well
// within a frame (maxFrame) and a snapshot block, and a few milliseconds of a peer's apply.
const collPartBytes = 4 << 20

// collTooBig reports whether a write that may grow c is refused (ErrValueTooLarge): c is near
// the largest entry the store keeps, which would otherwise evict it whole.
func (n *Node) collTooBig(c *coll) bool {
	limit := n.store.MaxEntryBytes()
	return limit > 0 && int64(c.cost()) > limit-limit/16
}

// newColl returns an empty collection. The coll, its state and the state's element table are
// one allocation (crdt.HashBox): a write to one of many small collections then misses the
// cache once for all three, where each apart cost a dependent miss (the state's was the
// largest single cost of HSET on 100k small hashes, the table's next).
func newColl(typ crdt.Type, reset crdt.Version) *coll {
	switch typ {
	case crdt.TypeHash:
		x := &collWith[crdt.HashBox]{coll: coll{typ: typ}}
		x.hash = x.s.Init(reset)
		return &x.coll
	case crdt.TypeSet:
		x := &collWith[crdt.SetBox]{coll: coll{typ: typ}}
		x.set = x.s.Init(reset)
		return &x.coll
	default:
		x := &collWith[crdt.ZSetBox]{coll: coll{typ: typ}}
		x.zset = x.s.Init(reset)
		return &x.coll
	}
}

// collWith is a coll and its boxed state S in one allocation (newColl).
type collWith[S any] struct {
	coll
	s S
}

// decodeColl decodes a collection entry's value, into one allocation as newColl makes (a
// replica creates every collection it holds this way).
func decodeColl(typ crdt.Type, b []byte) (*coll, error) {
	var err error
	switch typ {
	case crdt.TypeHash:
		x := &collWith[crdt.HashBox]{coll: coll{typ: typ}}
		x.hash, err = x.s.Decode(b)
		return &x.coll, err
	case crdt.TypeSet:
		x := &collWith[crdt.SetBox]{coll: coll{typ: typ}}
		x.set, err = x.s.Decode(b)
		return &x.coll, err
	case crdt.TypeZSet:
		x := &collWith[crdt.ZSetBox]{coll: coll{typ: typ}}
		x.zset, err = x.s.Decode(b)
		return &x.coll, err
	}
	return &coll{typ: typ}, errBadMessage
}

func (c *coll) cost() int {
	if c == nil {
		return 0
	}
	return c.bytes
}

// The methods below are called with mu held (or the coll not yet shared).

func (c *coll) length() int {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.Len()
	case crdt.TypeSet:
		return c.set.Len()
	}
	return c.zset.Len()
}

func (c *coll) reset() crdt.Version {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.Reset()
	case crdt.TypeSet:
		return c.set.Reset()
	}
	return c.zset.Reset()
}

func (c *coll) expiry() int64 {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.Expiry()
	case crdt.TypeSet:
		return c.set.Expiry()
	}
	return c.zset.Expiry()
}

func (c *coll) size() int {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.Bytes()
	case crdt.TypeSet:
		return c.set.Bytes()
	}
	return c.zset.Bytes()
}

func (c *coll) markFull() {
	switch c.typ {
	case crdt.TypeHash:
		c.hash.MarkFull()
	case crdt.TypeSet:
		c.set.MarkFull()
	default:
		c.zset.MarkFull()
	}
}

// compact forgets the removed writes stamped before stable and caps those left (colltombs.go);
// a cap that raised the floor marks the state to be shipped whole (shipFloors).
func (c *coll) compact(stable crdt.Timestamp) {
	limit := max(elemTombCap, c.length())
	var n int
	switch c.typ {
	case crdt.TypeHash:
		n = c.hash.Collect(stable, limit)
	case crdt.TypeSet:
		n = c.set.Collect(stable, limit)
	default:
		n = c.zset.Collect(stable, limit)
	}
	if n > 0 {
		c.floorRaised = true
	}
}

func (c *coll) tombstones() int {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.Tombstones()
	case crdt.TypeSet:
		return c.set.Tombstones()
	}
	return c.zset.Tombstones()
}

// useScratch arms c's state with op's scratch delta for its type (nil op: disarms it).
func (c *coll) useScratch(op *collOp) {
	switch c.typ {
	case crdt.TypeHash:
		if op == nil {
			c.hash.UseScratch(nil)
		} else {
			c.hash.UseScratch(&op.hashScratch)
		}
	case crdt.TypeSet:
		if op == nil {
			c.set.UseScratch(nil)
		} else {
			c.set.UseScratch(&op.setScratch)
		}
	default:
		if op == nil {
			c.zset.UseScratch(nil)
		} else {
			c.zset.UseScratch(&op.zsetScratch)
		}
	}
}

// full reports whether c is a complete state; a partial one is hidden from readers.
func (c *coll) full() bool {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.Full()
	case crdt.TypeSet:
		return c.set.Full()
	}
	return c.zset.Full()
}

// flushTo applies the newest flush marker's timestamp f (FLUSHALL) if this state has not seen
// it: every element write stamped at or before f goes (crdt orCore.flushBefore).
func (c *coll) flushTo(f crdt.Timestamp) {
	if f == 0 || f <= c.flushed {
		return
	}
	c.flushed = f
	switch c.typ {
	case crdt.TypeHash:
		c.hash.FlushBefore(f)
	case crdt.TypeSet:
		c.set.FlushBefore(f)
	default:
		c.zset.FlushBefore(f)
	}
	if !c.full() && c.lost <= f && c.reset().TS <= f {
		// Everything a partial state can lack is gone with the flush: the incarnation's
		// creating write and the writes this node dropped are all stamped at or before f, and
		// later writes arrive as deltas. So it is complete.
		c.markFull()
	}
}

// copyAs returns a complete copy of c as a new incarnation written by dot (RENAME, COPY).
func (c *coll) copyAs(dot crdt.Version) *coll {
	out := &coll{typ: c.typ, flushed: c.flushed}
	switch c.typ {
	case crdt.TypeHash:
		out.hash = c.hash.CopyAs(dot)
	case crdt.TypeSet:
		out.set = c.set.CopyAs(dot)
	default:
		out.zset = c.zset.CopyAs(dot)
	}
	return out
}

// applyDelta merges an encoded delta or state of c's type and incarnation into c (with
// join's result); bad input is an error and changes nothing.
func (c *coll) applyDelta(b []byte) error {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.ApplyDelta(b)
	case crdt.TypeSet:
		return c.set.ApplyDelta(b)
	}
	return c.zset.ApplyDelta(b)
}

// warm loads what finding the elements names will read (crdt Set.Warm); mu held, or the
// key's store lock (which every writer of c holds).
func (c *coll) warm(names []string) {
	switch c.typ {
	case crdt.TypeHash:
		c.hash.Warm(names)
	case crdt.TypeSet:
		c.set.Warm(names)
	default:
		c.zset.Warm(names)
	}
}

// applyRun merges a run of encoded deltas of c's type into c (crdt Set.ApplyRun) and returns
// how many it merged from the first; mu held, under the key's store lock.
func (c *coll) applyRun(n int, src func(i int) []byte) int {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.ApplyRun(n, src, elemTombCap)
	case crdt.TypeSet:
		return c.set.ApplyRun(n, src, elemTombCap)
	}
	return c.zset.ApplyRun(n, src, elemTombCap)
}

// collRunMax bounds a run merged at once: it holds its key's shard lock, which a store batch
// holds for 64 keys (lru batchMax), so a shard's readers wait no longer than they did.
const collRunMax = 64

// collRuns follows, across the callbacks of a store batch over a replica's deltas
// (applyDeltas), the run of collection deltas to one key that the current delta is in: the
// run's first delta merges the whole run (mergeRun), and the deltas it merged are then kept
// as they are when their turn comes.
type collRuns struct {
	end    int // the end of the run the last delta looked at is in
	merged int // the deltas before it were merged by a run
}

// mergeInRun handles ds[k], a delta of a store batch over ds, with cur its key's value there,
// if it is in a run of at least two collection deltas to one key and of one type (a writer's
// SADD flood to one set): the first merges the run (mergeRun), those it merged are kept.
// handled false: ds[k] is not in such a run, and the caller merges it on its own. state[x] is
// set to won for each ds[x] that changed the key.
func (n *Node) mergeInRun(rs *collRuns, ds []crdt.Delta, k int, cur *lru.Current[value], nowMs int64, state []uint8, won uint8) (up lru.Update[value], handled bool) {
	if k < rs.merged {
		return lru.Update[value]{Action: lru.Keep}, true
	}
	if k >= rs.end {
		e := k + 1
		if ds[k].Entry.Type.IsCollection() {
			for e < len(ds) && e-k < collRunMax && ds[e].Key == ds[k].Key && ds[e].Entry.Type == ds[k].Entry.Type {
				e++
			}
		}
		rs.end = e
	}
	if rs.end-k < 2 {
		return up, false
	}
	up, m := n.mergeRun(ds[k].Key, cur, ds[k:rs.end], nowMs, state[k:], won)
	rs.merged = k + m
	return up, true
}

// mergeRun merges remote deltas ds to key, all of one collection type, under the key's store
// lock with cur its value there, and returns the update and how many of ds, from the first, it
// handled (at least one); state[x] is set to won for each ds[x] that changed the key. Deltas of
// the incarnation cur holds are merged under one lock of the collection, one compaction and
// one store update, each parsed once and their elements warmed together (crdt
// Set.ApplyRun), where each on its own paid all of that (applyRemoteColl, a replica's whole
// cost of an element write). Any other first delta is merged on its own, and ApplyRun stops
// before one it does not take: the caller's store batch looks the key up again for the rest,
// so they meet the type rule, an expiry, a full replica table as one delta alone does.
func (n *Node) mergeRun(key string, cur *lru.Current[value], ds []crdt.Delta, nowMs int64, state []uint8, won uint8) (lru.Update[value], int) {
	c := cur.Value.obj()
	m := 0
	if cur.Exists && c != nil && c.typ == ds[0].Entry.Type {
		// The deltas whose writers the replica table holds (one writer, mostly).
		var last crdt.ReplicaID
		for ; m < len(ds); m++ {
			if r := ds[m].Entry.Version.Replica; m == 0 || r != last {
				if _, ok := n.reps.index(r); !ok {
					break
				}
				last = r
			}
		}
	}
	if m > 0 {
		c.mu.Lock()
		c.compact(crdt.Timestamp(n.collStable.Load())) // as applyRemoteColl, before the merge
		m = c.applyRun(m, func(i int) []byte { return ds[i].Entry.Value })
		if m == 0 {
			c.mu.Unlock()
		}
	}
	if m == 0 {
		up, ok := n.mergeEntry(key, cur, &ds[0].Entry, nowMs)
		if ok {
			state[0] = won
		}
		return up, 1
	}
	ver, seq := cur.Value.ver(n.reps), cur.Value.seq()
	for i := range m {
		state[i] = won
		if e := &ds[i].Entry; ver.Less(e.Version) {
			ver, seq = e.Version, e.Seq
		}
	}
	c.flushTo(crdt.Timestamp(n.flushTS.Load()))
	c.compact(crdt.Timestamp(n.collStable.Load()))
	v, exp := n.collValue(c.key, c, ver, seq, nowMs)
	c.mu.Unlock()
	n.trackTombstone(cur, &v)
	return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}, m
}

// WarmElems is Warm for the elements of a pipeline of collection commands: keys[i] is the
// key of the i-th command and elems[i] its first element (its second argument, ZADD's first
// member, or ""). For every run of commands on one collection (a pipeline of SADDs to one
// set) it loads what finding their elements will read, their cache misses overlapping (crdt
// Set.Warm), so each command finds its element without waiting on memory; a small collection
// is not walked. It changes nothing and does not retain keys or elems.
func (n *Node) WarmElems(keys, elems []string) {
	nowMs := int64(-1) // read once, for the first run
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		if j-i > 1 {
			if nowMs < 0 {
				nowMs = n.nowMs()
			}
			if v, _, ok := n.store.Peek(keys[i], nowMs); ok && v.obj() != nil {
				c := v.obj()
				c.mu.RLock()
				c.warm(elems[i:j])
				c.mu.RUnlock()
			}
		}
		i = j
	}
}

// entries returns the value's state as entries of at most about collPartBytes each, in order:
// one for a small collection, parts for a large one (anti-entropy, snapshots). The encoding
// is taken under the read lock, and sent after it is released.
func (v *value) entries(t *replicaTable, expiry int64) []crdt.Entry {
	c := v.obj()
	var parts [][]byte
	c.mu.RLock()
	err := c.appendParts(collPartBytes, func(b []byte) error {
		parts = append(parts, bytes.Clone(b))
		return nil
	})
	c.mu.RUnlock()
	if err != nil {
		return nil // emit never fails
	}
	out := make([]crdt.Entry, len(parts))
	for i, p := range parts {
		out[i] = crdt.Entry{Value: p, Expiry: expiry, Version: v.ver(t), Seq: v.seq(), Type: v.typ()}
	}
	return out
}

func (c *coll) appendParts(limit int, emit func([]byte) error) error {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.AppendParts(limit, emit)
	case crdt.TypeSet:
		return c.set.AppendParts(limit, emit)
	}
	return c.zset.AppendParts(limit, emit)
}

// adopt prepares a decoded state to be stored (crdt Hash.Adopt).
func (c *coll) adopt() {
	switch c.typ {
	case crdt.TypeHash:
		c.hash.Adopt()
	case crdt.TypeSet:
		c.set.Adopt()
	default:
		c.zset.Adopt()
	}
}

// encode returns the full state's encoding (snapshots, read-through, dumps).
func (c *coll) encode() []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.encodeLocked()
}

// encodeLocked is encode with mu held.
func (c *coll) encodeLocked() []byte {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.AppendBinary(nil)
	case crdt.TypeSet:
		return c.set.AppendBinary(nil)
	}
	return c.zset.AppendBinary(nil)
}

func (c *coll) setExpiry(dot crdt.Version, at int64) appender {
	switch c.typ {
	case crdt.TypeHash:
		return c.hash.SetExpiry(dot, at)
	case crdt.TypeSet:
		return c.set.SetExpiry(dot, at)
	}
	return c.zset.SetExpiry(dot, at)
}

// appender is a delta to replicate.
type appender interface{ AppendBinary([]byte) []byte }

// typeName is what TYPE answers for a live value.
func typeName(v *value) string {
	if v.obj() == nil {
		return "string"
	}
	switch v.obj().typ {
	case crdt.TypeHash:
		return "hash"
	case crdt.TypeSet:
		return "set"
	}
	return "zset"
}

// SoleWriter reports whether this node replicates nothing (started without a cluster), so no
// other replica ever writes its keys: a command may then skip a write that changes no element
// (SADD of a present member), as Redis does. With replicas such a write must still be made: a
// re-add is a new write that wins over a concurrent remove elsewhere (add-wins).
func (n *Node) SoleWriter() bool { return n.repl == nil }

// KeyType returns Redis's TYPE of key: "none", "string", "hash", "set" or "zset".
func (n *Node) KeyType(ctx context.Context, key string) (string, error) {
	if err := n.check(ctx); err != nil {
		return "", err
	}
	v, _, ok := n.store.Peek(key, n.nowMs())
	if !ok || v.tombstone() {
		return "none", nil
	}
	return typeName(&v), nil
}

// readColl runs fn on key's live collection of type typ under its read lock. It reports false
// for an absent key and ErrWrongType for a key holding another type.
func (n *Node) readColl(ctx context.Context, key string, typ crdt.Type, fn func(c *coll)) (bool, error) {
	if err := n.check(ctx); err != nil {
		return false, err
	}
	return n.readCollVia(nodeWriter{n}, n.nowMs(), key, typ, fn)
}

// readCollVia is readColl through w (the node, or a transaction).
func (n *Node) readCollVia(w writer, nowMs int64, key string, typ crdt.Type, fn func(c *coll)) (bool, error) {
	v, _, ok := w.get(key, nowMs)
	if !ok || v.tombstone() {
		return false, nil
	}
	if v.obj() == nil || v.obj().typ != typ {
		return false, ErrWrongType
	}
	v.obj().mu.RLock()
	defer v.obj().mu.RUnlock()
	fn(v.obj())
	return true, nil
}

// updateColl read-modify-writes key's collection of type typ atomically. fn sees the state (a
// new empty one when the key is not live and create is set; fn is not called when it is not
// live and create is not set) and returns the delta it applied, or nil when it changed nothing.
// fn must call stamp, once, before changing anything: stamp issues the write's version (and,
// for a new collection, makes it the incarnation). updateColl reports whether the key was live.
func (n *Node) updateColl(ctx context.Context, key string, typ crdt.Type, create bool, fn collFn) (bool, error) {
	return n.updateCollAt(ctx, key, typ, create, fn, 0)
}

// updateCollAt is updateColl at nowMs (unix ms; 0 reads the clock).
func (n *Node) updateCollAt(ctx context.Context, key string, typ crdt.Type, create bool, fn collFn, nowMs int64) (bool, error) {
	if err := n.checkWrite(ctx); err != nil {
		return false, err
	}
	if err := n.checkKey(key); err != nil {
		return false, err
	}
	if nowMs == 0 {
		nowMs = n.nowMs()
	}
	return n.updateCollVia(nodeWriter{n}, nowMs, key, typ, create, fn)
}

// updateCollVia is updateColl through w (the node, or a transaction).
func (n *Node) updateCollVia(w writer, nowMs int64, key string, typ crdt.Type, create bool, fn collFn) (bool, error) {
	op, _ := n.collOps.Get().(*collOp)
	if op == nil {
		op = newCollOp()
	}
	op.n, op.w, op.nowMs, op.key, op.typ, op.create, op.fn = n, w, nowMs, key, typ, create, fn
	w.apply(key, nowMs, op.applyFn)
	live, err := op.live, op.err
	if op.wrote {
		n.sets.Add(1)
		w.emit(key, op.out)
	}
	*op = collOp{applyFn: op.applyFn, stampFn: op.stampFn, deltas: op.deltas}
	n.collOps.Put(op)
	return live, err
}

// collOp is one updateCollVia call: its arguments, results and the write in progress. Ops are
// reused (Node.collOps) with their two closures made once, because a write's closures and the
// variables they capture were seven allocations of each HSET/SADD/ZADD.
type collOp struct {
	n      *Node
	w      writer
	nowMs  int64
	key    string
	typ    crdt.Type
	create bool
	fn     collFn

	applyFn func(cur lru.Current[value]) lru.Update[value]
	stampFn func() crdt.Version

	// The write in progress (apply's locals, which stamp reads and writes).
	after                 crdt.Timestamp // the write's version is above it
	c                     *coll
	fresh, genesis, reuse bool
	ver                   crdt.Version
	seq                   uint64
	clearTTL              bool
	out                   crdt.Entry
	live, wrote           bool
	err                   error

	// Room for the write's delta (apply): it is only encoded and dropped, and was an
	// allocation of every write.
	hashScratch crdt.HashScratch
	setScratch  crdt.SetScratch
	zsetScratch crdt.ZSetScratch

	// deltas is the rest of a block the encodings of element deltas are cut from (encode):
	// each was an allocation of every write (3-4 % of an SADD writer's CPU, its largest
	// allocation). A delta lives until the replicator has published it, so the block is
	// dropped, not reused, once full: the collector frees it with the last delta it holds.
	deltas []byte
}

const (
	// deltaBlock is the size of a block of delta encodings; deltaRoom what one must have
	// left to take another (a larger delta is its own allocation).
	deltaBlock = 8 << 10
	deltaRoom  = 512
)

// encode returns d's encoding, cut from op's block when it fits.
func (op *collOp) encode(d appender) []byte {
	if cap(op.deltas)-len(op.deltas) < deltaRoom {
		op.deltas = make([]byte, 0, deltaBlock)
	}
	rest := op.deltas[len(op.deltas):]
	b := d.AppendBinary(rest)
	if unsafe.SliceData(b) != unsafe.SliceData(rest) {
		return b // did not fit: its own allocation
	}
	op.deltas = op.deltas[:len(op.deltas)+len(b)]
	// Capped at its length: an append to one delta must not write over the next.
	return b[:len(b):len(b)]
}

func newCollOp() *collOp {
	op := &collOp{}
	op.applyFn = op.apply
	op.stampFn = op.stamp
	return op
}

// stamp issues the write's version (see updateColl); for a new collection it makes it the
// incarnation.
func (op *collOp) stamp() crdt.Version {
	c := op.c
	op.ver, op.seq = op.w.version(op.nowMs, op.after)
	if op.fresh && !op.genesis {
		// In place: fn already holds the pointer to the empty state, and its box stays.
		switch op.typ {
		case crdt.TypeHash:
			c.hash.Restamp(op.ver)
		case crdt.TypeSet:
			c.set.Restamp(op.ver)
		default:
			c.zset.Restamp(op.ver)
		}
	}
	if op.fresh {
		c.markFull()
	}
	if op.reuse && c.expiry() != 0 {
		op.clearTTL = true
		c.setExpiry(op.ver, 0)
	}
	return op.ver
}

// apply is the write under key's store lock.
func (op *collOp) apply(cur lru.Current[value]) lru.Update[value] {
	n, typ := op.n, op.typ
	op.live = cur.Exists && !cur.Value.tombstone()
	if op.live && (cur.Value.obj() == nil || cur.Value.obj().typ != typ) {
		op.err = ErrWrongType
		return lru.Update[value]{Action: lru.Keep}
	}
	if !op.live && !op.create {
		return lru.Update[value]{Action: lru.Keep}
	}
	c := cur.Value.obj()
	// An emptied collection, or a partial one (element deltas without the whole), of this
	// type is written in place: its incarnation goes on, so adds made elsewhere that it has
	// not observed survive (add-wins). Only a Redis-visible effect differs from a fresh key:
	// its old TTL, which the write clears (the key did not exist for Redis).
	op.reuse = !op.live && cur.Exists && c != nil && c.typ == typ
	op.fresh = !op.live && !op.reuse
	// A key this node holds no record of (never held, or a node started empty) starts the
	// genesis incarnation (Reset zero), which every node creating the key that way shares,
	// so concurrent first writes in two regions merge instead of one replacing the other.
	// After a delete, a value of another type, or an eviction or expiry here (a floor), a
	// new incarnation stamped by the write starts instead, above what it replaces.
	op.genesis = op.fresh && !cur.Exists && cur.Floor == 0
	if op.live && op.create && n.collTooBig(c) {
		op.err = ErrValueTooLarge
		return lru.Update[value]{Action: lru.Keep}
	}
	if op.fresh {
		c = newColl(typ, crdt.Version{})
	}
	op.c, op.after = c, crdt.Timestamp(cur.Floor)
	if cur.Exists {
		op.after = cur.Value.ts
	}
	c.mu.Lock()
	c.flushTo(crdt.Timestamp(n.flushTS.Load()))
	// Compact first: a rewrite of an element whose dot is already stable then leaves no
	// removed dot to remember (and collect later).
	stable := crdt.Timestamp(n.collStable.Load())
	if n.repl == nil && cur.Exists {
		// No other writer (stableTime): every write of the key so far is stable now, not at
		// the janitor's next pass, so a rewrite of an element leaves no removed write to keep
		// and collect later (a third of HSET's cost on small hashes rewritten within 100 ms).
		stable = max(stable, cur.Value.ts+1)
	}
	c.compact(stable)
	nw, local := op.w.(nodeWriter)
	unread := local && nw.n.sink == nil // nothing replicates: the delta goes unread
	// The write's delta lives in op's scratch: it is encoded below, under the lock, and
	// dropped (its encoding is what replicates), so it need not be an allocation of every
	// write (a third of a writer's bytes allocated per HSET on small hashes).
	c.useScratch(op)
	d := op.fn.call(c, op.stampFn)
	c.useScratch(nil)
	if d == nil || op.seq == 0 {
		c.mu.Unlock()
		return lru.Update[value]{Action: lru.Keep}
	}
	c.compact(stable)
	v, exp := n.collValue(op.key, c, op.ver, op.seq, op.nowMs)
	op.out = crdt.Entry{Type: typ, Version: op.ver, Seq: op.seq, Expiry: exp}
	if unread {
		// Nothing replicates this node's writes: the delta's encoding would go unread.
	} else if op.fresh || op.clearTTL {
		// The creating write ships the whole new state, marked full, so a node that holds
		// nothing of the key can serve it (later element deltas alone are partial); so does
		// a write that cleared an emptied collection's TTL (the delta holds no expiry).
		op.out.Value = c.encodeLocked()
	} else {
		op.out.Value = op.encode(d)
	}
	c.mu.Unlock()
	n.trackTombstone(&cur, &v)
	op.wrote = true
	return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
}

// collValue builds the store value of key's collection c after a write or merge (c.mu held) and its store
// expiry: the collection's own, or, once it is empty, a tombstone's lifetime.
func (n *Node) collValue(key string, c *coll, ver crdt.Version, seq uint64, nowMs int64) (value, int64) {
	c.bytes = c.size()
	if !c.queued && c.tombstones() > 0 {
		c.queued = true
		n.tombColls.add(key)
	}
	if c.floorRaised && !c.floorQueued && n.repl != nil && c.full() {
		// Only a complete state is shipped (shipFloors): a partial one's floor would remove,
		// on its peers, the elements it never held.
		c.floorQueued = true
		n.floorColls.add(key)
	}
	if c.length() >= crdt.WarmMinElems && !n.warming.Load() {
		// A pipeline of commands on a collection this large pays for warming its elements
		// (WarmElems) whatever the store's size; the janitor's pass turns it off again, and
		// the next write of such a collection back on.
		n.warming.Store(true)
	}
	// A partial state (element deltas of an incarnation this node never held whole, e.g. after
	// evicting the key) is hidden like an empty one: serving it would answer for the whole
	// collection with a fragment. It becomes visible when a full state joins it.
	// ver's writer is in the table: this node's own, the current value's, or a remote write's
	// that applyRemoteColl admitted first.
	v, _ := n.reps.newValue(ver, seq, c.typ, 0)
	v.setEmpty(c.length() == 0 || !c.full())
	v.setObj(c, c.bytes)
	exp := c.expiry()
	if v.empty() {
		if t := nowMs + n.cfg.TombstoneTTL.Milliseconds(); exp == 0 || t < exp {
			exp = t
		}
	}
	return v, exp
}

// expireColl rewrites the expiry register of cur's collection (Expire, Persist) as a new local
// write: called by rewriteExpiry under the key's store lock.
func (n *Node) expireColl(w writer, key string, cur *lru.Current[value], atMs, nowMs int64) (lru.Update[value], crdt.Entry) {
	c := cur.Value.obj()
	ver, seq := w.version(nowMs, cur.Value.ts)
	c.mu.Lock()
	d := c.setExpiry(ver, atMs)
	v, exp := n.collValue(key, c, ver, seq, nowMs)
	c.mu.Unlock()
	e := crdt.Entry{Type: c.typ, Value: d.AppendBinary(nil), Version: ver, Seq: seq, Expiry: exp}
	return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}, e
}

// applyRemoteColl merges a remote delta into cur when either is a collection, under the key's
// store lock; handled is false when neither is (the register path applies). The type rule
// (docs/design.md): states of one incarnation join; otherwise the higher of the incoming
// write's incarnation (a register's or a tombstone's is its version) and the current one wins.
func (n *Node) applyRemoteColl(key string, cur *lru.Current[value], e *crdt.Entry, nowMs int64) (up lru.Update[value], won, handled bool) {
	keep := lru.Update[value]{Action: lru.Keep}
	if !e.Type.IsCollection() && (!cur.Exists || cur.Value.obj() == nil) {
		return keep, false, false
	}
	if !cur.Exists && uint64(e.Version.TS) <= cur.Floor {
		return keep, false, true // evicted, expired or deleted newer here
	}
	if _, ok := n.reps.index(e.Version.Replica); !ok {
		return keep, false, true // a writer the full replica table has no room for: refused
	}
	var curReset crdt.Version
	if cur.Exists {
		curReset = cur.Value.ver(n.reps)
		if cur.Value.obj() != nil {
			// Without mu: a collection's state changes only under its key's store lock, which
			// the caller holds (readers, under mu's read lock, change nothing).
			curReset = cur.Value.obj().reset()
		}
	}
	if !e.Type.IsCollection() {
		// A string or a delete against a collection: it wins over an older incarnation.
		if !curReset.Less(e.Version) {
			return keep, false, true
		}
		v, ok := n.reps.valueOf(e)
		if !ok {
			return keep, false, true
		}
		n.trackTombstone(cur, &v)
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: e.Expiry}, true, true
	}
	inReset, err := crdt.CollectionReset(e.Value)
	if err != nil {
		return keep, false, true
	}
	c := cur.Value.obj()
	switch {
	case cur.Exists && c != nil && c.typ == e.Type && inReset == curReset:
		// The usual case, an element delta of the incarnation held: merged in place from its
		// encoding, without decoding it into a state of its own. Compacted first, as a local
		// write is: the writes the delta removes that are already stable are then dropped
		// as seen instead of kept as removed writes until the compaction after it (under an
		// HSET flood on 100k small hashes a quarter of a replica's CPU went to making and
		// collecting those). A dot of the delta is not below the stable time, which this node
		// has applied everything below (a duplicate is skipped before this).
		c.mu.Lock()
		c.compact(crdt.Timestamp(n.collStable.Load()))
		if c.applyDelta(e.Value) != nil {
			c.mu.Unlock()
			return keep, false, true
		}
	case !cur.Exists || curReset.Less(inReset):
		if c, err = decodeColl(e.Type, e.Value); err != nil {
			return keep, false, true
		}
		c.adopt()
		if !cur.Exists {
			c.lost = crdt.Timestamp(cur.Floor)
		}
		// key may be a view of a received frame (applyDeltas copies no collection delta's key):
		// the new collection keeps a copy (own then finds it in place), and so do the janitor's
		// queues (collValue is given c.key).
		c.key = strings.Clone(key)
		c.mu.Lock()
	default:
		return keep, false, true
	}
	ver, seq := e.Version, e.Seq
	if cur.Exists && e.Version.Less(cur.Value.ver(n.reps)) {
		ver, seq = cur.Value.ver(n.reps), cur.Value.seq()
	}
	c.flushTo(crdt.Timestamp(n.flushTS.Load()))
	c.compact(crdt.Timestamp(n.collStable.Load()))
	v, exp := n.collValue(c.key, c, ver, seq, nowMs)
	c.mu.Unlock()
	n.trackTombstone(cur, &v)
	return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}, true, true
}

// ReadHash runs fn on key's hash under its read lock (fn must not keep h). It reports whether
// the key holds a hash; a key of another type is ErrWrongType.
func (n *Node) ReadHash(ctx context.Context, key string, fn func(h *crdt.Hash)) (bool, error) {
	return n.readColl(ctx, key, crdt.TypeHash, func(c *coll) { fn(c.hash) })
}

// UpdateHash read-modify-writes key's hash atomically and replicates the delta fn returns (nil:
// nothing changed). fn must call stamp once before changing h and write with its version.
// The delta is the node's once returned (it may be reused memory): fn must not keep it.
// With create, an absent key is a new empty hash; without, fn is not called for it.
func (n *Node) UpdateHash(ctx context.Context, key string, create bool, fn func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash) (bool, error) {
	return n.updateColl(ctx, key, crdt.TypeHash, create, hashDelta(fn))
}

// UpdateHashAt is UpdateHash at a time the caller read (unix ms, from Now) for a run of quick
// commands, as SetBytesAt is for SET: a pipeline of HSETs on an event loop reads the clock
// once (time.Now was 2.5 % of a writer's CPU under an SADD flood). The write's version is
// still later than anything this node issued or saw. nowMs 0 reads the clock.
func (n *Node) UpdateHashAt(ctx context.Context, key string, create bool, fn func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash, nowMs int64) (bool, error) {
	return n.updateCollAt(ctx, key, crdt.TypeHash, create, hashDelta(fn), nowMs)
}

// ReadSet is ReadHash for sets.
func (n *Node) ReadSet(ctx context.Context, key string, fn func(s *crdt.Set)) (bool, error) {
	return n.readColl(ctx, key, crdt.TypeSet, func(c *coll) { fn(c.set) })
}

// UpdateSet is UpdateHash for sets.
func (n *Node) UpdateSet(ctx context.Context, key string, create bool, fn func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set) (bool, error) {
	return n.updateColl(ctx, key, crdt.TypeSet, create, setDelta(fn))
}

// UpdateSetAt is UpdateHashAt for sets.
func (n *Node) UpdateSetAt(ctx context.Context, key string, create bool, fn func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set, nowMs int64) (bool, error) {
	return n.updateCollAt(ctx, key, crdt.TypeSet, create, setDelta(fn), nowMs)
}

// ReadZSet is ReadHash for sorted sets.
func (n *Node) ReadZSet(ctx context.Context, key string, fn func(z *crdt.ZSet)) (bool, error) {
	return n.readColl(ctx, key, crdt.TypeZSet, func(c *coll) { fn(c.zset) })
}

// UpdateZSet is UpdateHash for sorted sets.
func (n *Node) UpdateZSet(ctx context.Context, key string, create bool, fn func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet) (bool, error) {
	return n.updateColl(ctx, key, crdt.TypeZSet, create, zsetDelta(fn))
}

// UpdateZSetAt is UpdateHashAt for sorted sets.
func (n *Node) UpdateZSetAt(ctx context.Context, key string, create bool, fn func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet, nowMs int64) (bool, error) {
	return n.updateCollAt(ctx, key, crdt.TypeZSet, create, zsetDelta(fn), nowMs)
}

// collFn is the Update function of one collection type (one field set), passed by value to
// updateColl and held in its collOp: adapting it with a closure per write was an allocation of
// every HSET, SADD and ZADD.
type collFn struct {
	hash func(*crdt.Hash, func() crdt.Version) *crdt.Hash
	set  func(*crdt.Set, func() crdt.Version) *crdt.Set
	zset func(*crdt.ZSet, func() crdt.Version) *crdt.ZSet
}

func hashDelta(fn func(*crdt.Hash, func() crdt.Version) *crdt.Hash) collFn { return collFn{hash: fn} }
func setDelta(fn func(*crdt.Set, func() crdt.Version) *crdt.Set) collFn    { return collFn{set: fn} }
func zsetDelta(fn func(*crdt.ZSet, func() crdt.Version) *crdt.ZSet) collFn { return collFn{zset: fn} }

// call runs the function on c's state of its type and returns the delta it made (nil: none).
func (f collFn) call(c *coll, stamp func() crdt.Version) appender {
	switch {
	case f.hash != nil:
		return asAppender(f.hash(c.hash, stamp))
	case f.set != nil:
		return asAppender(f.set(c.set, stamp))
	}
	return asAppender(f.zset(c.zset, stamp))
}

// asAppender returns d as an appender, nil for a nil d (a nil pointer in an interface is not nil).
func asAppender[P interface {
	*T
	appender
}, T any](d P) appender {
	if d == nil {
		return nil
	}
	return d
}

// flushColls applies flush floor f to every collection still held after the store dropped the
// entries stamped at or before f: a collection whose newest write is after f loses its older
// elements. Called after flushTS was raised, so a state merged or written meanwhile has
// already applied it (flushTo is idempotent).
func (n *Node) flushColls(f crdt.Timestamp) {
	nowMs := n.nowMs()
	var keys []string
	n.store.Range(nowMs, func(k string, v value, _ int64) bool {
		if v.obj() != nil {
			keys = append(keys, k)
		}
		return true
	})
	for _, k := range keys {
		n.store.Apply(k, nowMs, func(cur lru.Current[value]) lru.Update[value] {
			c := cur.Value.obj()
			if !cur.Exists || c == nil {
				return lru.Update[value]{Action: lru.Keep}
			}
			c.mu.Lock()
			if f <= c.flushed {
				c.mu.Unlock()
				return lru.Update[value]{Action: lru.Keep}
			}
			c.flushTo(f)
			v, exp := n.collValue(k, c, cur.Value.ver(n.reps), cur.Value.seq(), nowMs)
			c.mu.Unlock()
			n.trackTombstone(&cur, &v)
			return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
		})
	}
}

// writeCollCopy writes a copy of collection src under key as a fresh local write (RENAME,
// COPY): a new incarnation holding src's elements and expiry, each element rewritten by the
// new version, shipped whole. With nx only when key is not live. It reports whether it wrote.
func (n *Node) writeCollCopy(w writer, nowMs int64, key string, src *coll, nx bool) bool {
	var out crdt.Entry
	wrote := false
	w.apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		if nx && cur.Exists && !cur.Value.tombstone() {
			return lru.Update[value]{Action: lru.Keep}
		}
		after := crdt.Timestamp(cur.Floor)
		if cur.Exists {
			after = cur.Value.ts
		}
		ver, seq := w.version(nowMs, after)
		// src.mu under key's shard lock: nothing holds a coll's mu while taking a shard lock.
		src.mu.RLock()
		c := src.copyAs(ver)
		src.mu.RUnlock()
		c.mu.Lock()
		v, exp := n.collValue(key, c, ver, seq, nowMs)
		out = crdt.Entry{Type: c.typ, Value: c.encodeLocked(), Version: ver, Seq: seq, Expiry: exp}
		c.mu.Unlock()
		n.trackTombstone(&cur, &v)
		wrote = true
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
	})
	if wrote {
		n.sets.Add(1)
		// Through w: inside a transaction the copy is one of the unit's writes (it shares the
		// unit's dot); emitted on its own it went out ahead of the unit, while the transaction
		// still held its keys.
		w.emit(key, out)
	}
	return wrote
}

// MemoryUsage returns the bytes the store charges key (its key, value and overheads; for a
// collection, every element, dot, tombstone and index entry), or false when it is not live
// (Redis's MEMORY USAGE).
func (n *Node) MemoryUsage(ctx context.Context, key string) (int64, bool, error) {
	if err := n.check(ctx); err != nil {
		return 0, false, err
	}
	v, _, ok := n.store.Peek(key, n.nowMs())
	if !ok || v.tombstone() {
		return 0, false, nil
	}
	return int64(v.charge(key)), true, nil
}
