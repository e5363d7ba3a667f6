package crdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// A large collection (a hash of a million fields) is shipped by anti-entropy and saved in
// snapshots as parts rather than one encoding, which would exceed a frame or a block. A part is
// the state restricted to a range [lo, hi) of element names: the header of the whole state
// (incarnation, floor, expiry), then the elements and removed writes whose names fall in the
// range, so each part holds a few MiB.
//
// Parts are applied in order. Joining a part is joining the state for the names in its range:
// its floor removes this state's writes below it only for those names (a whole state's floor
// removes them for every name it does not hold, which a part cannot say of names outside its
// range), and the writes so removed are remembered as removed, since the floor itself is
// raised only by the last part, when every range has been joined. A part adopted as a new
// state (the receiver held none of the incarnation) keeps no floor until the last part, and
// only the last part carries the complete flag, so a receiver serves the collection only once
// all of it has arrived.
//
//	part header = the state header with flag collFlagPart, then lo:(len:uvarint bytes)
//	              last:u8 (1: hi is unbounded) [hi:(len:uvarint bytes)]

const collFlagPart = 2

// partRange is the range of element names a part covers.
type partRange struct {
	lo, hi []byte
	last   bool // hi is unbounded
}

func (p *partRange) has(name string) bool {
	return name >= string(p.lo) && (p.last || name < string(p.hi))
}

func (p *partRange) hasBytes(name []byte) bool {
	return bytes.Compare(name, p.lo) >= 0 && (p.last || bytes.Compare(name, p.hi) < 0)
}

func readPartRange(r *reader) (*partRange, error) {
	p := &partRange{}
	n, err := r.length("part start", r.rest())
	if err != nil {
		return nil, err
	}
	p.lo = bytes.Clone(r.take(n))
	last, err := r.byte("part end flag")
	if err != nil {
		return nil, err
	}
	if last > 1 {
		return nil, fmt.Errorf("%w: part end flag %d", ErrMalformed, last)
	}
	if p.last = last == 1; !p.last {
		if n, err = r.length("part end", r.rest()); err != nil {
			return nil, err
		}
		p.hi = bytes.Clone(r.take(n))
		if bytes.Compare(p.lo, p.hi) >= 0 {
			return nil, fmt.Errorf("%w: empty part range", ErrMalformed)
		}
	}
	return p, nil
}

// adopt prepares a decoded state to be stored as this replica's state of its incarnation: a
// part other than the last has not seen the writes of the other ranges, so it keeps no floor
// (its removed writes are kept), and the stored state is no longer a part.
func (c *orCore[P]) adopt() {
	if c.part != nil && !c.part.last {
		c.Floor = 0
	}
	c.part = nil
}

// appendParts encodes c as parts of about limit bytes each, in order of their ranges, calling
// emit with each (the buffer is reused after emit returns). A state of at most limit bytes is
// one ordinary encoding.
func (c *orCore[P]) appendParts(limit int, put func([]byte, P) []byte, size func(P) int, emit func([]byte) error) error {
	c.settle(size)
	if c.bytes <= limit {
		return emit(c.appendTo(nil, put, size))
	}
	names := make([]string, 0, c.elems.len()+c.tomb.len())
	c.elems.each(func(e string, _ []Dotted[P]) bool { names = append(names, e); return true })
	c.tomb.each(func(e string, _ dotSet) bool {
		if !c.elems.has(e) {
			names = append(names, e)
		}
		return true
	})
	slices.Sort(names)
	var els, tombs, out []byte
	var buf [1]Dotted[P]
	nel, ntomb := 0, 0
	lo := ""
	cut := func(hi string, last bool) error {
		fl := byte(collFlagPart)
		if last && c.Full {
			fl |= collFlagFull
		}
		out = c.appendHeader(out[:0], fl)
		out = binary.AppendUvarint(out, uint64(len(lo)))
		out = append(out, lo...)
		if last {
			out = append(out, 1)
		} else {
			out = append(out, 0)
			out = binary.AppendUvarint(out, uint64(len(hi)))
			out = append(out, hi...)
		}
		out = binary.AppendUvarint(out, uint64(nel))
		out = append(out, els...)
		out = binary.AppendUvarint(out, uint64(ntomb))
		out = append(out, tombs...)
		els, tombs, nel, ntomb, lo = els[:0], tombs[:0], 0, 0, hi
		return emit(out)
	}
	for _, e := range names {
		if len(els)+len(tombs) >= limit {
			if err := cut(e, false); err != nil {
				return err
			}
		}
		if ds := c.elems.get(e, &buf); ds != nil {
			els = appendElem(els, e, ds, put)
			nel++
		}
		if t, ok := c.tomb.get(e); ok {
			tombs = appendTomb(tombs, e, t)
			ntomb++
		}
	}
	return cut("", true)
}

// AppendParts encodes h in parts of about limit bytes (parts.go), calling emit with each in
// order (the buffer is reused after emit returns); a hash of at most limit bytes is one
// AppendBinary encoding. Decoding and joining the parts in order is joining h.
func (h *Hash) AppendParts(limit int, emit func([]byte) error) error {
	return h.c.appendParts(limit, putBytes, bytesSize, emit)
}

// AppendParts is Hash.AppendParts for sets.
func (s *Set) AppendParts(limit int, emit func([]byte) error) error {
	return s.c.appendParts(limit, putNothing, noSize, emit)
}

// AppendParts is Hash.AppendParts for sorted sets.
func (z *ZSet) AppendParts(limit int, emit func([]byte) error) error {
	z.settle()
	return z.c.appendParts(limit, putZpay, zpaySize, emit)
}

// Adopt prepares a decoded state to be stored as the replica's state of its incarnation (it
// held none): a part other than the last keeps no floor, as it has not seen the other parts'
// writes (parts.go). A no-op for a whole state.
func (h *Hash) Adopt() { h.c.adopt() }

// Adopt is Hash.Adopt for sets.
func (s *Set) Adopt() { s.c.adopt() }

// Adopt is Hash.Adopt for sorted sets.
func (z *ZSet) Adopt() { z.c.adopt() }
