package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
	"github.com/geocache/geocache/node/internal/cluster"
)

// Sentinel errors. Callers compare with errors.Is.
var (
	ErrClosed        = errors.New("node: closed")
	ErrKeyTooLarge   = errors.New("node: key too large")
	ErrValueTooLarge = errors.New("node: value too large")
)

// Node is one cache node: a bounded LRU store of LWW registers stamped with a hybrid logical
// clock. All methods are safe for concurrent use.
type Node struct {
	warming atomic.Bool // Warming: the store, or a collection written (collValue), is large enough
	cfg     Config
	replica crdt.ReplicaID
	store   *lru.Store[string, value, lru.InValue]
	reps    *replicaTable // writer ids of the stored values (value.rep); index 0 is replica

	memMu    sync.Mutex   // serialises SetMaxMemory (maxmemory.go)
	oomBound atomic.Int64 // a bound too small for any entry, while set (maxmemory.go); else 0

	clockMu sync.Mutex
	clock   *crdt.Clock
	seq     uint64 // last dot sequence number issued by this replica; guarded by clockMu

	// sink receives every local write as a delta, in no particular order. nil on a node that
	// does not replicate. Set once before the node is shared.
	sink func(crdt.Delta)
	// unitSink receives the writes of a transaction, which share one dot, to replicate as one
	// unit. nil on a node that does not replicate. Set once before the node is shared.
	unitSink func([]crdt.Delta)

	loads singleflight.Group

	// expired remembers writes that expired here, for snapshots (expired.go).
	expired recentExpiries

	// flushed is the newest flush marker (FLUSHALL) applied here; entries stamped at or before
	// its timestamp are gone. Guarded by flushMu, which serialises flushes.
	flushMu sync.Mutex
	flushed crdt.Entry
	flushTS atomic.Uint64 // flushed's timestamp, read without the lock

	tombEntries atomic.Int64  // replicated delete tombstones held as entries (not live keys)
	collStable  atomic.Uint64 // stable time of the last janitor pass: collections compact below it
	tombColls   tombQueue     // collections holding removed writes, for the janitor (colltombs.go)
	floorColls  tombQueue     // collections whose floor the cap raised, to ship whole (colltombs.go)
	collOps     sync.Pool     // *collOp, reused by collection writes (collections.go)
	tombHits    atomic.Uint64
	sets        atomic.Uint64
	deletes     atomic.Uint64

	// repl is the replication engine and cluster the libp2p layer; both nil on a node that
	// does not replicate.
	repl    *replicator
	cluster *cluster.Cluster
	addrMu  sync.Mutex // guards cfg.RESPAddr, cfg.HTTPAddr
	ready   atomic.Bool
	leaving atomic.Bool // Close has begun: writes are refused and the node is not ready
	reached atomic.Bool // connected to a member at least once (readiness.go)

	// persist saves and loads the cache (persist.go); nil without Config.DataDir.
	persist     *persister
	localWrites atomic.Uint64 // local writes emitted, for the changes since the last save

	leases       leaseTable
	neg          negCache
	remoteHits   atomic.Uint64 // misses filled from a peer
	remoteMisses atomic.Uint64 // read-throughs no peer could fill
	peerCalls    atomic.Uint64 // peer requests sent (read-through, load leases)
	evicted      *evictedSet   // keys evicted here: the misses worth a read-through
	originLoads  atomic.Uint64 // GetOrLoad loader calls on this node

	closeOnce sync.Once
	closed    atomic.Bool
	goMu      sync.RWMutex // orders goAsync's wg.Add before Close's wg.Wait
	stop      chan struct{}
	// life is the parent of the node's own background work (never of a caller's request); Close
	// cancels it.
	life    context.Context
	endLife context.CancelFunc
	wg      sync.WaitGroup
}

