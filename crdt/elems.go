package crdt

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"
	"unsafe"
)

// elemTab holds a collection's elements and their surviving writes, compactly: a collection of
// a million elements is mostly this table, and a Go map of element name to a slice of writes
// cost about 130 B per element before the collector's headroom (the map slot with two headers,
// the name's allocation, the slice's, a hash value's).
//
// An element with one write whose payload has an inline form (every set member, every hash
// field, every sorted-set member with an absolute score: nearly all of them) is one 32-byte
// record: its name and payload in one string, the write's timestamp, and the write's replica
// as an index into the table's replicas (a collection is written by a few replicas; a Version
// would take 16 bytes). The records live in pages of a slab, found by an open-addressing index
// of 8-byte slots (a 32-bit hash tag and the record's number). Any other element (concurrent
// writes of it survive, or a sorted-set increment) keeps its writes in the multi map.
//
// The zero value is an empty table, and so is a nil *elemTab for reading (len, find, get, has,
// each, sortedNames, clone). A payload read from it may be a view of the stored string:
// payloads are never modified (the rule of the whole package).
type elemTab[P any] struct {
	// What a look-up reads comes first (and top, which each write's compaction reads): a
	// look-up in a small table (the many small hashes of a session store) then reads this
	// struct's first lines, the record and its name, where the index and the page list were
	// two more dependent cache misses of every write and every replica's merge of it.
	n    int    // elements
	top  uint32 // records handed out
	inl  bool   // the index is s0 (a table of up to 3 elements), not slots
	seed maphash.Seed
	s0   [4]uint64
	p0   []elemRec // records 0 to pageSize-1
	// The first records and replicas of a table live in it (p0 and reps point here until they
	// outgrow them): a look-up in a small collection (the one-field hashes of a session
	// store) then reads the table and its name, where the records' and the replicas' own
	// allocations were two more dependent cache misses of every write and every replica's
	// merge of it. A table is never copied by value while in use (clone copies the slices;
	// emptying and shrink keep these arrays in place).
	r0    [inlRecs]elemRec
	rp0   [inlReps]ReplicaID
	reps  []ReplicaID
	slots []uint64             // 0 empty, else tag<<32 | record number+1; len a power of two or 0
	pages [][]elemRec          // records from pageSize on: page p at pages[p-1]
	free  []uint32             // numbers of removed records, reused first
	repAt map[ReplicaID]uint32 // index of reps, once it is longer than a scan should be
	multi map[uint32][]Dotted[P]
	// gone is the record number + 1 of the last element removed (0: none) and goneName its
	// name: a sorted set's index finds the member's node by name just after the removal
	// (skiplist.delete), while the record itself keeps nothing (a removed element's name and
	// value are not held, nor the whole slab once the table is empty).
	gone     uint32
	goneName string
}

// elemRec is one element: kv is its name (nlen bytes), then its write's inline payload.
type elemRec struct {
	kv   string
	nlen uint32
	rep  uint32 // index in reps of the write's replica, or repMulti, or repFree
	ts   Timestamp
}

const (
	repMulti = math.MaxUint32     // the writes are in multi
	repFree  = math.MaxUint32 - 1 // a removed record, on the free list
	pageBits = 10
	pageSize = 1 << pageBits
	// repScan is how many replicas are found by scanning before repAt is built.
	repScan = 8
	// inlRecs and inlReps: records and replicas held in the table itself (r0, rp0).
	inlRecs = 2
	inlReps = 2
)

func (t *elemTab[P]) len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// ownRecs reports whether p0 is the table's own r0.
func (t *elemTab[P]) ownRecs() bool { return unsafe.SliceData(t.p0) == &t.r0[0] }

func (t *elemTab[P]) rec(i uint32) *elemRec {
	if i < pageSize {
		return &t.p0[i]
	}
	return &t.pages[i>>pageBits-1][i&(pageSize-1)]
}

// index returns the index's slots (s0 while the table is small; nil before the first element).
func (t *elemTab[P]) index() []uint64 {
	if t.inl {
		return t.s0[:]
	}
	return t.slots
}

func (t *elemTab[P]) hash(e string) uint64 { return maphash.String(t.seed, e) }

// find returns the record number of element e.
func (t *elemTab[P]) find(e string) (uint32, bool) {
	if t == nil || t.n == 0 {
		return 0, false
	}
	h := t.hash(e)
	slots := t.index()
	mask := uint64(len(slots) - 1)
	tag := h & math.MaxUint32
	for i := h & mask; ; i = (i + 1) & mask {
		s := slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 == tag {
			r := t.rec(uint32(s) - 1)
			if r.kv[:r.nlen] == e {
				return uint32(s) - 1, true
			}
		}
	}
}

