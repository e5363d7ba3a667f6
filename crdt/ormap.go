package crdt

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Hash is an observed-remove map of fields to byte strings (a Redis hash). Each field is a
// last-writer-wins register over its surviving writes: concurrent writes of one field both
// survive the join and a read returns the one with the higher version; the next local write of
// the field observes (removes) both. Writes of different fields never interfere, and a
// concurrent HDEL removes only the writes it observed (add/update wins).
//
// HINCRBY and HINCRBYFLOAT are read-modify-writes of the register, not counters: a Redis hash
// field is a string that HSET may overwrite with anything at any time, so a counter would have
// to define what "+1 concurrent with HSET f abc" means; the register keeps one rule for every
// field. (Concurrent increments of one field in two regions keep one of them; use a sorted
// set's ZINCRBY or a counter key where increments must sum.)
//
// A Hash is not safe for concurrent use. The zero value is not usable; see NewHash.
type Hash struct {
	c       orCore[[]byte]
	scratch *HashScratch // armed by UseScratch for the next write's delta
}

// bytesSize is what a field value costs: its bytes, inline after the field name (elems.go),
// and their share of the allocation's rounding.
func bytesSize(p []byte) int { return 4 + len(p) }

// NewHash returns an empty hash of incarnation reset (the version of the creating write).
func NewHash(reset Version) *Hash { return &Hash{c: newCore[[]byte](reset)} }

// Reset is the hash's incarnation; see docs/design.md.
func (h *Hash) Reset() Version { return h.c.Reset }

// Len is the number of fields.
func (h *Hash) Len() int { h.c.settle(bytesSize); return h.c.elems.len() }

// Bytes approximates the memory the hash holds (fields, values, dots, tombstones).
func (h *Hash) Bytes() int { h.c.settle(bytesSize); return h.c.bytes }

// Tombstones is the number of removed writes remembered until causally stable.
func (h *Hash) Tombstones() int { h.c.settle(bytesSize); return h.c.ntomb }

// Expiry returns the hash's expiry register (unix ms, 0 = none).
func (h *Hash) Expiry() int64 { return h.c.Expiry }

// Get returns a field's value (shared: do not modify).
func (h *Hash) Get(field string) ([]byte, bool) {
	h.c.settle(bytesSize)
	var buf [1]Dotted[[]byte]
	ds := h.c.elems.get(field, &buf)
	if ds == nil {
		return nil, false
	}
	return winner(ds).P, true
}

// Range calls fn for every field in unspecified order until fn returns false.
func (h *Hash) Range(fn func(field string, val []byte) bool) {
	h.c.settle(bytesSize)
	h.c.elems.each(func(f string, ds []Dotted[[]byte]) bool { return fn(f, winner(ds).P) })
}

// Set writes fields (field, value pairs; later pairs of one field win) as the write dot and
// returns the delta to replicate, already applied to h.
func (h *Hash) Set(dot Version, pairs ...[2][]byte) *Hash {
	_, d := h.SetCounted(dot, pairs...)
	return d
}

// SetCounted is Set that also reports how many of the fields h did not hold (a field named
// twice counts once), as HSET answers: from the look-up the write makes anyway, where asking
// Get first looked each field up twice.
func (h *Hash) SetCounted(dot Version, pairs ...[2][]byte) (int, *Hash) {
	added := 0
	direct := dot.TS >= h.c.Floor
	d := newHashDelta(h.c.Reset, len(pairs), direct, h.takeScratch())
	if direct {
		for _, p := range pairs {
			at, found := h.c.elems.find(unsafe.String(unsafe.SliceData(p[0]), len(p[0])))
			if !found {
				added++ // a field named again is found: written by the pair before
			}
			h.c.writeLocalAt(&d.c, h.fieldName(p[0], at, found), at, found, dot, p[1], bytesSize)
		}
		return added, d
	}
	for _, p := range pairs {
		f := string(p[0])
		if !h.c.elems.has(f) && !d.c.elems.has(f) {
			added++
		}
		h.c.removeDelta(&d.c, f)
		d.c.setElem(f, []Dotted[[]byte]{{Dot: dot, P: p[1]}}, bytesSize)
	}
	h.Join(d)
	return added, d
}

// fieldName is field f as a string to keep (in the delta's op and a tombstone of the write it
// replaces): a held field's stored name when that keeps no large value alive (sharedName),
// else a copy, which was an allocation of every HSET.
// The caller looked f up: found at record at.
func (h *Hash) fieldName(f []byte, at uint32, found bool) string {
	if found {
		if e := h.c.elems.sharedName(at); e != "" {
			return e
		}
	}
	return string(f)
}

