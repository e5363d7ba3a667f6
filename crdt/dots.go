package crdt

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// Dotted is one surviving write of a collection element: the write's version, which is its
// dot (unique per write, so per element it names one add event), and what it wrote.
//
// P comes first: a zero-size payload (a set's) placed last would be padded to a word so that
// its address stays inside the struct, making a set member's one-dot slice 24 bytes, not 16.
type Dotted[P any] struct {
	P   P
	Dot Version
}

// orCore is the observed-remove dot store under hashes, sets and sorted sets.
//
// An element is present while at least one of its writes (dots) survives. A local write of an
// element removes the dots it observed and adds its own; a remove removes the observed dots.
// A removed (element, dot) pair is kept in tomb until the dot is older than Floor, the HLC below
// which this state has seen every write (the node's causal stability), so removes need no
// per-element tombstone forever: the causal context of a state is {every dot stamped before
// Floor} ∪ tomb ∪ the surviving dots. Join keeps a dot that both sides hold, or that one side
// holds and the other has not seen. That is the add-wins observed-remove rule: a concurrent
// remove never removes a write it did not observe.
//
// Reset is the incarnation: the version of the write that created the collection (after an
// absent key, a DEL or a value of another type). States of different incarnations do not mix:
// the higher Reset wins whole (see docs/design.md, "type conflicts"). Expiry is an LWW
// register of its own (ExpVer), so EXPIRE and PERSIST commute with element writes.
type orCore[P any] struct {
	Reset  Version
	Floor  Timestamp
	Expiry int64   // absolute unix ms, 0 = none
	ExpVer Version // version of the write that set Expiry (zero: never set)
	// Full marks a complete state: a local state, a full state shipped by a snapshot or a
	// read-through, or the delta of the write that created the incarnation (which holds every
	// element of it). A state built only from later element deltas is partial (the node hides
	// it from readers) until a full state of its incarnation joins it.
	Full bool

	elems *elemTab[P] // nil until the first element: a delta of local writes has none
	tomb  tombs       // removed writes by element (tombmap.go)
	ntomb int         // dots in tomb
	bytes int         // approximate memory of elems and tomb, kept current

	// ops, in a delta made by local writes (writeLocal), lists the writes instead of elems and
	// tomb: two maps and their entries cost more than the write itself (about 25 allocations
	// per HSET). settle turns them into elems and tomb when the delta is read or joined; a
	// delta of one element is encoded straight from its op (appendTo).
	ops []wop[P]

	// part, in a state decoded from a part of a large state (parts.go), is the range of
	// element names it covers; nil otherwise (adopt clears it).
	part *partRange
}

// wop is one local write of element e in a delta: it removed the dots of e its writer held
// (rm0, then rmx) and added dot with payload p.
type wop[P any] struct {
	e   string
	dot Version
	p   P
	rm0 Version // zero: none
	rmx []Version
}

// settle moves a delta's ops into elems and tomb (a no-op for any other state).
func (c *orCore[P]) settle(size func(P) int) {
	if c.ops == nil {
		return
	}
	ops := c.ops
	c.ops = nil
	for i := range ops {
		o := &ops[i]
		if o.rm0 != (Version{}) {
			c.addTomb(o.e, o.rm0)
		}
		for _, d := range o.rmx {
			c.addTomb(o.e, d)
		}
		c.setElem(o.e, []Dotted[P]{{Dot: o.dot, P: o.p}}, size)
	}
}

// Overheads charged by bytes (see elemBytes): an element's record in elemTab (32 bytes) and its
// share of the index (8-byte slots at 3/8 to 3/4 load), its one write's packed dot, and for an
// element held aside (multi) its map entry and its writes as Dotted values; a removed element's
// map entry in tomb and its removed dots. They are estimates of Go's layout, kept simple so the
// charge is stable, and checked against the live heap (go test ./crdt -run '^$' -bench
// CollectionCharge -benchtime 1000000x: live heap per element hash 81, set 65, sorted set
// 100 B, charged 78, 62, 97; with the maps of element to dots this replaced, 180, 132 and 250).
const (
	dotCost     = 8
	elemCost    = 40
	multiCost   = 48
	tombCost    = 96
	tombDotCost = 16
)

