package crdt

import (
	"fmt"
	"unsafe"
)

// Set is an add-wins observed-remove set of byte-string members (a Redis set): an SREM removes
// only the adds it observed, so an SADD concurrent with an SREM of the same member leaves the
// member present. A Set is not safe for concurrent use; see NewSet.
type Set struct {
	c       orCore[struct{}]
	scratch *SetScratch // armed by UseScratch for the next write's delta
}

func noSize(struct{}) int { return 0 }

// NewSet returns an empty set of incarnation reset.
func NewSet(reset Version) *Set { return &Set{c: newCore[struct{}](reset)} }

// Reset is the set's incarnation.
func (s *Set) Reset() Version { return s.c.Reset }

// Len is the number of members.
func (s *Set) Len() int { s.c.settle(noSize); return s.c.elems.len() }

// Bytes approximates the memory the set holds.
func (s *Set) Bytes() int { s.c.settle(noSize); return s.c.bytes }

// Tombstones is the number of removed adds remembered until causally stable.
func (s *Set) Tombstones() int { s.c.settle(noSize); return s.c.ntomb }

// Expiry returns the set's expiry register.
func (s *Set) Expiry() int64 { return s.c.Expiry }

// Has reports whether m is a member.
func (s *Set) Has(m string) bool { s.c.settle(noSize); return s.c.elems.has(m) }

// Range calls fn for every member in unspecified order until fn returns false.
func (s *Set) Range(fn func(m string) bool) {
	s.c.settle(noSize)
	s.c.elems.each(func(m string, _ []Dotted[struct{}]) bool { return fn(m) })
}

// Add adds members as write dot and returns how many were new and the delta. A member already
// present is re-added (its observed adds replaced by this one), so the add wins over a
// concurrent remove elsewhere, as the writer saw the member present.
func (s *Set) Add(dot Version, members ...string) (int, *Set) {
	n := 0
	direct := dot.TS >= s.c.Floor
	d := newSetDelta(s.c.Reset, len(members), direct, s.takeScratch())
	for _, m := range members {
		if direct {
			var buf [1]Dotted[struct{}]
			at, found := s.c.elems.find(m)
			if found {
				if ds := s.c.elems.dots(at, &buf); len(ds) == 1 && ds[0].Dot == dot {
					continue // added earlier in this command
				}
			}
			if held, _ := s.c.writeLocalAt(&d.c, m, at, found, dot, struct{}{}, noSize); !held {
				n++
			}
			continue
		}
		if d.c.elems.has(m) {
			continue
		}
		if !s.c.removeDelta(&d.c, m) {
			n++
		}
		d.c.setElem(m, []Dotted[struct{}]{{Dot: dot}}, noSize)
	}
	if !direct {
		s.Join(d)
	}
	return n, d
}

// AddBytes is Add for members given as bytes the set does not keep (views of a request): a
// member the set holds is named, in the delta and in the removed write it replaces, by the
// set's own copy of its name, and only a new member's name is copied (where a caller of Add
// made a string of every member, an allocation of every SADD of a present one).
func (s *Set) AddBytes(dot Version, members [][]byte) (int, *Set) {
	if dot.TS < s.c.Floor {
		ms := make([]string, len(members))
		for i, b := range members {
			ms[i] = string(b)
		}
		return s.Add(dot, ms...)
	}
	n := 0
	d := newSetDelta(s.c.Reset, len(members), true, s.takeScratch())
	for _, b := range members {
		var buf [1]Dotted[struct{}]
		at, found := s.c.elems.find(unsafe.String(unsafe.SliceData(b), len(b)))
		m := ""
		if found {
			if ds := s.c.elems.dots(at, &buf); len(ds) == 1 && ds[0].Dot == dot {
				continue // added earlier in this command
			}
			m = s.c.elems.sharedName(at) // a member's record holds its name alone
		}
		if m == "" {
			m = string(b)
		}
		if held, _ := s.c.writeLocalAt(&d.c, m, at, found, dot, struct{}{}, noSize); !held {
			n++
		}
	}
	return n, d
}

// Rem removes members and returns how many were present and the delta (nil when none were).
func (s *Set) Rem(members ...string) (int, *Set) {
	d := NewSet(s.c.Reset)
	d.c.ExpVer = Version{}
	n := 0
	for _, m := range members {
		if !d.c.tomb.has(m) && s.c.removeDelta(&d.c, m) {
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	s.Join(d)
	return n, d
}

// SetExpiry writes the expiry register (0 = persist) and returns the delta.
func (s *Set) SetExpiry(dot Version, expiry int64) *Set {
	d := NewSet(s.c.Reset)
	d.c.Expiry, d.c.ExpVer = expiry, dot
	s.Join(d)
	return d
}

// Join merges in into s; the higher incarnation wins whole.
func (s *Set) Join(in *Set) {
	s.c.settle(noSize)
	in.c.settle(noSize)
	switch in.c.Reset.Compare(s.c.Reset) {
	case 1:
		s.c = in.c.clone()
		s.c.adopt()
	case 0:
		s.c.join(&in.c, noSize, func(string, priorDots[struct{}]) {})
	}
}

// Compact forgets removed adds stamped before stable.
func (s *Set) Compact(stable Timestamp) { s.c.settle(noSize); s.c.compact(stable) }

// Clone returns a deep copy of s.
func (s *Set) Clone() *Set { s.c.settle(noSize); return &Set{c: s.c.clone()} }

// AppendBinary appends s's encoding to dst.
func (s *Set) AppendBinary(dst []byte) []byte {
	return s.c.appendTo(dst, putNothing, noSize)
}

// DecodeSet decodes a set state or delta.
func DecodeSet(src []byte) (*Set, error) {
	c, err := decodeCore(src, noSize)
	if err != nil {
		return nil, fmt.Errorf("set: %w", err)
	}
	return &Set{c: c}, nil
}

// Full reports whether s is a complete state (see Hash.Full).
func (s *Set) Full() bool { return s.c.Full }

// MarkFull marks s complete.
func (s *Set) MarkFull() { s.c.Full = true }

// FlushBefore removes every add stamped at or before f.
func (s *Set) FlushBefore(f Timestamp) {
	s.c.settle(noSize)
	s.c.flushBefore(f, noSize, func(string, priorDots[struct{}]) {})
}

// CopyAs returns a new complete set of incarnation dot with s's members and expiry.
func (s *Set) CopyAs(dot Version) *Set {
	s.c.settle(noSize)
	return &Set{c: s.c.rebase(dot, func(string, []Dotted[struct{}]) struct{} { return struct{}{} }, noSize)}
}

func putNothing(b []byte, _ struct{}) []byte { return b }

// ApplyDelta is Hash.ApplyDelta for sets.
func (s *Set) ApplyDelta(src []byte) error {
	if err := s.c.applyEncoded(src, noSize, nil); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	return nil
}

// ApplyRun is Hash.ApplyRun for sets.
func (s *Set) ApplyRun(n int, src func(i int) []byte, maxTombs int) int {
	return s.c.applyRun(n, src, maxTombs, noSize, nil)
}
