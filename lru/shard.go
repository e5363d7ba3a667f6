package lru

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Links between entries are 20-bit numbers: 0 means "none", 1..maxSlots name slot link-1, and
// sentBase+k names sentinel k of the LRU ring. Three of them (prev, next, hnext) and a 4-bit
// hash tag pack into one word, which is what keeps an entry at 56 bytes with K = string and
// V = []byte.
const (
	linkBits = 20
	linkMask = 1<<linkBits - 1
	freeMark = linkMask        // prev of a free slot; no link reaches it
	sentBase = freeMark - gens // first sentinel link
	maxSlots = sentBase - 1    // slots per shard
	entryCap = maxSlots - 1    // entries per shard (one slot spare while evicting)
	nextOff  = linkBits        // bit offset of next in entry.links
	hnextOff = 2 * linkBits    // bit offset of hnext in entry.links
	tagOff   = 3 * linkBits    // bit offset of the hash tag in entry.links
	prevBits = linkMask        // prev's bits in entry.links
	nextBits = linkMask << nextOff
	hnxtBits = linkMask << hnextOff
	tagBits  = 0xf << tagOff

	// gens is the number of generations (sentinels) in the LRU ring; see lruorder.go.
	gens = 256
	// genLead bounds how far ahead of the newest sentinel a stamp may be.
	genLead = gens / 2

	// entry.meta packs the expiry (low 48 bits) and the access stamp (high 16 bits).
	stampShift = 48
	expiryMask = MaxExpiry

	// The slab grows by chunks of 16, 16, 32, ... 512 slots (1024 in all), then 1024 at a
	// time; the bucket heads likewise up to 4096 at a time. Small caches stay small; large
	// ones waste less than one chunk per shard.
	slabFirst, slabMax = 4, 10
	headFirst, headMax = 4, 12
)

// MaxExpiry is the largest expiry stored (unix ms in year 10889); later ones are clamped.
const MaxExpiry = 1<<48 - 1

// entry is one slab slot: 56 bytes with K = string and V = []byte, 48 with V = string; with S =
// InValue (the value carries the key) it holds no key: the size of V plus 16.
type entry[K comparable, V any, S any] struct {
	key   S // the key (S = K), or nothing (S = InValue: shard.keyOf reads it from the value)
	value V
	// meta is expiry | stamp<<48. Get updates the stamp atomically under the read lock; all
	// other writes happen under the write lock.
	meta uint64
	// links packs prev (towards newer entries in the LRU ring; freeMark when the slot is
	// free), next (towards older; the next free slot when free) and hnext (the next entry in
	// the same hash bucket), 20 bits each, and 4 bits of the key's hash, checked before
	// comparing keys so that other entries of the bucket rarely cost a key comparison.
	links uint64
}

func (e *entry[K, V, S]) expiry() int64 { return int64(e.meta & expiryMask) }

// key returns entry e's key. S is K or InValue (newStore's callers check).
func (s *shard[K, V, S]) key(e *entry[K, V, S]) K {
	if s.keyOf != nil {
		return s.keyOf(&e.value)
	}
	return *(*K)(unsafe.Pointer(&e.key))
}

// store puts key and value in slot e: the value made to carry key (own) when the store's
// values carry their keys, the key beside it otherwise. Needs the write lock.
func (s *shard[K, V, S]) store(e *entry[K, V, S], key K, value V) {
	// own is handed the slot's value, not value's address: that made value escape, an
	// allocation per Put.
	e.value = value
	if s.own != nil {
		s.own(key, &e.value)
	} else {
		*(*K)(unsafe.Pointer(&e.key)) = key
	}
}

// replace puts value in slot e, which holds key already: the stored key (S = K) stays, as key
// may be borrowed (ApplyBatchOwn); a value that carries its key is made to carry it (own copies
// it when the value does not). Needs the write lock.
func (s *shard[K, V, S]) replace(e *entry[K, V, S], key K, value V) {
	e.value = value
	if s.own != nil {
		s.own(key, &e.value) // not &value, which would escape (store)
	}
}
func (e *entry[K, V, S]) prev() uint32  { return uint32(e.links & prevBits) }
func (e *entry[K, V, S]) next() uint32  { return uint32(e.links>>nextOff) & linkMask }
func (e *entry[K, V, S]) hnext() uint32 { return uint32(e.links>>hnextOff) & linkMask }
func (e *entry[K, V, S]) setPrev(l uint32) {
	e.links = e.links&^prevBits | uint64(l)
}
func (e *entry[K, V, S]) setNext(l uint32) {
	e.links = e.links&^nextBits | uint64(l)<<nextOff
}
func (e *entry[K, V, S]) setHnext(l uint32) {
	e.links = e.links&^hnxtBits | uint64(l)<<hnextOff
}

// sentinel delimits one generation's segment of the LRU ring.
type sentinel struct{ prev, next uint32 }

