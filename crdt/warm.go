package crdt

import "unsafe"

// Warming a large collection's elements. Finding an element of a table larger than the
// processor's caches costs three dependent cache misses: its index slot, its record, then its
// name's bytes (elemTab.find). A replica applying a peer's batch of writes to one set, or a
// writer running a pipeline of SADDs to it, pays them element after element: the largest
// single cost of both under a write flood (a quarter of a replica's CPU on a 100k-member set).
// Warm takes the next elements' names and prefetches one step of every look-up per pass
// (every slot, then every record, then every name), so the misses of all of them are in
// flight together, as the key store's warm pass does for keys (lru ApplyBatch).

// WarmMax is the most names one Warm call looks at: enough for the misses to overlap, few
// enough that what they load is still cached when the writes reach it.
const WarmMax = 32

// WarmMinElems is the collection size from which Warm walks it: a smaller table's index,
// records and names stay in the processor's caches, and the passes would only cost.
const WarmMinElems = 1 << 13

// warm loads what finding names in t will read into the processor's caches. It reads t and
// changes nothing (the caller excludes writers of t); names beyond WarmMax are ignored.
func (t *elemTab[P]) warm(names []string) {
	if t == nil || t.n < WarmMinElems || t.inl || len(names) < 2 {
		return
	}
	names = names[:min(len(names), WarmMax)]
	slots := t.slots
	mask := uint64(len(slots) - 1)
	var (
		at   [WarmMax]uint64 // each name's home slot
		tags [WarmMax]uint64
		recs [WarmMax]*elemRec // the record its slot names (nil: none found)
	)
	for i, e := range names {
		h := t.hash(e)
		at[i], tags[i] = h&mask, h&(1<<32-1)
		prefetch(uintptr(unsafe.Pointer(&slots[at[i]])))
	}
	for i := range names {
		// The probe run from the home slot, as find walks it (mostly one slot, in the line
		// just loaded): the first slot with the name's tag is almost surely its record.
		for j := at[i]; ; j = (j + 1) & mask {
			s := slots[j]
			if s == 0 {
				break
			}
			if s>>32 == tags[i] {
				recs[i] = t.rec(uint32(s) - 1)
				prefetch(uintptr(unsafe.Pointer(recs[i])))
				break
			}
		}
	}
	for _, r := range recs[:len(names)] {
		if r != nil && len(r.kv) > 0 {
			prefetch(uintptr(unsafe.Pointer(unsafe.StringData(r.kv))))
		}
	}
}

// Warm loads into the processor's caches what finding the members names will read, for a
// caller about to write or merge them one after another (a pipeline of SADDs, a replica's
// batch of deltas to the set): their cache misses then overlap instead of adding up. It
// changes nothing and reads the set as Has does (the caller excludes its writers); names
// beyond WarmMax are ignored, and a set small enough to stay cached is not walked.
func (s *Set) Warm(names []string) { s.c.elems.warm(names) }

// Warm is Set.Warm for a hash's fields.
func (h *Hash) Warm(names []string) { h.c.elems.warm(names) }

// Warm is Set.Warm for a sorted set's members (the look-up of each by name; not its index).
func (z *ZSet) Warm(names []string) { z.c.elems.warm(names) }