// value is what the store holds per key: a crdt.Entry without the key and the expiry, which the
// store keeps itself. Kept small: it is paid per entry, inside the store's slab (32 bytes; with
// the store's key, expiry, stamp and links an entry is 64 bytes). One pointer serves the bytes
// of a string or counter and the collection of a hash, set or sorted set, and one 32-bit length
// serves the bytes' length and the collection's charged size: a slice header and a separate
// collection pointer made it 64. The writer's replica id is an index into the node's replica
// table (replicas.go), packed with the type and flags into one 32-bit word: the id itself made
// the value 40 bytes and the entry 72.
//
// The store keeps no key beside the value (lru.InValue): a stored string value's bytes follow
// its key in one allocation ([key][bytes], own), and a collection keeps its key in its coll.
// The key's header (16 bytes) left the slot, which is 48 bytes; the key's length shares a word
// with the dot seq.
type value struct {
	// p is the first byte of the value's bytes (n of them; nil when n is 0 and the value is not
	// keyed), or the *coll when isObj. When keyed, p follows the key's bytes in their shared
	// allocation (and is never nil: an empty value's allocation has one spare byte).
	p  unsafe.Pointer
	ts crdt.Timestamp // the version's timestamp; its replica is the writer, rep()
	// dot is the dot seq (the low dotSeqBits bits) under the key's length when keyed (the high
	// 16 bits). A seq never reaches 2^48 (stampSeq, newValue).
	dot uint64
	// n is len(bytes) or, for a collection, its size when this value was made: what the store
	// charges for it. A collection is mutated in place, so reading its size when the store
	// replaces or drops the value would see the new size for the old value too: its growth was
	// never charged and its removal drove the store's byte count negative (found measuring a
	// 1M-field hash). A collection is bounded by maxCollection (64 MiB); a value by
	// MaxValueSize, which New keeps below 4 GiB.
	n uint32
	// bits packs the writer's index in the replica table (the high 24 bits, repShift) over the
	// type (3 bits), the flags (2 bits), empty (a collection with no elements: absent to
	// readers, collections.go) and isObj (p is a *coll).
	bits uint32
}

const (
	typMask   = 1<<3 - 1
	flagShift = 3
	flagMask  = 1<<2 - 1
	emptyBit  = 1 << 5
	objBit    = 1 << 6
	keyedBit  = 1 << 7 // the value's bytes follow its key's (own)
	repShift  = 8

	dotSeqBits = 48
	// maxDotSeq is the largest dot seq a value holds: 2^48 writes of one replica, 8.9 years
	// at a million writes per second.
	maxDotSeq = 1<<dotSeqBits - 1
	// maxKeyLen is the longest key (value.dot's high 16 bits); Config.MaxKeySize is at most it.
	maxKeyLen = 1<<(64-dotSeqBits) - 1
)

// Every type and flag fits its bits: crdt rejects unknown ones before they reach the store.
var (
	_ [typMask - int(crdt.TypeZSet)]struct{}
	_ [flagMask - int(crdt.FlagTombstone|crdt.FlagContentType)]struct{}
)

func (v *value) typ() crdt.Type     { return crdt.Type(v.bits & typMask) }
func (v *value) flags() crdt.Flags  { return crdt.Flags(v.bits >> flagShift & flagMask) }
func (v *value) empty() bool        { return v.bits&emptyBit != 0 }
func (v *value) isObj() bool        { return v.bits&objBit != 0 }
func (v *value) rep() uint32        { return v.bits >> repShift }
func (v *value) seq() uint64        { return v.dot & maxDotSeq }
func (v *value) keyed() bool        { return v.bits&keyedBit != 0 }
func (v *value) setTyp(t crdt.Type) { v.bits = v.bits&^typMask | uint32(t)&typMask }
func (v *value) setFlags(f crdt.Flags) {
	v.bits = v.bits&^(flagMask<<flagShift) | (uint32(f)&flagMask)<<flagShift
}

func (v *value) setEmpty(e bool) {
	v.bits &^= emptyBit
	if e {
		v.bits |= emptyBit
	}
}

// ver returns v's version: its timestamp and its writer's id from the node's replica table t.
func (v *value) ver(t *replicaTable) crdt.Version {
	return crdt.Version{TS: v.ts, Replica: t.id(v.rep())}
}

