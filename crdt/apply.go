package crdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"
)

// Applying an encoded delta in place. A replica receiving an element write used to decode it
// into a state of its own (two maps and their entries, a skiplist for a sorted set) and join
// that: on a cluster node most of a replicated write's CPU. applyEncoded parses the encoding
// into a view of it (slices of the input, no maps) and merges each of its elements into the
// stored state directly, with join's result (TestApplyEncodedMatchesJoin).

// collHeader is what an encoded state holds before its elements.
type collHeader struct {
	full   bool
	reset  Version
	floor  Timestamp
	expiry int64
	expVer Version
	part   *partRange // a part of a large state (parts.go)
}

func readCollHeader(r *reader) (collHeader, error) {
	var h collHeader
	f, err := r.byte("collection format")
	if err != nil {
		return h, err
	}
	if f != collFormat {
		return h, fmt.Errorf("%w: collection format %d, want %d", ErrVersion, f, collFormat)
	}
	fb, err := r.byte("collection flags")
	if err != nil {
		return h, err
	}
	if fb&^(collFlagFull|collFlagPart) != 0 {
		return h, fmt.Errorf("%w: unknown collection flags %#x", ErrVersion, fb)
	}
	h.full = fb&collFlagFull != 0
	if h.reset, err = r.version("reset"); err != nil {
		return h, err
	}
	fl, err := r.fixed64("floor")
	if err != nil {
		return h, err
	}
	h.floor = Timestamp(fl)
	if h.expiry, err = r.varint("expiry"); err != nil {
		return h, err
	}
	if h.expiry < 0 {
		return h, fmt.Errorf("%w: negative expiry", ErrMalformed)
	}
	if h.expVer, err = r.version("expiry version"); err != nil || fb&collFlagPart == 0 {
		return h, err
	}
	if h.part, err = readPartRange(r); err != nil {
		return h, err
	}
	if h.full && !h.part.last {
		return h, fmt.Errorf("%w: complete flag on a part other than the last", ErrMalformed)
	}
	return h, nil
}

// collBody walks an encoded state's elements and tombstones after its header, checking their
// order and counts. With onElem nil it appends them to v and returns it (a delta's view);
// otherwise it hands each to onElem or onTomb (the dots slice is reused: valid only during the
// call) and v is unused. Names and payloads alias the input. A tombstone dot below floor, or
// also live, is ErrMalformed. (One walk for both: decoding a large state streams, while
// applying a delta must not call out.) v goes in and out by value, and its slabs never reach
// the callbacks, so that escape analysis keeps a small delta's view, arrays included, on the
// caller's stack: a view stored through a pointer, or a slab that could flow to a callback,
// is moved to the heap once per delta (TestApplyDeltaAllocs).
func collBody[P any](r *reader, floor Timestamp, part *partRange, v deltaView[P],
	onElem func(name []byte, ds []Dotted[P]), onTomb func(name []byte, ds []Version) error) (deltaView[P], error) {
	view := onElem == nil
	minP := minPayload[P]()
	n, err := r.length("element count", r.rest()/(2+minVersionLen+minP))
	if err != nil {
		return v, err
	}
	var prev []byte
	var ds []Dotted[P] // the callbacks' buffer: never a slice of v's slab
	for i := 0; i < n; i++ {
		l, err := r.length("element", r.rest())
		if err != nil {
			return v, err
		}
		e := r.take(l)
		if i > 0 && bytes.Compare(e, prev) <= 0 {
			return v, fmt.Errorf("%w: elements not strictly sorted", ErrMalformed)
		}
		if part != nil && !part.hasBytes(e) {
			return v, fmt.Errorf("%w: element outside its part's range", ErrMalformed)
		}
		prev = e
		k, err := r.length("dot count", r.rest()/(minVersionLen+minP))
		if err != nil {
			return v, err
		}
		if k == 0 {
			return v, fmt.Errorf("%w: element with no dots", ErrMalformed)
		}
		if view {
			lo := len(v.dots)
			v.dots = slices.Grow(v.dots, k)[:lo+k]
			if err := readDots(r, v.dots[lo:]); err != nil {
				return v, err
			}
			v.elems = append(v.elems, viewElem{name: e, lo: lo, hi: lo + k})
			continue
		}
		ds = slices.Grow(ds[:0], k)[:k]
		if err := readDots(r, ds); err != nil {
			return v, err
		}
		onElem(e, ds)
	}
	n, err = r.length("tombstone count", r.rest()/(2+minVersionLen))
	if err != nil {
		return v, err
	}
	prev = nil
	var vs []Version // the callback's buffer, as ds
	ei := 0          // v's element a tombstone is checked against (both lists are sorted)
	for i := 0; i < n; i++ {
		l, err := r.length("tombstone element", r.rest())
		if err != nil {
			return v, err
		}
		e := r.take(l)
		if i > 0 && bytes.Compare(e, prev) <= 0 {
			return v, fmt.Errorf("%w: tombstones not strictly sorted", ErrMalformed)
		}
		if part != nil && !part.hasBytes(e) {
			return v, fmt.Errorf("%w: tombstone outside its part's range", ErrMalformed)
		}
		prev = e
		k, err := r.length("tombstone dot count", r.rest()/minVersionLen)
		if err != nil {
			return v, err
		}
		if k == 0 {
			return v, fmt.Errorf("%w: tombstone with no dots", ErrMalformed)
		}
		if !view {
			vs = slices.Grow(vs[:0], k)[:k]
			if err := readTombDots(r, vs, floor); err != nil {
				return v, err
			}
			if err := onTomb(e, vs); err != nil {
				return v, err
			}
			continue
		}
		lo := len(v.rm)
		v.rm = slices.Grow(v.rm, k)[:lo+k]
		rm := v.rm[lo:]
		if err := readTombDots(r, rm, floor); err != nil {
			return v, err
		}
		for ei < len(v.elems) && string(v.elems[ei].name) < string(e) {
			ei++
		}
		if ei < len(v.elems) && string(v.elems[ei].name) == string(e) {
			live := v.dots[v.elems[ei].lo:v.elems[ei].hi]
			for _, d := range rm {
				if holds(live, d) {
					return v, errTombLive
				}
			}
		}
		v.tombs = append(v.tombs, viewElem{name: e, lo: lo, hi: lo + k})
	}
	if r.rest() != 0 {
		return v, fmt.Errorf("%w: %d trailing bytes after collection", ErrMalformed, r.rest())
	}
	return v, nil
}