// elemBytes is what element e with writes ds is charged; size is a payload's inline cost.
func elemBytes[P any](e string, ds []Dotted[P], size func(P) int) int {
	n := elemCost + len(e)
	if len(ds) == 1 && hasInline(&ds[0].P) {
		return n + dotCost + size(ds[0].P)
	}
	n += multiCost
	for i := range ds {
		n += int(unsafe.Sizeof(ds[i])) + size(ds[i].P)
	}
	return n
}

func newCore[P any](reset Version) orCore[P] {
	// The maps are made on first write: a delta of one element would otherwise pay for two.
	return orCore[P]{Reset: reset, ExpVer: reset}
}

// covers reports whether the state has seen write d of element e.
func (c *orCore[P]) covers(e string, d Version) bool {
	if d.TS < c.Floor {
		return true
	}
	t, ok := c.tomb.get(e)
	return ok && t.has(d)
}

func holds[P any](ds []Dotted[P], d Version) bool {
	for i := range ds {
		if ds[i].Dot == d {
			return true
		}
	}
	return false
}

// setElem replaces element e's dots (copied), keeping bytes current; nil or empty deletes e.
func (c *orCore[P]) setElem(e string, ds []Dotted[P], size func(P) int) {
	var buf [1]Dotted[P]
	i, ok := c.elems.find(e)
	if ok {
		c.bytes -= elemBytes(e, c.elems.dots(i, &buf), size)
	}
	if len(ds) == 0 {
		if ok {
			c.elems.del(e)
		}
		return
	}
	if ok {
		c.elems.putAt(i, ds)
	} else {
		if c.elems == nil {
			c.elems = &elemTab[P]{}
		}
		c.elems.put(e, ds)
	}
	c.bytes += elemBytes(e, ds, size)
}

// setElemAt is setElem for element e held at record i with writes old (as dots gave them):
// the look-up setElem would make again is the caller's.
func (c *orCore[P]) setElemAt(i uint32, e string, old, ds []Dotted[P], size func(P) int) {
	if len(ds) == 0 {
		c.setElem(e, ds, size)
		return
	}
	c.bytes += elemBytes(e, ds, size) - elemBytes(e, old, size)
	c.elems.putAt(i, ds)
}

func (c *orCore[P]) addTomb(e string, d Version) {
	if d.TS < c.Floor {
		return
	}
	newElem, added := c.tomb.add(e, d)
	if newElem {
		c.bytes += tombCost + len(e)
	}
	if added {
		c.ntomb++
		c.bytes += tombDotCost
	}
}

// writeLocal applies a local write of element e (write dot, payload p) to c and records it in
// the delta d (as an op), with the result join(d) would have, without join's generic merge (a
// write's hot path): the dots of e that c holds are observed, so removed in both; the new one
// is added. A second write of e with the same dot (one command writing e twice) replaces the
// first. The caller uses join instead when dot is below c.Floor (join would drop it as already
// seen). It reports whether c held e before this delta.
func (c *orCore[P]) writeLocal(d *orCore[P], e string, dot Version, p P, size func(P) int) bool {
	at, found := c.elems.find(e)
	held, _ := c.writeLocalAt(d, e, at, found, dot, p, size)
	return held
}