// newValue makes a value of the given version, seq, type and flags (no bytes yet); false when
// the version's writer is new and the replica table is full (the write is refused).
func (t *replicaTable) newValue(ver crdt.Version, seq uint64, typ crdt.Type, flags crdt.Flags) (value, bool) {
	i, ok := t.index(ver.Replica)
	v := value{ts: ver.TS, dot: seq & maxDotSeq, bits: i<<repShift | uint32(typ)&typMask | (uint32(flags)&flagMask)<<flagShift}
	// A peer's seq beyond maxDotSeq is refused like a writer the table has no room for: this
	// node never issues one (stampSeq).
	return v, ok && seq <= maxDotSeq
}

// key returns the key a stored value carries (lru.Options.KeyOf): the bytes in front of its own
// in their allocation, or its collection's key.
func (v *value) key() string {
	if v.isObj() {
		return (*coll)(v.p).key
	}
	n := int(v.dot >> dotSeqBits)
	return unsafe.String((*byte)(unsafe.Add(v.p, -n)), n)
}

// own makes v carry key before the store holds it (lru.Options.Own): a string value's bytes are
// copied behind a copy of the key into one allocation, unless they already follow this key (a
// value read from the store and put back); a collection records the key. Runs under the key's
// store lock.
func own(key string, v *value) {
	if v.isObj() {
		if c := (*coll)(v.p); c.key != key {
			c.key = key
		}
		return
	}
	if v.keyed() && v.key() == key {
		return
	}
	if len(key) > maxKeyLen {
		// Every way in checks keys against MaxKeySize, which Config keeps at most maxKeyLen.
		panic("node: a key longer than 65535 bytes reached the store")
	}
	v.setKeyed(keyedCopy(key, v.data()), len(key))
}

// setKeyed makes b[klen:klen+v.n] the value's bytes and b[:klen] its key.
func (v *value) setKeyed(b []byte, klen int) {
	v.p = unsafe.Pointer(unsafe.SliceData(b[klen:]))
	v.dot = v.dot&maxDotSeq | uint64(klen)<<dotSeqBits
	v.bits |= keyedBit
}

// keyedBuf allocates a block for key and an n-byte value, as own does, with the key copied in:
// a writer that fills b[len(key):][:n] and passes b to setKeyed saves own's copy.
func keyedBuf(key string, n int) []byte {
	b := make([]byte, len(key)+max(n, 1))
	copy(b, key)
	return b
}

// keyedCopy is keyedBuf with val copied in behind the key: the block own, a local SET and a
// receiver's run (ownedBlock) keep a register's bytes in.
func keyedCopy(key string, val []byte) []byte {
	b := keyedBuf(key, len(val))
	copy(b[len(key):], val)
	return b
}

// data returns the value's bytes (nil for a collection). They are shared: never written to.
func (v *value) data() []byte {
	if v.isObj() || v.n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(v.p), v.n)
}

// setData makes b the value's bytes (its capacity is dropped: an append copies).
func (v *value) setData(b []byte) {
	v.p, v.n = unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
	v.bits &^= objBit | keyedBit
	v.dot &= maxDotSeq
	if len(b) == 0 {
		v.p = nil
	}
}

// obj returns the collection of a hash, set or sorted set; nil for strings and tombstones.
func (v *value) obj() *coll {
	if !v.isObj() {
		return nil
	}
	return (*coll)(v.p)
}

// setObj makes c the value's collection, charged at size bytes.
func (v *value) setObj(c *coll, size int) {
	v.p, v.n = unsafe.Pointer(c), uint32(min(size, 1<<32-1))
	v.bits = v.bits&^keyedBit | objBit
	v.dot &= maxDotSeq
}

// objBytes is what the store charges for the collection beyond the value itself.
func (v *value) objBytes() int {
	if !v.isObj() {
		return 0
	}
	return int(v.n)
}