// name is record i's element name (a substring of its stored string: no allocation).
func (t *elemTab[P]) name(i uint32) string {
	if i+1 == t.gone {
		return t.goneName
	}
	r := t.rec(i)
	return r.kv[:r.nlen]
}

// sharedTail is the most inline payload a name shared by sharedName may keep alive.
const sharedTail = 8

// sharedName is name(i) when record i's stored string is its name and at most sharedTail
// bytes more (a set's member, a sorted set's member and score, a short hash value), else "".
// A key made from it (a tombstone of the element's replaced write) costs no allocation and
// keeps that string alive, not a large value, until it is collected.
func (t *elemTab[P]) sharedName(i uint32) string {
	if i+1 == t.gone {
		return t.goneName
	}
	r := t.rec(i)
	if len(r.kv)-int(r.nlen) > sharedTail {
		return ""
	}
	return r.kv[:r.nlen]
}

// dots returns record i's writes: buf holding its one inline write, or its multi slice
// (read only: put copies, so the caller may keep it across a put of the element).
func (t *elemTab[P]) dots(i uint32, buf *[1]Dotted[P]) []Dotted[P] {
	r := t.rec(i)
	if r.rep == repMulti {
		return t.multi[i]
	}
	buf[0].Dot = Version{TS: r.ts, Replica: t.reps[r.rep]}
	unpackInline(r.kv[r.nlen:], &buf[0].P)
	return buf[:]
}

// get returns e's writes (nil when absent), as dots does.
func (t *elemTab[P]) get(e string, buf *[1]Dotted[P]) []Dotted[P] {
	i, ok := t.find(e)
	if !ok {
		return nil
	}
	return t.dots(i, buf)
}

func (t *elemTab[P]) has(e string) bool { _, ok := t.find(e); return ok }

// repIndex returns the index of replica r in reps, adding it.
func (t *elemTab[P]) repIndex(r ReplicaID) uint32 {
	if t.repAt != nil {
		if i, ok := t.repAt[r]; ok {
			return i
		}
	} else if i := slices.Index(t.reps, r); i >= 0 {
		return uint32(i)
	}
	if t.reps == nil {
		t.reps = t.rp0[:0:inlReps]
	}
	t.reps = append(t.reps, r)
	i := uint32(len(t.reps) - 1)
	if len(t.reps) > repScan {
		if t.repAt == nil {
			t.repAt = make(map[ReplicaID]uint32, 2*repScan)
			for j, x := range t.reps {
				t.repAt[x] = uint32(j)
			}
		}
		t.repAt[r] = i
	}
	return i
}

// put sets e's writes to ds (non-empty; copied, payloads too, so they may be views of an
// input) and returns e's record number.
func (t *elemTab[P]) put(e string, ds []Dotted[P]) uint32 {
	i, ok := t.find(e)
	if !ok {
		i = t.insert(e)
	}
	t.putAt(i, ds)
	return i
}

// putAt sets record i's writes to ds (non-empty; copied as put copies them).
func (t *elemTab[P]) putAt(i uint32, ds []Dotted[P]) {
	r := t.rec(i)
	if len(ds) == 1 && hasInline(&ds[0].P) {
		if r.rep == repMulti {
			delete(t.multi, i)
		}
		if r.rep == repMulti || !inlineEqual(r.kv[r.nlen:], &ds[0].P) {
			r.kv = packInline(r.kv[:r.nlen], &ds[0].P)
		}
		r.rep, r.ts = t.repIndex(ds[0].Dot.Replica), ds[0].Dot.TS
		return
	}
	if r.rep != repMulti {
		r.kv = r.kv[:r.nlen] // the name alone (shares the old string: no allocation)
		r.rep = repMulti
	}
	if t.multi == nil {
		t.multi = map[uint32][]Dotted[P]{}
	}
	own := slices.Clone(ds)
	for j := range own {
		ownPayload(&own[j].P)
	}
	t.multi[i] = own
}