// writeLocalAt is writeLocal for e found (or not) at record at by the caller, which looked it
// up for a reason of its own (a command's condition, a name to share): a write then looks its
// element up once, where each of these steps hashed and compared it again. It also returns
// e's record after the write.
func (c *orCore[P]) writeLocalAt(d *orCore[P], e string, at uint32, found bool, dot Version, p P, size func(P) int) (bool, uint32) {
	var buf, dbuf [1]Dotted[P]
	var old []Dotted[P]
	if found {
		old = c.elems.dots(at, &buf)
	}
	one := [1]Dotted[P]{{Dot: dot, P: p}}
	if len(old) == 1 && old[0].Dot == dot {
		// Written earlier in this delta: replace the payload in both.
		c.bytes += elemBytes(e, one[:], size) - elemBytes(e, old, size)
		c.elems.putAt(at, one[:])
		for i := len(d.ops) - 1; i >= 0; i-- {
			if d.ops[i].e == e {
				d.ops[i].p = p
				return true, at
			}
		}
		if ds := d.elems.get(e, &dbuf); len(ds) == 1 && ds[0].Dot == dot { // d was settled since
			d.setElem(e, []Dotted[P]{{Dot: dot, P: p}}, size)
		}
		return true, at
	}
	o := wop[P]{e: e, dot: dot, p: p}
	for i := range old {
		if i == 0 {
			o.rm0 = old[i].Dot
		} else {
			o.rmx = append(o.rmx, old[i].Dot)
		}
		c.addTomb(e, old[i].Dot)
	}
	if d.ops == nil {
		d.ops = make([]wop[P], 0, 1)
	}
	d.ops = append(d.ops, o)
	if len(old) == 1 {
		// One write replaced by one: in place.
		c.bytes += elemBytes(e, one[:], size) - elemBytes(e, old, size)
		c.elems.putAt(at, one[:])
		return true, at
	}
	if found {
		c.setElemAt(at, e, old, one[:], size)
		return true, at
	}
	return false, c.addElem(e, one[:], size)
}

// addElem adds element e, which c does not hold, with writes ds (non-empty; copied as put
// copies them) and returns its record.
func (c *orCore[P]) addElem(e string, ds []Dotted[P], size func(P) int) uint32 {
	if c.elems == nil {
		c.elems = &elemTab[P]{}
	}
	i := c.elems.insert(e)
	c.elems.putAt(i, ds)
	c.bytes += elemBytes(e, ds, size)
	return i
}

// observe returns a delta that removes every dot of e this state holds (nothing if it holds
// none), with the state's incarnation.
func (c *orCore[P]) removeDelta(d *orCore[P], e string) bool {
	var buf [1]Dotted[P]
	ds := c.elems.get(e, &buf)
	for i := range ds {
		d.addTomb(e, ds[i].Dot)
	}
	return len(ds) > 0
}

// join merges in into c. Both must be of the same incarnation (the caller compares Reset).
// changed is called for every element whose dots changed, with its dots before the change.
// Cost is proportional to in's elements and tombstones, plus c's elements when in has a Floor
// (full states; a delta has none).
//
// A complete in's Floor removes c's dots below it that in does not hold, whatever c's own
// Floor (floorRules): a Floor raised by the tombstone cap (tombs.go) covers dots its state
// never saw, so c may hold a late write below both floors that in counts as removed, and only
// dropping it here makes the join commutative (two states whose caps raised their floors to the
// same value, or in's below c's, must still converge).
func (c *orCore[P]) join(in *orCore[P], size func(P) int, changed func(e string, old priorDots[P])) {
	c.settle(size)
	in.settle(size)
	c.Full = c.Full || in.Full
	if in.ExpVer.Compare(c.ExpVer) > 0 {
		c.Expiry, c.ExpVer = in.Expiry, in.ExpVer
	}
	// An element is merged once: those of in.elems, then those only in in.tomb.
	var mbuf, tbuf [1]Dotted[P]
	mergeElem := func(e string, theirs []Dotted[P]) {
		mine := c.elems.get(e, &mbuf)
		var out []Dotted[P]
		for _, x := range mine {
			if holds(theirs, x.Dot) || !in.covers(e, x.Dot) {
				out = append(out, x)
			}
		}
		for _, x := range theirs {
			if !holds(mine, x.Dot) && !c.covers(e, x.Dot) {
				out = append(out, x)
			}
		}
		if !sameDots(mine, out) {
			// The removed dots join the context so the element stays removed in later joins.
			for _, x := range mine {
				if !holds(out, x.Dot) {
					c.addTomb(e, x.Dot)
				}
			}
			prev := priorOf(mine) // for changed: setElem reuses mbuf's record
			c.setElem(e, out, size)
			changed(e, prev)
		}
	}
	in.elems.each(func(e string, theirs []Dotted[P]) bool {
		mergeElem(e, theirs)
		return true
	})
	in.tomb.each(func(e string, ds dotSet) bool {
		if !in.elems.has(e) {
			mergeElem(e, in.elems.get(e, &tbuf))
		}
		ds.each(func(d Version) { c.addTomb(e, d) })
		return true
	})
	if floorRules(in.Floor, c.Floor, in.Full, in.part != nil) {
		c.elems.each(func(e string, ds []Dotted[P]) bool {
			if in.part != nil && !in.part.has(e) {
				return true // another part's name: that part's floor rules it
			}
			if in.elems.has(e) {
				return true
			}
			if in.tomb.has(e) {
				return true
			}
			var out []Dotted[P]
			for _, x := range ds {
				if x.Dot.TS >= in.Floor {
					out = append(out, x)
				}
			}
			if len(out) != len(ds) {
				if in.part != nil && !in.part.last {
					// The floor is not raised yet (parts.go): remember the removal.
					for _, x := range ds {
						if x.Dot.TS < in.Floor {
							c.addTomb(e, x.Dot)
						}
					}
				}
				prev := priorOf(ds)
				c.setElem(e, out, size)
				changed(e, prev)
			}
			return true
		})
		if in.part == nil || in.part.last {
			c.compact(in.Floor)
		}
	}
}