// charge is what the store charges for key holding v (its own per-entry overhead aside): the
// key and the value's bytes as allocated (the allocator's size class, not their lengths: a
// 100-byte value takes a 112-byte slot), the value's metadata, or a collection's charge. Redis
// counts its allocator's usable sizes the same way; counting lengths let the store's real
// heap run ~10 % over its bound (a writer under a 64 MiB flood held 71 MB of store).
func (v *value) charge(key string) int {
	if v.isObj() {
		return allocSize(len(key)) + int(v.n) + valueOverhead
	}
	return allocSize(len(key)+max(int(v.n), 1)) + valueOverhead // one block (own)
}

func (v *value) tombstone() bool { return v.flags()&crdt.FlagTombstone != 0 || v.empty() }

// entry returns v as a crdt.Entry expiring at expiry; t is the node's replica table.
func (v *value) entry(t *replicaTable, expiry int64) crdt.Entry {
	if c := v.obj(); c != nil {
		return crdt.Entry{Value: c.encode(), Expiry: expiry, Version: v.ver(t), Seq: v.seq(), Type: v.typ()}
	}
	return crdt.Entry{Value: v.data(), Expiry: expiry, Version: v.ver(t), Seq: v.seq(), Type: v.typ(), Flags: v.flags()}
}

// valueOf makes the value of e (sharing e.Value); false when e's writer is new and the replica
// table is full.
func (t *replicaTable) valueOf(e *crdt.Entry) (value, bool) {
	v, ok := t.newValue(e.Version, e.Seq, e.Type, e.Flags)
	v.setData(e.Value)
	return v, ok
}

// New starts a node. It validates cfg (errors are prefixed "node:") and never modifies it.
func New(cfg Config) (*Node, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	replica := newReplicaID()
	n := &Node{
		cfg:     c,
		replica: replica,
		reps:    newReplicaTable(replica),
		clock:   crdt.NewClock(c.MaxClockOffset),
		stop:    make(chan struct{}),
		evicted: newEvictedSet(c.MaxMemory),
	}
	n.life, n.endLife = context.WithCancel(context.Background())
	n.store, err = lru.NewStore[string, value, lru.InValue](lru.Options[string, value]{
		MaxBytes:      c.MaxMemory,
		MaxEntries:    c.MaxEntries,
		Size:          func(k string, v value) int { return v.charge(k) },
		Stamp:         func(v value) uint64 { return uint64(v.ts) },
		WarmValue:     (*value).warm,
		MaxTombstones: c.MaxTombstones,
		OnRemove:      n.onRemove,
		KeyOf:         (*value).key,
		KeyAt:         (*value).keyAt,
		Own:           own,
	})
	if err != nil {
		return nil, err
	}
	n.initPersistence()
	if len(c.ListenAddrs) == 0 {
		n.ready.Store(true)
	} else if err := n.startCluster(); err != nil {
		n.Close()
		return nil, err
	}
	// Started after replication is wired: the janitor reads n.repl.
	n.wg.Add(1)
	go n.janitor()
	n.startPersistence()
	if len(c.ListenAddrs) == 0 {
		return n, nil
	}
	if len(c.Join) == 0 && len(n.liveMembers()) == 0 {
		// A new cluster: nobody to catch up with. Otherwise the first completed anti-entropy
		// session makes the node ready (readiness.go).
		n.markReady()
	}
	return n, nil
}

// Ready reports whether the node is warmed: it does not replicate, started a new cluster, or
// completed anti-entropy with a member; it is not loading its snapshot (Config.DataDir); and it
// is not closing. A node serves reads and writes before it is ready; readiness tells load
// balancers it has caught up. ReadyReason says why not.
func (n *Node) Ready() bool { return n.ready.Load() && !n.loading() && !n.leaving.Load() }

// markReady flips the node to ready once and announces it in the catalog.
func (n *Node) markReady() {
	if n.ready.Swap(true) || n.cluster == nil {
		return
	}
	n.goAsync(func() {
		ctx, cancel := n.stopCtx()
		defer cancel()
		if err := n.cluster.UpdateSelf(ctx, n.record(cluster.StateServing)); err != nil {
			n.cfg.Logger.Warn("announce serving", "err", err)
		}
	})
}

