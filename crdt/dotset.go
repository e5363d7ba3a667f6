package crdt

import "slices"

// dotSet is the set of removed dots of one element. Most elements have a few, kept in a slice;
// a hot element rewritten many times between two causal-stability passes (or during a
// partition, when nothing is stable) can have thousands, so past smallDots it switches to a
// map: every write of the element checks membership, and a linear scan made a re-add of one
// member cost O(removed writes) (redis-benchmark SADD of one member: 61k ops/s against
// redis-server's 540k).
type dotSet struct {
	small []Version
	big   map[Version]struct{}
}

const smallDots = 8

func (s *dotSet) len() int {
	if s.big != nil {
		return len(s.big)
	}
	return len(s.small)
}

func (s *dotSet) has(d Version) bool {
	if s.big != nil {
		_, ok := s.big[d]
		return ok
	}
	return slices.Contains(s.small, d)
}

// add adds d and reports whether it was new.
func (s *dotSet) add(d Version) bool {
	if s.has(d) {
		return false
	}
	if s.big == nil && len(s.small) < smallDots {
		s.small = append(s.small, d)
		return true
	}
	if s.big == nil {
		s.big = make(map[Version]struct{}, 2*smallDots)
		for _, v := range s.small {
			s.big[v] = struct{}{}
		}
		s.small = nil
	}
	s.big[d] = struct{}{}
	return true
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

// sorted returns the dots in Version order (shared with s when there is at most one: read
// only).
func (s *dotSet) sorted() []Version {
	if s.big == nil && len(s.small) <= 1 {
		return s.small
	}
	var out []Version
	if s.big != nil {
		out = make([]Version, 0, len(s.big))
		for d := range s.big {
			out = append(out, d)
		}
	} else {
		out = slices.Clone(s.small)
	}
	slices.SortFunc(out, Version.Compare)
	return out
}

func (s *dotSet) clone() dotSet {
	out := dotSet{small: slices.Clone(s.small)}
	if s.big != nil {
		out.big = make(map[Version]struct{}, len(s.big))
		for d := range s.big {
			out.big[d] = struct{}{}
		}
	}
	return out
}