// floorRules reports whether a joined state's floor (inFloor; full: it is complete, part: it is
// one part of a state) removes the receiver's dots below it that it does not hold, given the
// receiver's floor: a complete whole state's always (join), any other's only above the
// receiver's, as before the cap could raise floors. A partial state (element deltas of an
// incarnation its node never held whole) lacks elements its floor does not say it removed, and
// a part other than the last does not carry the complete flag, so neither is trusted below
// the receiver's floor: a large collection shipped in parts converges only through a floor
// above the receiver's (docs/design.md).
func floorRules(inFloor, floor Timestamp, full, part bool) bool {
	return inFloor > floor || (inFloor != 0 && full && !part)
}

func sameDots[P any](a, b []Dotted[P]) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !holds(b, a[i].Dot) {
			return false
		}
	}
	return true
}

// compact raises Floor to stable and drops the tombstones it now covers. stable must be a time
// below which this state has seen every write (the node's causally stable time).
func (c *orCore[P]) compact(stable Timestamp) {
	if stable <= c.Floor {
		return
	}
	c.Floor = stable
	if c.ntomb == 0 {
		return
	}
	dots, elems, names := c.tomb.dropBelow(stable)
	c.ntomb -= dots
	c.bytes -= dots*tombDotCost + elems*tombCost + names
}

// flushBefore applies a flush marker stamped f (FLUSHALL): every write stamped at or before f
// is gone, whatever its element, and later writes survive, as for whole keys. Raising Floor
// past f makes the removal stick: a write stamped at or before f arriving later is covered, so
// it is dropped, and a state joined in that still holds such writes loses them (a dot below
// the other side's Floor that it does not hold). An expiry register written at or before f is
// cleared, under a version above every such write and below every later one. The result
// depends only on f and the writes, so every replica converges whatever the arrival order.
func (c *orCore[P]) flushBefore(f Timestamp, size func(P) int, changed func(e string, old priorDots[P])) {
	c.elems.each(func(e string, ds []Dotted[P]) bool {
		var out []Dotted[P]
		for _, x := range ds {
			if x.Dot.TS > f {
				out = append(out, x)
			}
		}
		if len(out) != len(ds) {
			prev := priorOf(ds)
			c.setElem(e, out, size)
			changed(e, prev)
		}
		return true
	})
	if c.ExpVer.TS <= f {
		c.Expiry, c.ExpVer = 0, Version{TS: f, Replica: ^ReplicaID(0)}
	}
	c.compact(f + 1)
}

// rebase returns a complete state of incarnation dot holding c's elements, each as one write
// dot with payload pay(element), and c's expiry (RENAME, COPY: a new key's first write).
func (c *orCore[P]) rebase(dot Version, pay func(e string, ds []Dotted[P]) P, size func(P) int) orCore[P] {
	out := newCore[P](dot)
	out.Full = true
	if c.Expiry != 0 {
		out.Expiry = c.Expiry
	}
	c.elems.each(func(e string, ds []Dotted[P]) bool {
		out.setElem(e, []Dotted[P]{{Dot: dot, P: pay(e, ds)}}, size)
		return true
	})
	return out
}