// shard is one independently locked part of the cache: a slab of entries, an LRU ring through
// them, a linear-hashing index over them and a map of local tombstones.
type shard[K comparable, V any, S any] struct {
	// Written by readers: kept on the lock's cache line.
	mu     sync.RWMutex
	hits   atomic.Uint64
	misses atomic.Uint64
	clock  atomic.Uint64 // ticks once per stamp change; generations are runs of ticks

	// Read by readers, written under the write lock only.
	slab      [][]entry[K, V, S]
	heads     [][]uint32 // bucket b's first entry; dense, so hot buckets share cache lines
	lowMask   uint32     // linear hashing: 2^level - 1
	split     uint32     // linear hashing: next bucket to split; buckets = lowMask+1+split
	shift     uint8      // a generation lasts 2^shift ticks
	genBase   uint64     // generation at clockBase
	clockBase uint64
	gtop      uint64 // generation of the newest sentinel

	low     uint64       // segments of older generations are empty (victim starts here)
	free    uint32       // free slot list
	used    uint32       // slots handed out so far (high-water mark)
	n       int64        // live entries
	bytes   int64        // sum of charged bytes
	nttl    atomic.Int64 // live entries with an expiry; lets ExpireTick skip shards
	expNext uint32       // expiry sweep position

	maxEntries int64 // at most entryCap
	maxBytes   int64 // 0 = unlimited; the shard's share, which it may exceed (borrow.go)
	big        int64 // bytes of entries above a quarter of maxBytes (borrow.go)
	over       int64 // bytes borrowed above maxBytes, as last added to Cache.over
	maxTomb    int
	tomb       map[uint64]uint64 // hash(key) -> stamp

	// keyOf and own (Options.KeyOf, Options.Own) are set when S is InValue: the value carries
	// its key. On the shard rather than the Store because the lookups are the shard's.
	keyOf func(*V) K
	own   func(K, *V)

	evictions     uint64
	expirations   uint64
	tombDropped   uint64
	tombCollected uint64

	sent [gens]sentinel

	_ [64]byte // keep the next shard's lock off this shard's last cache line
}

// chunkOf maps index i of a chunked array whose chunks hold 2^first, 2^first, 2^(first+1),
// ... 2^max elements (then 2^max each) to a chunk and an offset.
func chunkOf(i uint32, first, max uint) (c, off uint32) {
	if i < 1<<max {
		c = uint32(bits.Len32(i >> first))
		return c, i - (1<<(c+uint32(first)-1))&^(1<<first-1)
	}
	j := i - 1<<max
	return uint32(max-first+1) + j>>max, j & (1<<max - 1)
}

// chunkSize is the length of chunk c in such an array.
func chunkSize(c uint32, first, max uint) int {
	switch {
	case c == 0:
		return 1 << first
	case c <= uint32(max-first):
		return 1 << (c + uint32(first) - 1)
	}
	return 1 << max
}

// at returns the entry in slot i.
func (s *shard[K, V, S]) at(i uint32) *entry[K, V, S] {
	c, off := chunkOf(i, slabFirst, slabMax)
	return &s.slab[c][off]
}

// head returns bucket b's head link.
func (s *shard[K, V, S]) head(b uint32) *uint32 {
	c, off := chunkOf(b, headFirst, headMax)
	return &s.heads[c][off]
}

// bucket returns the linear-hashing bucket of hash h.
func (s *shard[K, V, S]) bucket(h uint64) uint32 {
	b := uint32(h) & s.lowMask
	if b < s.split {
		b = uint32(h) & (s.lowMask<<1 | 1)
	}
	return b
}

// find returns the link (slot+1) of key, or 0. Needs at least the read lock.
func (s *shard[K, V, S]) find(h uint64, key K) uint32 {
	if len(s.heads) == 0 {
		return 0
	}
	l := *s.head(s.bucket(h))
	tag := tagOf(h)
	for l != 0 {
		e := s.at(l - 1)
		if e.links&tagBits == tag && s.key(e) == key {
			return l
		}
		l = e.hnext()
	}
	return 0
}

// tagOf is the hash tag of hash h as stored in entry.links (bits unused by shard and bucket
// selection).
func tagOf(h uint64) uint64 { return h >> 32 & 0xf << tagOff }

// alloc hands out a free slot, growing the slab by one chunk when needed.
func (s *shard[K, V, S]) alloc() uint32 {
	if s.free != 0 {
		i := s.free - 1
		s.free = s.at(i).next()
		return i
	}
	i := s.used
	if i >= maxSlots {
		panic("lru: shard slab full") // unreachable: maxEntries <= entryCap
	}
	if c, off := chunkOf(i, slabFirst, slabMax); off == 0 && int(c) == len(s.slab) {
		s.slab = append(s.slab, make([]entry[K, V, S], chunkSize(c, slabFirst, slabMax)))
	}
	s.used++
	return i
}