// Del removes fields and returns how many were present and the delta (nil when none were).
func (h *Hash) Del(fields ...string) (int, *Hash) {
	d := NewHash(h.c.Reset)
	d.c.ExpVer = Version{}
	n := 0
	for _, f := range fields {
		if !d.c.tomb.has(f) && h.c.removeDelta(&d.c, f) {
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	h.Join(d)
	return n, d
}

// SetExpiry writes the expiry register (0 = persist) as write dot and returns the delta.
func (h *Hash) SetExpiry(dot Version, expiry int64) *Hash {
	d := NewHash(h.c.Reset)
	d.c.Expiry, d.c.ExpVer = expiry, dot
	h.Join(d)
	return d
}

// Join merges in (a delta or a full state) into h. A state of a higher incarnation replaces h;
// a lower one is ignored.
func (h *Hash) Join(in *Hash) {
	h.c.settle(bytesSize)
	in.c.settle(bytesSize)
	switch in.c.Reset.Compare(h.c.Reset) {
	case 1:
		h.c = in.c.clone()
		h.c.adopt()
	case 0:
		h.c.join(&in.c, bytesSize, func(string, priorDots[[]byte]) {})
	}
}

// Compact forgets removed writes stamped before stable, the node's causally stable time.
func (h *Hash) Compact(stable Timestamp) { h.c.settle(bytesSize); h.c.compact(stable) }

// Clone returns a deep copy of h.
func (h *Hash) Clone() *Hash { h.c.settle(bytesSize); return &Hash{c: h.c.clone()} }

// AppendBinary appends h's encoding (see dots.go) to dst.
func (h *Hash) AppendBinary(dst []byte) []byte {
	return h.c.appendTo(dst, putBytes, bytesSize)
}

// DecodeHash decodes a hash state or delta. Errors wrap ErrMalformed or ErrVersion; values
// never alias src.
func DecodeHash(src []byte) (*Hash, error) {
	c, err := decodeCore(src, bytesSize)
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	return &Hash{c: c}, nil
}

// Full reports whether h is a complete state (see orCore.Full); MarkFull sets it.
func (h *Hash) Full() bool { return h.c.Full }

// MarkFull marks h complete: the delta of an incarnation's creating write holds all of it.
func (h *Hash) MarkFull() { h.c.Full = true }

// FlushBefore removes every write stamped at or before f (a FLUSHALL marker's timestamp).
func (h *Hash) FlushBefore(f Timestamp) {
	h.c.settle(bytesSize)
	h.c.flushBefore(f, bytesSize, func(string, priorDots[[]byte]) {})
}

// CopyAs returns a new complete hash of incarnation dot with h's fields and expiry, each field
// written by dot (RENAME and COPY).
func (h *Hash) CopyAs(dot Version) *Hash {
	h.c.settle(bytesSize)
	return &Hash{c: h.c.rebase(dot, func(_ string, ds []Dotted[[]byte]) []byte { return winner(ds).P }, bytesSize)}
}

func putBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// viewBytes reads a field value as a view of the input.
func viewBytes(r *reader) ([]byte, error) {
	n, err := r.length("field value", r.rest())
	if err != nil {
		return nil, err
	}
	return r.take(n), nil
}

// ownBytes copies a value out of the input (empty, not nil, when empty).
func ownBytes(p []byte) []byte { return append(make([]byte, 0, len(p)), p...) }

// ApplyDelta merges an encoded delta (or state) of h's incarnation into h in place, with the
// result of Join(DecodeHash(src)) but without decoding it into a hash of its own (a replica's
// hot path: no maps per delta). Malformed input, or another incarnation (ErrVersion), is an
// error and changes nothing.
func (h *Hash) ApplyDelta(src []byte) error {
	if err := h.c.applyEncoded(src, bytesSize, nil); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	return nil
}

// ApplyRun merges encoded deltas src(0), ..., src(n-1) of h's incarnation into h in order,
// each as ApplyDelta would, and returns how many it merged. It stops before the first it does
// not take (malformed, of another incarnation, a full state whose floor rules), which the
// caller applies on its own (ApplyDelta, or its rule between incarnations), and after one that
// changes the expiry register or leaves more removed writes than max(maxTombs, Len()) (where
// the caller's Collect caps them, as after ApplyDelta). A replica's run of deltas to one hash (a writer's HSET flood)
// costs one parse of each and their elements warmed together (Warm).
func (h *Hash) ApplyRun(n int, src func(i int) []byte, maxTombs int) int {
	return h.c.applyRun(n, src, maxTombs, bytesSize, nil)
}