// valueOverhead is what a value takes in the store's slab beyond a slice header and a string
// key's header (32 bytes against 24 + 16: the slot keeps no key), charged against MaxMemory on
// top of the store's own per-entry overhead (lru.EntryOverhead, which counts a slot with both):
// negative, -8.
const valueOverhead = int(unsafe.Sizeof(value{})) - int(unsafe.Sizeof([]byte(nil))) - int(unsafe.Sizeof(""))

// maxValueSize bounds Config.MaxValueSize: a value's length, content type included, fits the
// 32 bits of value.n.
const maxValueSize = 1<<32 - 1 - crdt.MaxContentType - 1

// allocSize is the bytes Go's allocator hands out for an n-byte object of pointer-free data:
// its size classes up to 32 KiB (runtime/sizeclasses.go), whole 8 KiB pages above.
func allocSize(n int) int {
	if n == 0 {
		return 0
	}
	if n <= smallSizeMax {
		return int(smallSizes[(n+7)/8]) // a table, not a search: charged twice per write
	}
	if n > sizeClasses[len(sizeClasses)-1] {
		return (n + 8191) &^ 8191
	}
	i, _ := slices.BinarySearch(sizeClasses[:], n)
	return sizeClasses[i]
}

// smallSizeMax is the largest size smallSizes answers.
const smallSizeMax = 1024

// smallSizes[(n+7)/8] is allocSize(n) for 0 < n <= smallSizeMax (the runtime's own
// size_to_class8 idea). Computed once; never written after.
var smallSizes = func() (t [smallSizeMax/8 + 1]uint16) {
	for i := 1; i < len(t); i++ {
		j, _ := slices.BinarySearch(sizeClasses[:], i*8)
		t[i] = uint16(sizeClasses[j])
	}
	return t
}()

var sizeClasses = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
	1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784,
	6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760,
	24576, 27264, 28672, 32768}

// newReplicaID draws a fresh random, non-zero 64-bit id naming this process's write stream.
func newReplicaID() crdt.ReplicaID {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("node: no randomness: " + err.Error())
		}
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return crdt.ReplicaID(id)
		}
	}
}

// Close stops the node's goroutines and waits for them. It is idempotent; later calls return nil.
// Every method called after Close returns ErrClosed.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.leaving.Store(true)
		if n.cluster != nil {
			n.leave()
		}
		n.goMu.Lock()
		n.closed.Store(true)
		n.goMu.Unlock()
		close(n.stop)
		n.endLife()
		n.wg.Wait()
		n.finalSave()
		if n.cluster != nil {
			n.cluster.Close()
		}
	})
	return nil
}