// clone returns a deep copy of c's structure (payloads are shared; they are never mutated).
func (c *orCore[P]) clone() orCore[P] {
	out := *c
	out.elems = c.elems.clone()
	out.ops = slices.Clone(c.ops)
	out.tomb = c.tomb.clone()
	return out
}

// winner returns the highest dot of ds (ds non-empty).
func winner[P any](ds []Dotted[P]) *Dotted[P] {
	w := &ds[0]
	for i := 1; i < len(ds); i++ {
		if w.Dot.Less(ds[i].Dot) {
			w = &ds[i]
		}
	}
	return w
}

// Collection state encoding (inside Entry.Value of a TypeHash/TypeSet/TypeZSet delta):
//
//	state = format:u8 flags:u8 reset:version floor:fixed64 expiry:varint expVer:version
//	        nelem:uvarint elem*nelem ntomb:uvarint tomb*ntomb
//	elem  = len:uvarint name ndots:uvarint (dot:version payload)*ndots
//	tomb  = len:uvarint name ndots:uvarint dot:version*ndots
//	version = ts:fixed64 replica:fixed64
//
// flags bit 0 is Full; other bits are ErrVersion. Elements and dots are written sorted, so equal
// states encode to equal bytes.
const (
	collFormat   = 1
	collFlagFull = 1
)

const minVersionLen = 16

// appendVersion and reader.version (counter.go) encode versions for collections too.

