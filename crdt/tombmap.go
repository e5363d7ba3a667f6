package crdt

import (
	"hash/maphash"
	"slices"
	"unsafe"
)

// tombs holds a state's removed writes, by element. The first is held inline — one element
// and one removed dot (e, d) — and a map is made only when a second is removed before the
// first is collected: a small collection rewritten within the stability lag (a session
// store's one-field hashes on a cluster) kept a map of its own for that one removed write
// (about 450 B, allocated once and held for the collection's life), and each write and
// replica merge of it looked the map up, a dependent cache miss; inline, the removed write
// is in the state's own lines (the node's box: the 40 bytes fit in its size class).
//
// While m is nil, d is zero or (e, d) is the one removed write; once m is made it holds
// every removed write and (e, d) stays zero. The zero Version is no write's dot (writeLocal
// and the codec treat it as none).
type tombs struct {
	e string
	d Version
	m map[string]dotSet
	// f, once m holds tombFilterMin elements, filters look-ups of m: a name whose bits are
	// not set is not in m. A replica's merge of an element write asks m whether the write's
	// new dot was removed (covers): under a write flood to one large collection m holds every
	// element rewritten within the stability lag, tens of thousands, and each look-up missed
	// the cache on m's group for a name nearly never there (6 % of a receiver's CPU under an
	// SADD flood). The filter holds two bits of one word per name, one or two bytes a name:
	// a false "maybe" one time in 20 to 70, then m answers. Every name added sets its bits,
	// so it never misses a name m holds (refilter).
	f *tombFilter // behind a pointer: the state sits in the node's box, whose size class counts
}

// tombFilter is a tombs' filter: bit words, their hash's seed, and how many names set bits
// since it was built (names m has dropped since keep theirs: a stale bit costs only a look-up).
type tombFilter struct {
	w    []uint64
	seed maphash.Seed
	n    int
}

// tombFilterMin is the size of m from which its look-ups are filtered: a smaller map's
// groups stay cached.
const tombFilterMin = 256

// filterBits returns the word of f and the two bits name e sets there (f non-empty).
func (t *tombs) filterBits(e string) (int, uint64) {
	h := maphash.String(t.f.seed, e)
	return int(h & uint64(len(t.f.w)-1)), 1<<(h>>58) | 1<<(h>>52&63)
}

// mayHold reports whether m may hold e: false only when it does not.
func (t *tombs) mayHold(e string) bool {
	if t.f == nil {
		return true
	}
	w, b := t.filterBits(e)
	return t.f.w[w]&b == b
}

// refilter rebuilds f for m's names: none below tombFilterMin, else a word per 4 names or
// fewer (a power of two); add builds it again once 8 names a word set bits (m's and the
// stale ones of names dropped since), so a name has 8 to 16 bits, and a rebuild is paid for
// by as many adds as m held.
func (t *tombs) refilter() {
	if len(t.m) < tombFilterMin {
		t.f = nil
		return
	}
	n := 1
	for n*4 < len(t.m) {
		n *= 2
	}
	if t.f == nil {
		t.f = &tombFilter{seed: maphash.MakeSeed()}
	}
	if f := t.f; cap(f.w) >= n && cap(f.w) <= 4*n {
		f.w = f.w[:n]
		clear(f.w)
	} else {
		f.w = make([]uint64, n)
	}
	for e := range t.m {
		w, b := t.filterBits(e)
		t.f.w[w] |= b
	}
	t.f.n = len(t.m)
}

// len is the number of elements with removed writes.
func (t *tombs) len() int {
	if t.m != nil {
		return len(t.m)
	}
	if t.d != (Version{}) {
		return 1
	}
	return 0
}

// get returns element e's removed dots (a copy of the set's header: add through t only).
func (t *tombs) get(e string) (dotSet, bool) {
	if t.m != nil {
		if !t.mayHold(e) {
			return dotSet{}, false
		}
		ds, ok := t.m[e]
		return ds, ok
	}
	if t.d != (Version{}) && t.e == e {
		return dotSet{first: t.d}, true
	}
	return dotSet{}, false
}

