package crdt

import "slices"

// dotSet is the set of removed dots of one element. Most elements have one (the write a
// rewrite replaced), held in first: a slice of one 16-byte dot was an allocation of every
// rewrite whose element had no removed write yet (on a replica, after each compaction), for
// the same memory (the map value grows by the 16 bytes the slice's own allocation took).
// More than one are kept in small; a hot element rewritten many times between two
// causal-stability passes (or during a partition, when nothing is stable) can have
// thousands, so past smallDots it switches to a map: every write of the element checks
// membership, and a linear scan made a re-add of one member cost O(removed writes)
// (redis-benchmark SADD of one member: 61k ops/s against redis-server's 540k).
//
// first is zero when unused (the zero Version is no write's dot: writeLocal and the codec
// treat it as none), and may be zero while small holds dots (after dropBelow); while big is
// set, first and small are empty.
type dotSet struct {
	first Version
	small []Version
	big   map[Version]struct{}
}

const smallDots = 8

func (s *dotSet) len() int {
	if s.big != nil {
		return len(s.big)
	}
	n := len(s.small)
	if s.first != (Version{}) {
		n++
	}
	return n
}

func (s *dotSet) has(d Version) bool {
	if s.big != nil {
		_, ok := s.big[d]
		return ok
	}
	return d != (Version{}) && s.first == d || slices.Contains(s.small, d)
}

// add adds d and reports whether it was new.
func (s *dotSet) add(d Version) bool {
	if s.has(d) {
		return false
	}
	if s.big == nil && s.first == (Version{}) && d != (Version{}) {
		s.first = d
		return true
	}
	if s.big == nil && s.len() < smallDots {
		s.small = append(s.small, d)
		return true
	}
	if s.big == nil {
		big := make(map[Version]struct{}, 2*smallDots)
		s.each(func(v Version) { big[v] = struct{}{} })
		s.first, s.small, s.big = Version{}, nil, big
	}
	s.big[d] = struct{}{}
	return true
}

// each calls fn with every dot, in no order.
func (s *dotSet) each(fn func(Version)) {
	if s.big != nil {
		for d := range s.big {
			fn(d)
		}
		return
	}
	if s.first != (Version{}) {
		fn(s.first)
	}
	for _, d := range s.small {
		fn(d)
	}
}

// dropBelow removes the dots stamped before ts and returns how many it removed.
func (s *dotSet) dropBelow(ts Timestamp) int {
	n := 0
	if s.big != nil {
		for d := range s.big {
			if d.TS < ts {
				delete(s.big, d)
				n++
			}
		}
		return n
	}
	if s.first != (Version{}) && s.first.TS < ts {
		s.first = Version{}
		n++
	}
	keep := s.small[:0]
	for _, d := range s.small {
		if d.TS >= ts {
			keep = append(keep, d)
		} else {
			n++
		}
	}
	clear(s.small[len(keep):])
	s.small = keep
	return n
}

// sorted returns the dots in Version order; one (the usual) costs no allocation beyond buf's.
func (s *dotSet) sorted(buf *[1]Version) []Version {
	if s.big == nil && len(s.small) == 0 {
		if s.first == (Version{}) {
			return nil
		}
		buf[0] = s.first
		return buf[:]
	}
	out := make([]Version, 0, s.len())
	s.each(func(d Version) { out = append(out, d) })
	slices.SortFunc(out, Version.Compare)
	return out
}

func (s *dotSet) clone() dotSet {
	out := dotSet{first: s.first, small: slices.Clone(s.small)}
	if s.big != nil {
		out.big = make(map[Version]struct{}, len(s.big))
		for d := range s.big {
			out.big[d] = struct{}{}
		}
	}
	return out
}