// insert adds element e with no writes yet (put sets them) and returns its record number.
func (t *elemTab[P]) insert(e string) uint32 {
	if (t.n+1)*4 > len(t.index())*3 {
		t.grow()
	}
	var i uint32
	if k := len(t.free); k > 0 {
		i, t.free = t.free[k-1], t.free[:k-1]
	} else {
		i = t.push(elemRec{})
	}
	if i+1 == t.gone {
		t.gone, t.goneName = 0, ""
	}
	*t.rec(i) = elemRec{kv: e, nlen: uint32(len(e))}
	t.place(t.hash(e), i)
	t.n++
	return i
}

// push appends record r as the next number and returns it. The first page grows with the
// table (a delta of one element stays small); later ones are whole pages, so records never
// move once the table is large.
func (t *elemTab[P]) push(r elemRec) uint32 {
	i := t.top
	t.top++
	if i < pageSize {
		if t.p0 == nil {
			t.p0 = t.r0[:0:inlRecs]
		}
		t.p0 = append(t.p0, r)
		return i
	}
	p := int(i>>pageBits) - 1
	if p == len(t.pages) {
		t.pages = append(t.pages, make([]elemRec, 0, pageSize))
	}
	t.pages[p] = append(t.pages[p], r)
	return i
}

// place puts record i, whose name hashes to h, in its slot.
func (t *elemTab[P]) place(h uint64, i uint32) {
	slots := t.index()
	mask := uint64(len(slots) - 1)
	j := h & mask
	for slots[j] != 0 {
		j = (j + 1) & mask
	}
	slots[j] = (h&math.MaxUint32)<<32 | uint64(i+1)
}

func (t *elemTab[P]) grow() {
	if !t.inl && t.slots == nil {
		t.seed = maphash.MakeSeed()
		t.inl = true
		return
	}
	old := t.index()
	t.slots = make([]uint64, 2*len(old))
	t.inl = false
	for _, s := range old {
		if s != 0 {
			i := uint32(s) - 1
			t.place(t.hash(t.name(i)), i)
		}
	}
	t.s0 = [4]uint64{}
}

// del removes element e and reports whether it was present.
func (t *elemTab[P]) del(e string) bool {
	if t == nil || t.n == 0 {
		return false
	}
	h := t.hash(e)
	slots := t.index()
	mask := uint64(len(slots) - 1)
	tag := h & math.MaxUint32
	j := h & mask
	for ; ; j = (j + 1) & mask {
		s := slots[j]
		if s == 0 {
			return false
		}
		if s>>32 == tag && t.name(uint32(s)-1) == e {
			break
		}
	}
	i := uint32(slots[j]) - 1
	// Backward-shift deletion: later slots of the probe run move up when the hole is on
	// their way home (tag & mask is a slot's home while the table has under 2^32 slots).
	for k := (j + 1) & mask; slots[k] != 0; k = (k + 1) & mask {
		home := (slots[k] >> 32) & mask
		if (k-home)&mask >= (k-j)&mask {
			slots[j] = slots[k]
			j = k
		}
	}
	slots[j] = 0
	r := t.rec(i)
	if r.rep == repMulti {
		delete(t.multi, i)
	}
	t.gone, t.goneName = i+1, r.kv[:r.nlen]
	*r = elemRec{rep: repFree}
	t.free = append(t.free, i)
	t.n--
	if t.n == 0 {
		// Empty (an emptied collection stays as a state for a tombstone's lifetime): keep
		// nothing of its former size. Record numbers restart; the index has no node left
		// but the one of gone, which name still answers for.
		// rp0 stays in place: reps may point into it.
		reps, repAt, gone, goneName, rp0 := t.reps, t.repAt, t.gone, t.goneName, t.rp0
		*t = elemTab[P]{reps: reps, repAt: repAt, gone: gone, goneName: goneName, rp0: rp0}
	}
	return true
}

// each calls fn with every element until fn returns false; ds is valid during the call. fn may
// put or delete elements (an element it adds may or may not be visited).
func (t *elemTab[P]) each(fn func(e string, ds []Dotted[P]) bool) {
	if t == nil {
		return
	}
	var buf [1]Dotted[P]
	for i := uint32(0); i < t.top && t.n > 0; i++ {
		if t.rec(i).rep == repFree {
			continue
		}
		if !fn(t.name(i), t.dots(i, &buf)) {
			return
		}
	}
}