// getBytes is get for a name given as bytes (no allocation).
func (t *tombs) getBytes(e []byte) (dotSet, bool) {
	if t.m != nil {
		if !t.mayHold(unsafe.String(unsafe.SliceData(e), len(e))) {
			return dotSet{}, false
		}
		ds, ok := t.m[string(e)]
		return ds, ok
	}
	if t.d != (Version{}) && t.e == string(e) {
		return dotSet{first: t.d}, true
	}
	return dotSet{}, false
}

func (t *tombs) has(e string) bool { _, ok := t.get(e); return ok }

// add records removed dot d of element e and reports whether e is new to t and whether d is.
func (t *tombs) add(e string, d Version) (newElem, added bool) {
	if t.m == nil {
		switch {
		case t.d == (Version{}) && d != (Version{}):
			t.e, t.d = e, d
			return true, true
		case t.d != (Version{}) && t.d == d && t.e == e:
			return false, false
		}
		// A second removed write: every one moves to the map.
		t.m = make(map[string]dotSet, 2)
		if t.d != (Version{}) {
			t.m[t.e] = dotSet{first: t.d}
		}
		t.e, t.d = "", Version{}
	}
	ds, ok := t.m[e]
	if !ds.add(d) {
		return false, false
	}
	t.m[e] = ds
	if !ok {
		switch {
		case t.f == nil && len(t.m) < tombFilterMin:
		case t.f == nil || t.f.n >= 8*len(t.f.w):
			t.refilter() // made, or made again past 8 names a word
		default:
			w, b := t.filterBits(e)
			t.f.w[w] |= b
			t.f.n++
		}
	}
	return !ok, true
}

// each calls fn with every element and its removed dots until fn returns false. fn must not
// add to t.
func (t *tombs) each(fn func(e string, ds dotSet) bool) {
	if t.m != nil {
		for e, ds := range t.m {
			if !fn(e, ds) {
				return
			}
		}
		return
	}
	if t.d != (Version{}) {
		fn(t.e, dotSet{first: t.d})
	}
}

// dropBelow forgets the removed dots stamped before ts; it returns how many dots it dropped
// and the summed name lengths and count of the elements left with none (for the byte charge).
func (t *tombs) dropBelow(ts Timestamp) (dots, elems, names int) {
	if t.m == nil {
		if t.d != (Version{}) && t.d.TS < ts {
			n := len(t.e)
			t.e, t.d = "", Version{}
			return 1, 1, n
		}
		return 0, 0, 0
	}
	for e, ds := range t.m {
		n := ds.dropBelow(ts)
		if n == 0 {
			continue
		}
		dots += n
		if ds.len() == 0 {
			delete(t.m, e)
			elems++
			names += len(e)
		} else {
			t.m[e] = ds
		}
	}
	if t.f != nil && len(t.m) < tombFilterMin/2 {
		t.f = nil // the names dropped keep their bits (add builds it again): not so few
	}
	return dots, elems, names
}

// sortedNames returns the elements in order; one costs no allocation beyond buf's.
func (t *tombs) sortedNames(buf *[1]string) []string {
	if t.m != nil {
		return sortedKeys(t.m, buf)
	}
	if t.d != (Version{}) {
		buf[0] = t.e
		return buf[:]
	}
	return nil
}

func (t *tombs) clone() tombs {
	out := tombs{e: t.e, d: t.d}
	if t.f != nil {
		out.f = &tombFilter{w: slices.Clone(t.f.w), seed: t.f.seed, n: t.f.n}
	}
	if t.m != nil {
		out.m = make(map[string]dotSet, len(t.m))
		for e, ds := range t.m {
			out.m[e] = ds.clone()
		}
	}
	return out
}