// readDots reads an element's len(ds) dots with their payloads, strictly sorted.
func readDots[P any](r *reader, ds []Dotted[P]) error {
	var err error
	for j := range ds {
		if ds[j].Dot, err = r.version("dot"); err != nil {
			return err
		}
		if j > 0 && ds[j].Dot.Compare(ds[j-1].Dot) <= 0 {
			return fmt.Errorf("%w: dots not strictly sorted", ErrMalformed)
		}
		if err = readPayload(r, &ds[j].P); err != nil {
			return err
		}
	}
	return nil
}

// readTombDots reads a tombstone's len(vs) dots, strictly sorted and none below floor.
func readTombDots(r *reader, vs []Version, floor Timestamp) error {
	var err error
	for j := range vs {
		if vs[j], err = r.version("tombstone dot"); err != nil {
			return err
		}
		if (j > 0 && vs[j].Compare(vs[j-1]) <= 0) || vs[j].TS < floor {
			return fmt.Errorf("%w: tombstone dot unsorted or below the floor", ErrMalformed)
		}
	}
	return nil
}

var errTombLive = fmt.Errorf("%w: tombstone dot also present", ErrMalformed)

// deltaView is a parsed encoded delta: its elements and tombstones as slices of the input,
// their dots in two shared slabs. It holds no arrays of its own (a pointer into itself would
// move it to the heap): the caller's viewBufs back a small delta's slices.
type deltaView[P any] struct {
	h     collHeader
	elems []viewElem
	tombs []viewElem
	dots  []Dotted[P]
	rm    []Version
}

// viewBufs holds a one-element delta's view without allocating: a local of the applier.
type viewBufs[P any] struct {
	e0 [1]viewElem
	t0 [1]viewElem
	d0 [2]Dotted[P]
	r0 [2]Version
}

// viewElem is one element of a view: its name and its dots' range in the view's slab.
type viewElem struct {
	name   []byte
	lo, hi int
}