// goAsync runs f on a goroutine owned by the node (Close waits for it) and reports false,
// without running f, once the node is closing.
func (n *Node) goAsync(f func()) bool {
	n.goMu.RLock()
	defer n.goMu.RUnlock()
	if n.closed.Load() {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// stopCtx returns a context for the node's own background work, cancelled when the node closes.
func (n *Node) stopCtx() (context.Context, context.CancelFunc) {
	return context.WithCancel(n.life)
}

// ReplicaID names this process's write stream. It is fresh on every start.
func (n *Node) ReplicaID() crdt.ReplicaID { return n.replica }

// Region is the region this node was configured with.
func (n *Node) Region() string { return n.cfg.Region }

// Now is the node's wall clock (Config.Now).
func (n *Node) Now() time.Time { return n.cfg.Now() }

func (n *Node) nowMs() int64 { return n.cfg.Now().UnixMilli() }

// stamp issues the version and dot for a local write. The version is greater than after, the
// version of the entry being replaced, even if that came from a peer whose clock is slightly
// ahead (it was observed when applied, but stamp does not rely on that).
func (n *Node) stamp(nowMs int64, after crdt.Timestamp) (crdt.Version, uint64) {
	return n.stampSeq(nowMs, after, 0)
}

// stampSeq is stamp with a given dot seq (a transaction's writes share one); 0 issues a new one.
func (n *Node) stampSeq(nowMs int64, after crdt.Timestamp, seq uint64) (crdt.Version, uint64) {
	n.clockMu.Lock()
	ts := n.clock.Now(nowMs)
	if ts <= after {
		// Only reachable when after was never observed (e.g. loaded from a snapshot of a node
		// with a skewed clock within the allowed offset): adopt it so the write still wins.
		if t, err := n.clock.Observe(after, nowMs); err == nil {
			ts = t
		}
	}
	if seq == 0 {
		if n.seq == maxDotSeq {
			// 2^48 writes of this replica: a value could not hold the next dot (value.dot).
			// Unreachable in practice (8.9 years at a million writes per second).
			panic("node: dot sequence exhausted")
		}
		n.seq++
		seq = n.seq
	}
	n.clockMu.Unlock()
	return crdt.Version{TS: ts, Replica: n.replica}, seq
}

// emit hands a local write to replication.
func (n *Node) emit(key string, e crdt.Entry) {
	n.localWrites.Add(1)
	if n.sink != nil {
		n.sink(crdt.Delta{Key: key, Entry: e})
	}
}

// onRemove is called by the store after an eviction or expiry, outside its locks.
func (n *Node) onRemove(key string, v value, why lru.Reason) { // evictions, expiries and flushes
	switch {
	case v.tombstone():
		n.tombEntries.Add(-1)
	case why == lru.Evicted:
		n.evicted.add(key, uint64(v.ts))
	case why == lru.Expired:
		n.evicted.forget(key)
		if n.repl != nil {
			// A copy: key is a view of the value's block (own), which it would keep alive.
			n.expired.add(expiredRec{key: strings.Clone(key), ver: v.ver(n.reps), seq: v.seq(), at: n.nowMs()})
		}
	}
}

// janitor reclaims expired entries without reads and collects stable tombstones.
func (n *Node) janitor() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.JanitorInterval)
	defer t.Stop()
	prune := time.NewTicker(expiryPruneInterval)
	defer prune.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.sweep(n.nowMs())
		case <-prune.C:
			if n.repl != nil {
				n.repl.pruneExpired(n.nowMs())
			}
		}
	}
}

// sweepBudget bounds the work of one janitor pass so that a mass expiry cannot stall writers.
const sweepBudget = 4096

// sweep does one bounded janitor pass at time nowMs.
func (n *Node) sweep(nowMs int64) {
	n.store.ExpireTick(nowMs, sweepBudget)
	n.warming.Store(n.store.Len() >= warmMinEntries)
	n.expired.prune(nowMs - n.cfg.TombstoneTTL.Milliseconds())
	st := n.stableTime(nowMs)
	n.store.CollectTombstones(uint64(st))
	if prev := n.collStable.Swap(uint64(st)); uint64(st) > prev {
		n.collectColls(st, nowMs, sweepBudget)
	}
	n.shipFloors(nowMs, floorShipBudget)
	if n.repl != nil {
		n.repl.sizeLog(n.store.Bytes())
	}
}

// stableTime is the HLC timestamp below which this node has applied every write it will ever
// receive, so local tombstones older than it can go. A node without peers only receives its own
// writes, which are all newer than its clock.
func (n *Node) stableTime(nowMs int64) crdt.Timestamp {
	_ = nowMs
	n.clockMu.Lock()
	own := n.clock.Last()
	n.clockMu.Unlock()
	if n.repl != nil {
		return n.repl.stableTime(own)
	}
	return own
}

func (n *Node) check(ctx context.Context) error {
	if n.closed.Load() || n.leaving.Load() {
		return ErrClosed
	}
	if n.loading() {
		return ErrLoading
	}
	return ctx.Err()
}

// checkWrite is check for a write: it also paces a write made outside a write pass to the
// node's slowest member (replicator.pace) while the gossip queue is half full.
func (n *Node) checkWrite(ctx context.Context) error {
	if err := n.check(ctx); err != nil {
		return err
	}
	if n.repl == nil || ctx.Value(writePassKey{}) != nil {
		return nil
	}
	return n.repl.pace(ctx)
}

func (n *Node) checkKey(key string) error {
	// An empty key is valid, as in Redis.
	if len(key) > n.cfg.MaxKeySize {
		return ErrKeyTooLarge
	}
	return nil
}