// insert stores a new entry as the most recently used and returns its link. The caller has
// checked that key is absent. Needs the write lock.
func (s *shard[K, V, S]) insert(c *Store[K, V, S], h uint64, key K, value V, expiry int64) uint32 {
	if len(s.heads) == 0 {
		s.heads = append(s.heads, make([]uint32, chunkSize(0, headFirst, headMax)))
	}
	i := s.alloc()
	l := i + 1
	e := s.at(i)
	s.store(e, key, value)
	// Append to the bucket's chain: entries that arrived first, often the popular ones, stay
	// in front and are found without touching later ones.
	e.links = tagOf(h)
	s.chainAppend(s.head(s.bucket(h)), l)
	g := s.tick()
	e.meta = packMeta(expiry, g)
	s.linkAfter(sentBase+uint32(g%gens), l)
	s.n++
	if expiry != 0 {
		s.nttl.Add(1)
	}
	if s.n > int64(s.lowMask)+1+int64(s.split) {
		s.grow(c)
	}
	return l
}

// splitRun is how many buckets grow splits at once.
const splitRun = 8

// grow splits the next splitRun buckets of the index (fewer at the end of a level), their
// chains' first entries and those entries' keys prefetched first: a split rehashes every key
// it moves, and splitting one bucket per insert took each chain's cache misses (entry, then
// the key's bytes) one after another — 40 % of a receiver's CPU and 20 % of a writer's while
// a node filled with new keys. The index runs up to splitRun-1 buckets ahead of the entries.
// Needs the write lock.
func (s *shard[K, V, S]) grow(c *Store[K, V, S]) {
	k := min(splitRun, s.lowMask+1-s.split) // the buckets left of this level
	var first [splitRun]uint32
	for i := range k {
		if l := *s.head(s.split + i); l != 0 {
			first[i] = l
			prefetchEntry(s.at(l - 1))
		}
	}
	for i := range k {
		l := first[i]
		if l == 0 {
			continue
		}
		e := s.at(l - 1)
		if nx := e.hnext(); nx != 0 {
			prefetchEntry(s.at(nx - 1))
		}
		if c.keyAt != nil {
			if a, n := c.keyAt(&e.value); a != 0 {
				prefetchSpan(a, n) // the key is behind this: one level is enough to overlap
				continue
			}
		}
		if c.strKey {
			key := s.key(e)
			if ks := *(*string)(unsafe.Pointer(&key)); len(ks) > 0 {
				prefetch(uintptr(unsafe.Pointer(unsafe.StringData(ks))))
			}
		}
	}
	for range k {
		s.splitBucket(c)
	}
}

// chainAppend links entry l (with hnext 0) at the end of the chain starting at *hp.
func (s *shard[K, V, S]) chainAppend(hp *uint32, l uint32) {
	if *hp == 0 {
		*hp = l
		return
	}
	p := s.at(*hp - 1)
	for p.hnext() != 0 {
		p = s.at(p.hnext() - 1)
	}
	p.setHnext(l)
}

func packMeta(expiry int64, gen uint64) uint64 {
	return uint64(min(expiry, MaxExpiry)) | uint64(uint16(gen))<<stampShift
}

// splitBucket grows the index by one bucket (linear hashing), keeping the load factor at
// most one entry per bucket without ever rehashing the whole table.
func (s *shard[K, V, S]) splitBucket(c *Store[K, V, S]) {
	hi := s.lowMask + 1
	nb := s.split + hi // the new bucket
	if cc, off := chunkOf(nb, headFirst, headMax); off == 0 && int(cc) == len(s.heads) {
		s.heads = append(s.heads, make([]uint32, chunkSize(cc, headFirst, headMax)))
	}
	from, to := s.head(s.split), s.head(nb)
	l := *from
	*from, *to = 0, 0
	var fromTail, toTail *entry[K, V, S] // keep the chains' order
	for l != 0 {
		e := s.at(l - 1)
		next := e.hnext()
		e.setHnext(0)
		if uint32(c.hash(s.key(e)))&hi != 0 {
			if toTail == nil {
				*to = l
			} else {
				toTail.setHnext(l)
			}
			toTail = e
		} else {
			if fromTail == nil {
				*from = l
			} else {
				fromTail.setHnext(l)
			}
			fromTail = e
		}
		l = next
	}
	s.split++
	if s.split == hi {
		s.lowMask = s.lowMask<<1 | 1
		s.split = 0
	}
}

// remove unlinks entry l (hash h) from the index and the ring and frees its slot.
// Byte accounting, tombstones and callbacks are the caller's. Needs the write lock.
func (s *shard[K, V, S]) remove(l uint32, e *entry[K, V, S], h uint64) {
	hp := s.head(s.bucket(h))
	if *hp == l {
		*hp = e.hnext()
	} else {
		p := s.at(*hp - 1)
		for p.hnext() != l {
			p = s.at(p.hnext() - 1)
		}
		p.setHnext(e.hnext())
	}
	s.unlink(e)
	s.n--
	if e.meta&expiryMask != 0 {
		s.nttl.Add(-1)
	}
	var zk S
	var zv V
	e.key, e.value, e.meta = zk, zv, 0
	e.links = freeMark | uint64(s.free)<<nextOff
	s.free = l
}

// live reports whether slot e holds an entry. Safe under the read lock.
func (e *entry[K, V, S]) live() bool {
	return e.prev() != freeMark
}