// parseView parses src, validating it as decodeCore does, into a view whose slices start in
// b (which must outlive the view).
func parseView[P any](src []byte, b *viewBufs[P]) (deltaView[P], error) {
	v := deltaView[P]{elems: b.e0[:0], tombs: b.t0[:0], dots: b.d0[:0], rm: b.r0[:0]}
	r := reader{b: src}
	var err error
	if v.h, err = readCollHeader(&r); err != nil {
		return v, err
	}
	return collBody(&r, v.h.floor, v.h.part, v, nil, nil)
}

// readPayload reads one element write's payload: a hash value (a view of the input), a
// sorted-set score, or nothing (sets).
func readPayload[P any](r *reader, p *P) error {
	var err error
	switch q := any(p).(type) {
	case *[]byte:
		*q, err = viewBytes(r)
	case *zpay:
		*q, err = readZpay(r)
	}
	return err
}

// ownPayload copies a payload read by readPayload out of the input.
func ownPayload[P any](p *P) {
	if q, ok := any(p).(*[]byte); ok {
		*q = ownBytes(*q)
	}
}

// minPayload is the smallest encoding of a payload, which bounds counts by the input left.
func minPayload[P any]() int {
	var p P
	switch any(&p).(type) {
	case *[]byte:
		return 1
	case *zpay:
		return 9
	}
	return 0
}

// parseOne is parseView for the shape nearly every delta a replica receives has, an element
// write: no flags, no floor, a one-byte expiry, one element with one dot, and at most the
// one removed dot of that element its writer observed. It reads it straight through, where
// parseView's general walk (lengths checked against what is left, sort orders, a call and an
// error check per field) was most of a receiver's decoding. ok false: src has another shape
// (or is malformed), and parseView decides, with its errors. The view is the one parseView
// gives.
func parseOne[P any](src []byte, b *viewBufs[P]) (v deltaView[P], ok bool) {
	const hdr = 2 + minVersionLen + 8 // format, flags, reset, floor: then the expiry's varint
	if len(src) < hdr+1+minVersionLen+4 || src[0] != collFormat || src[1] != 0 ||
		binary.LittleEndian.Uint64(src[2+minVersionLen:]) != 0 || src[hdr] >= 0x80 {
		return v, false
	}
	exp, n := binary.Varint(src[hdr : hdr+1])
	if n != 1 {
		return v, false
	}
	r := reader{b: src, off: 2}
	v.h.reset, _ = r.version("")
	r.off = hdr + 1
	v.h.expiry = exp
	if v.h.expiry < 0 {
		return v, false
	}
	v.h.expVer, _ = r.version("")
	// One element: count 1, a one-byte name length, the name, one dot.
	if r.rest() < 2 || src[r.off] != 1 || src[r.off+1] >= 0x80 {
		return v, false
	}
	l := int(src[r.off+1])
	r.off += 2
	if r.rest() < l+1+minVersionLen || src[r.off+l] != 1 {
		return v, false
	}
	name := r.take(l)
	r.off++
	b.d0[0].Dot, _ = r.version("")
	if readPayload(&r, &b.d0[0].P) != nil || r.rest() < 1 {
		return v, false
	}
	v.elems, v.dots = b.e0[:1], b.d0[:1]
	v.elems[0] = viewElem{name: name, lo: 0, hi: 1}
	v.tombs, v.rm = b.t0[:0], b.r0[:0]
	switch src[r.off] {
	case 0:
		r.off++
	case 1:
		// The same element's one removed dot, not its live one.
		r.off++
		if r.rest() != 2+l+minVersionLen || src[r.off] != byte(l) || src[r.off+1+l] != 1 ||
			string(src[r.off+1:r.off+1+l]) != string(name) {
			return v, false
		}
		r.off += 2 + l
		b.r0[0], _ = r.version("")
		if b.r0[0] == b.d0[0].Dot {
			return v, false
		}
		v.tombs, v.rm = b.t0[:1], b.r0[:1]
		v.tombs[0] = viewElem{name: src[r.off-minVersionLen-1-l : r.off-minVersionLen-1], lo: 0, hi: 1}
	default:
		return v, false
	}
	return v, r.rest() == 0
}

// parseDelta is parseView with parseOne's fast path.
func parseDelta[P any](src []byte, b *viewBufs[P]) (deltaView[P], error) {
	if v, ok := parseOne(src, b); ok {
		return v, nil
	}
	return parseView(src, b)
}