// clone returns a copy of t sharing nothing mutable (the stored strings are immutable).
func (t *elemTab[P]) clone() *elemTab[P] {
	if t == nil {
		return nil
	}
	out := new(elemTab[P])
	*out = *t
	out.slots = slices.Clone(t.slots)
	out.p0 = slices.Clone(t.p0)
	if t.ownRecs() { // in t's r0, copied to out's
		out.p0 = out.r0[:len(t.p0):inlRecs]
	}
	out.pages = make([][]elemRec, len(t.pages))
	for i, p := range t.pages {
		out.pages[i] = slices.Clone(p)
	}
	out.free = slices.Clone(t.free)
	out.reps = slices.Clone(t.reps)
	if unsafe.SliceData(t.reps) == &t.rp0[0] {
		out.reps = out.rp0[:len(t.reps):inlReps]
	}
	if t.repAt != nil {
		out.repAt = make(map[ReplicaID]uint32, len(t.repAt))
		for r, i := range t.repAt {
			out.repAt[r] = i
		}
	}
	if t.multi != nil {
		out.multi = make(map[uint32][]Dotted[P], len(t.multi))
		for i, ds := range t.multi {
			out.multi[i] = slices.Clone(ds)
		}
	}
	return out
}

// Inline payload forms: a set member's is empty, a hash field's is its value's bytes, a
// sorted-set absolute score's is its 8 IEEE 754 bytes; an increment has none.

func hasInline[P any](p *P) bool {
	if q, ok := any(p).(*zpay); ok {
		return !q.Incr
	}
	return true
}

// packInline returns name followed by p's inline form, in one allocation (name itself when
// the form is empty).
func packInline[P any](name string, p *P) string {
	switch q := any(p).(type) {
	case *[]byte:
		if len(*q) == 0 {
			return name
		}
		b := make([]byte, 0, len(name)+len(*q))
		b = append(append(b, name...), *q...)
		return unsafe.String(unsafe.SliceData(b), len(b))
	case *zpay:
		b := make([]byte, 0, len(name)+8)
		b = binary.LittleEndian.AppendUint64(append(b, name...), math.Float64bits(q.Score))
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	return name
}

// inlineEqual reports whether s is p's inline form.
func inlineEqual[P any](s string, p *P) bool {
	switch q := any(p).(type) {
	case *[]byte:
		return s == string(*q)
	case *zpay:
		return len(s) == 8 && binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8)) == math.Float64bits(q.Score)
	}
	return true
}

// unpackInline reads an inline form s into p (a hash value is a view of s: read only).
func unpackInline[P any](s string, p *P) {
	switch q := any(p).(type) {
	case *[]byte:
		if len(s) == 0 {
			*q = []byte{}
			return
		}
		*q = unsafe.Slice(unsafe.StringData(s), len(s))
	case *zpay:
		*q = zpay{Score: math.Float64frombits(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8)))}
	}
}

// sortedNames returns the element names in order; one (a delta's usual size) costs no
// allocation beyond buf's.
func (t *elemTab[P]) sortedNames(buf *[1]string) []string {
	if t.len() == 1 {
		t.each(func(e string, _ []Dotted[P]) bool { buf[0] = e; return false })
		return buf[:]
	}
	ks := make([]string, 0, t.len())
	t.each(func(e string, _ []Dotted[P]) bool { ks = append(ks, e); return true })
	slices.Sort(ks)
	return ks
}

// shrink renumbers the records densely, with an index sized to them, when at most a quarter
// of the records handed out hold elements (a collection that shrank keeps its high-water slab
// and index otherwise: records are reused, never moved), and reports whether it did: record
// numbers change, so a sorted set rebuilds its index. Collect calls it, outside any walk.
func (t *elemTab[P]) shrink() bool {
	if t == nil || t.top < 2*pageSize || t.n*4 > int(t.top) {
		return false
	}
	out := elemTab[P]{reps: t.reps, repAt: t.repAt, seed: t.seed, n: t.n, rp0: t.rp0}
	size := 4
	for size*3 < t.n*4+4 {
		size *= 2
	}
	out.slots = make([]uint64, size)
	for i := uint32(0); i < t.top; i++ {
		r := t.rec(i)
		if r.rep == repFree {
			continue
		}
		j := out.push(*r)
		if r.rep == repMulti {
			if out.multi == nil {
				out.multi = map[uint32][]Dotted[P]{}
			}
			out.multi[j] = t.multi[i]
		}
		out.place(out.hash(r.kv[:r.nlen]), j)
	}
	// Copied whole, t keeps reps pointing at its own rp0 (out carried its values over); p0,
	// if still in out's r0, is pointed at t's, which now holds the same records.
	inOut := out.ownRecs()
	*t = out
	if inOut {
		t.p0 = t.r0[:len(t.p0):inlRecs]
	}
	return true
}