// sortedKeys returns m's keys in order; one (a delta's usual size) costs no allocation
// beyond buf's.
func sortedKeys[V any](m map[string]V, buf *[1]string) []string {
	if len(m) == 1 {
		for k := range m {
			buf[0] = k
		}
		return buf[:]
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (c *orCore[P]) appendTo(dst []byte, put func([]byte, P) []byte, size func(P) int) []byte {
	if c.ops != nil && (c.elems.len() > 0 || c.tomb.len() > 0) {
		c.settle(size)
	}
	var fl byte
	if c.Full {
		fl = collFlagFull
	}
	// c.bytes is above the encoding's size (see elemCost, dotCost): one allocation.
	grow := c.bytes
	for i := range c.ops {
		grow += 3*minVersionLen + 8 + len(c.ops[i].e) + size(c.ops[i].p) + len(c.ops[i].rmx)*minVersionLen
	}
	dst = slices.Grow(dst, 64+grow)
	var kbuf [1]string
	dst = c.appendHeader(dst, fl)
	if c.ops != nil {
		return c.appendOps(dst, put)
	}
	dst = binary.AppendUvarint(dst, uint64(c.elems.len()))
	var ebuf [1]Dotted[P]
	for _, e := range c.elems.sortedNames(&kbuf) {
		dst = appendElem(dst, e, c.elems.get(e, &ebuf), put)
	}
	dst = binary.AppendUvarint(dst, uint64(c.tomb.len()))
	for _, e := range c.tomb.sortedNames(&kbuf) {
		t, _ := c.tomb.get(e)
		dst = appendTomb(dst, e, t)
	}
	return dst
}

// appendHeader encodes what precedes a state's elements: format, flags fl, incarnation,
// floor and expiry (appendTo, and each part of appendParts).
func (c *orCore[P]) appendHeader(dst []byte, fl byte) []byte {
	dst = append(dst, collFormat, fl)
	dst = appendVersion(dst, c.Reset)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(c.Floor))
	dst = binary.AppendVarint(dst, c.Expiry)
	return appendVersion(dst, c.ExpVer)
}

// appendElem encodes element e with its writes ds, in dot order, and their payloads.
func appendElem[P any](dst []byte, e string, ds []Dotted[P], put func([]byte, P) []byte) []byte {
	if len(ds) > 1 {
		ds = slices.SortedFunc(slices.Values(ds), func(a, b Dotted[P]) int { return a.Dot.Compare(b.Dot) })
	}
	dst = binary.AppendUvarint(dst, uint64(len(e)))
	dst = append(dst, e...)
	dst = binary.AppendUvarint(dst, uint64(len(ds)))
	for i := range ds {
		dst = appendVersion(dst, ds[i].Dot)
		dst = put(dst, ds[i].P)
	}
	return dst
}

// appendTomb encodes element e's removed dots t, in order.
func appendTomb(dst []byte, e string, t dotSet) []byte {
	var buf [1]Version
	ds := t.sorted(&buf)
	dst = binary.AppendUvarint(dst, uint64(len(e)))
	dst = append(dst, e...)
	dst = binary.AppendUvarint(dst, uint64(len(ds)))
	for _, d := range ds {
		dst = appendVersion(dst, d)
	}
	return dst
}

// appendOps encodes a delta's ops (unique elements, one dot each) as appendTo encodes the
// settled delta: the same bytes, without building its maps.
func (c *orCore[P]) appendOps(dst []byte, put func([]byte, P) []byte) []byte {
	ops := c.ops
	if len(ops) > 1 {
		ops = slices.Clone(ops)
		slices.SortFunc(ops, func(a, b wop[P]) int { return strings.Compare(a.e, b.e) })
	}
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	ntomb := 0
	for i := range ops {
		o := &ops[i]
		dst = binary.AppendUvarint(dst, uint64(len(o.e)))
		dst = append(dst, o.e...)
		dst = append(dst, 1)
		dst = appendVersion(dst, o.dot)
		dst = put(dst, o.p)
		if o.rm0 != (Version{}) {
			ntomb++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(ntomb))
	for i := range ops {
		o := &ops[i]
		if o.rm0 == (Version{}) {
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(o.e)))
		dst = append(dst, o.e...)
		dst = binary.AppendUvarint(dst, uint64(1+len(o.rmx)))
		if len(o.rmx) == 0 {
			dst = appendVersion(dst, o.rm0)
			continue
		}
		rm := append([]Version{o.rm0}, o.rmx...)
		slices.SortFunc(rm, Version.Compare)
		for _, d := range rm {
			dst = appendVersion(dst, d)
		}
	}
	return dst
}

// decodeCore decodes a state written by appendTo (counts are bounded by the input left before
// anything is allocated: see minPayload). Every element name and dot must be unique;
// an element with no dots, a dot at or below Floor listed as removed, or trailing bytes are
// ErrMalformed. Names and payloads never alias src.
func decodeCore[P any](src []byte, size func(P) int) (orCore[P], error) {
	return decodeCoreIn(src, size, nil)
}

// decodeCoreIn is decodeCore filling tab (empty; nil: a table of its own) with the elements.
func decodeCoreIn[P any](src []byte, size func(P) int, tab *elemTab[P]) (orCore[P], error) {
	r := reader{b: src}
	h, err := readCollHeader(&r)
	if err != nil {
		return orCore[P]{}, err
	}
	c := newCore[P](h.reset)
	c.elems = tab
	c.Full, c.Floor, c.Expiry, c.ExpVer, c.part = h.full, h.floor, h.expiry, h.expVer, h.part
	_, err = collBody(&r, c.Floor, h.part, deltaView[P]{}, func(name []byte, ds []Dotted[P]) {
		c.setElem(string(name), ds, size) // the table copies the payloads
	}, func(name []byte, ds []Version) error {
		e := string(name)
		for _, d := range ds {
			var buf [1]Dotted[P]
			if holds(c.elems.get(e, &buf), d) {
				return errTombLive
			}
			c.addTomb(e, d)
		}
		return nil
	})
	return c, err
}

// CollectionReset returns the incarnation (Reset version) of an encoded collection state
// without decoding it, so a node can resolve a type conflict cheaply.
func CollectionReset(src []byte) (Version, error) {
	r := reader{b: src}
	f, err := r.byte("collection format")
	if err != nil {
		return Version{}, err
	}
	if f != collFormat {
		return Version{}, fmt.Errorf("%w: collection format %d, want %d", ErrVersion, f, collFormat)
	}
	if _, err := r.byte("collection flags"); err != nil {
		return Version{}, err
	}
	return r.version("reset")
}