// applyEncoded merges the encoded state or delta src into c, with the result
// c.join(decodeCore(src)) would have (the caller checks that src is of c's incarnation, e.g.
// with CollectionReset, and returns ErrVersion otherwise). get reads a payload as a view of
// src; own copies a kept payload out of it. changed is as for join (nil: nothing to tell).
// Malformed input is an error and changes nothing.
func (c *orCore[P]) applyEncoded(src []byte, size func(P) int, changed func(e string, old priorDots[P])) error {
	var bufs viewBufs[P]
	v, err := parseDelta(src, &bufs)
	if err != nil {
		return err
	}
	if v.h.reset != c.Reset {
		return fmt.Errorf("%w: delta of incarnation %v applied to %v", ErrVersion, v.h.reset, c.Reset)
	}
	c.settle(size)
	if floorRules(v.h.floor, c.Floor, v.h.full, v.h.part != nil) {
		// A state whose floor removes this state's dots below it that it does not hold (join,
		// floorRules; a delta has no floor): a walk of every element; rare (anti-entropy,
		// read-through, a creating write, a capped collection shipped whole), so join does it.
		in, err := decodeCore(src, size)
		if err != nil {
			return err
		}
		if changed == nil {
			changed = func(string, priorDots[P]) {}
		}
		c.join(&in, size, changed)
		return nil
	}
	c.applyView(v, size, changed)
	return nil
}

// applyView merges a parsed delta of c's incarnation whose floor rules nothing (floorRules
// false) into c: applyEncoded's merge.
func (c *orCore[P]) applyView(v deltaView[P], size func(P) int, changed func(e string, old priorDots[P])) {
	c.Full = c.Full || v.h.full
	if v.h.expVer.Compare(c.ExpVer) > 0 {
		c.Expiry, c.ExpVer = v.h.expiry, v.h.expVer
	}
	ti := 0
	for ei := range v.elems {
		x := &v.elems[ei]
		var rm []Version
		for ti < len(v.tombs) && string(v.tombs[ti].name) < string(x.name) {
			t := &v.tombs[ti]
			c.applyElem(t.name, nil, v.rm[t.lo:t.hi], v.h.floor, size, changed)
			ti++
		}
		if ti < len(v.tombs) && string(v.tombs[ti].name) == string(x.name) {
			rm = v.rm[v.tombs[ti].lo:v.tombs[ti].hi]
			ti++
		}
		c.applyElem(x.name, v.dots[x.lo:x.hi], rm, v.h.floor, size, changed)
	}
	for ; ti < len(v.tombs); ti++ {
		t := &v.tombs[ti]
		c.applyElem(t.name, nil, v.rm[t.lo:t.hi], v.h.floor, size, changed)
	}
}

// applyRun merges the encoded deltas src(0), ..., src(n-1) into c in order, each with the
// result applyEncoded gives it, and returns how many it merged: it stops before the first it
// does not take, which the caller applies on its own (applyEncoded, or the node's type rule
// between incarnations) — malformed, of another incarnation, or with a floor that rules
// (join's walk) — and after one that changes the expiry register (the node looks at the
// expiry between) or leaves c holding more removed writes than max(maxTombs, its elements):
// the caller's Collect caps them there, as after a delta merged alone. A replica receives a
// writer's flood to one collection (SADDs to one set) as runs of such deltas: the run is
// parsed WarmMax deltas at a time, their elements warmed together (elemTab.warm: the
// look-ups' misses overlap), and then merged, each parsed once.
//
// The views and their buffers are locals of this function, assigned directly: a view stored
// through a pointer (a struct of them handed to a parser) moved them all to the heap, 14 KB
// per run.
func (c *orCore[P]) applyRun(n int, src func(int) []byte, maxTombs int, size func(P) int, changed func(e string, old priorDots[P])) int {
	c.settle(size)
	var (
		bufs  [WarmMax]viewBufs[P]
		views [WarmMax]deltaView[P]
		names [WarmMax]string
	)
	done := 0
	for done < n {
		k := 0
		for ; k < WarmMax && done+k < n; k++ {
			v, err := parseDelta(src(done+k), &bufs[k])
			if err != nil || v.h.reset != c.Reset || floorRules(v.h.floor, c.Floor, v.h.full, v.h.part != nil) {
				break
			}
			views[k] = v
			switch {
			case len(v.elems) > 0:
				names[k] = unsafe.String(unsafe.SliceData(v.elems[0].name), len(v.elems[0].name))
			case len(v.tombs) > 0:
				names[k] = unsafe.String(unsafe.SliceData(v.tombs[0].name), len(v.tombs[0].name))
			default:
				names[k] = ""
			}
		}
		c.elems.warm(names[:k])
		for i := range k {
			expVer := c.ExpVer
			c.applyView(views[i], size, changed)
			if c.ExpVer != expVer || c.ntomb > max(maxTombs, c.elems.len()) {
				return done + i + 1
			}
		}
		clear(names[:k])
		done += k
		if k < WarmMax {
			break
		}
	}
	return done
}

// priorDots is an element's writes before a change, as a change hook (changed) receives
// them: up to two by value, more as a copy. A slice handed to a hook, a func value whose
// body escape analysis cannot see, escapes: a copy of it per change (a sorted set's every
// ZADD on a replica) was a heap allocation, and a view of the applier's buffers would move
// them to the heap. The name handed with it is valid only during the call.
type priorDots[P any] struct {
	n    int
	a    [2]Dotted[P]
	more []Dotted[P] // more than len(a) writes (concurrent ones): a copy
}

func priorOf[P any](ds []Dotted[P]) priorDots[P] {
	var p priorDots[P]
	if len(ds) > len(p.a) {
		p.more = slices.Clone(ds)
		return p
	}
	p.n = copy(p.a[:], ds)
	return p
}

// dots returns the writes (aliasing p; nil when there were none).
func (p *priorDots[P]) dots() []Dotted[P] {
	if p.more != nil {
		return p.more
	}
	if p.n == 0 {
		return nil
	}
	return p.a[:p.n]
}

// applyElem is join's merge of one element name: the delta holds its dots theirs (payloads
// aliasing the input) and removed rm, and has seen every dot below floor.
func (c *orCore[P]) applyElem(name []byte, theirs []Dotted[P], rm []Version, floor Timestamp,
	size func(P) int, changed func(e string, old priorDots[P])) {
	var mbuf [1]Dotted[P]
	view := unsafe.String(unsafe.SliceData(name), len(name)) // for lookups only: never kept
	var mine []Dotted[P]
	e := "" // name as a string, made once when something is stored under it
	at, held := c.elems.find(view)
	if held {
		mine = c.elems.dots(at, &mbuf)
		e = c.elems.sharedName(at) // a held element's tombstones share its stored name
	}
	str := func() string {
		if e == "" {
			e = string(name)
		}
		return e
	}
	inCovers := func(d Version) bool { return d.TS < floor || slices.Contains(rm, d) }
	var obuf [4]Dotted[P]
	out := obuf[:0]
	for _, x := range mine {
		if holds(theirs, x.Dot) || !inCovers(x.Dot) {
			out = append(out, x)
		}
	}
	kept := len(out)
	for _, x := range theirs {
		if !holds(mine, x.Dot) && !c.coversName(name, x.Dot) {
			out = append(out, x)
		}
	}
	if kept != len(mine) || len(out) != kept {
		var prev priorDots[P] // mine before the change, for changed (mine may be changed in place)
		if changed != nil {
			prev = priorOf(mine)
		}
		for _, x := range mine {
			if !holds(out, x.Dot) {
				c.addTomb(str(), x.Dot)
			}
		}
		if held {
			c.setElemAt(at, view, mine, out, size) // an element held: its stored name is kept
		} else {
			c.setElem(str(), out, size)
		}
		if changed != nil {
			changed(view, prev) // the hook keeps no name: see priorDots
		}
	}
	for _, d := range rm {
		// A removed dot this state held went to tomb above (a dot both live and removed in
		// the delta is malformed), or is below Floor: looking it up again was a map access of
		// every replicated rewrite.
		if d.TS >= c.Floor && !holds(mine, d) && !c.coversName(name, d) {
			c.addTomb(str(), d)
		}
	}
}

// coversName is covers for an element named by bytes (a map lookup that does not allocate).
func (c *orCore[P]) coversName(name []byte, d Version) bool {
	if d.TS < c.Floor {
		return true
	}
	t, ok := c.tomb.getBytes(name)
	return ok && t.has(d)
}
