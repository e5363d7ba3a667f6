package crdt

import (
	"cmp"
	"maps"
	"slices"
)

// MaxOutOfOrder bounds the out-of-order seqs a Vector remembers per
// replica. Beyond it Add still reports the dot as new but does not remember
// it: Contains may then report false for it, anti-entropy will resend it,
// and re-applying it is a harmless Duplicate. This keeps a long gap (a lost
// batch followed by heavy traffic) from growing memory without bound.
const MaxOutOfOrder = 4096

// Vector is a version vector: per replica the contiguous applied seq prefix
// and the HLC of the write at that prefix, plus a bounded set of
// out-of-order seqs (with their HLC). Not safe for concurrent use.
//
// The zero Vector is empty and ready to use; read methods also accept a nil
// *Vector as empty.
type Vector struct {
	reps map[ReplicaID]*replicaVec
}

// replicaVec is one replica's applied dots: 1..prefix plus extra.
// Invariant: extra is sorted by seq, unique, every seq > prefix+1 (a seq of
// prefix+1 is always folded into the prefix), len(extra) <= MaxOutOfOrder.
type replicaVec struct {
	prefix   uint64
	prefixTS Timestamp
	extra    []extraDot
}

// extraDot keeps the HLC of an out-of-order write so the prefix timestamp
// is exact once the gap before it fills.
type extraDot struct {
	seq uint64
	ts  Timestamp
}

// ReplicaState is one replica's entry in a vector summary, the form sent on
// the wire. Extra holds out-of-order seqs, sorted, all greater than Prefix;
// their timestamps are not sent (see VectorFromSummary).
type ReplicaState struct {
	Replica  ReplicaID
	Prefix   uint64    // every seq in 1..Prefix is applied
	PrefixTS Timestamp // HLC of the write at seq Prefix (0 if Prefix is 0 or unknown)
	Extra    []uint64  // out-of-order seqs, sorted
}

// Range is an inclusive range of seqs of one replica's stream.
type Range struct {
	Replica  ReplicaID
	From, To uint64 // inclusive
}

// NewVector returns an empty vector.
func NewVector() *Vector { return &Vector{reps: make(map[ReplicaID]*replicaVec)} }

func (v *Vector) get(r ReplicaID) *replicaVec {
	if v == nil {
		return nil
	}
	return v.reps[r]
}

// Add records dot d, written at HLC ts. It returns false if d was already
// contained (so the caller can count duplicates). When d fills the gap after
// the prefix, the prefix advances over every buffered seq that is now
// contiguous. Seq 0 is not a write and is reported as contained.
func (v *Vector) Add(d Dot, ts Timestamp) bool {
	if d.Seq == 0 {
		return false
	}
	if v.reps == nil {
		v.reps = make(map[ReplicaID]*replicaVec)
	}
	r := v.reps[d.Replica]
	if r == nil {
		r = &replicaVec{}
		v.reps[d.Replica] = r
	}
	if d.Seq <= r.prefix {
		return false
	}
	if d.Seq == r.prefix+1 {
		// The common case: in-order delivery, no allocation.
		r.prefix = d.Seq
		r.prefixTS = max(r.prefixTS, ts)
		r.drain()
		return true
	}
	i, found := slices.BinarySearchFunc(r.extra, d.Seq, func(e extraDot, s uint64) int { return cmp.Compare(e.seq, s) })
	if found {
		return false
	}
	if len(r.extra) >= MaxOutOfOrder {
		return true // documented: not remembered, anti-entropy resends it
	}
	r.extra = slices.Insert(r.extra, i, extraDot{seq: d.Seq, ts: ts})
	return true
}

// drain folds buffered seqs that became contiguous into the prefix. The
// prefix timestamp takes the max because a replica's HLC grows with its
// seq, and extras from a summary have no timestamp (0): the max then keeps
// a conservative lower bound instead of moving backwards.
func (r *replicaVec) drain() {
	k := 0
	for k < len(r.extra) && r.extra[k].seq == r.prefix+1 {
		r.prefix = r.extra[k].seq
		r.prefixTS = max(r.prefixTS, r.extra[k].ts)
		k++
	}
	switch {
	case k == len(r.extra):
		r.extra = nil // release the buffer once the gap is closed
	case k > 0:
		r.extra = slices.Delete(r.extra, 0, k)
	}
}

// Contains reports whether dot d has been recorded. Seq 0 is always
// contained. An out-of-order dot dropped because of MaxOutOfOrder is
// reported as not contained.
func (v *Vector) Contains(d Dot) bool {
	if d.Seq == 0 {
		return true
	}
	r := v.get(d.Replica)
	if r == nil {
		return false
	}
	if d.Seq <= r.prefix {
		return true
	}
	_, found := slices.BinarySearchFunc(r.extra, d.Seq, func(e extraDot, s uint64) int { return cmp.Compare(e.seq, s) })
	return found
}

// Prefix returns the contiguous applied prefix of replica r and the HLC of
// the write at that seq. The minimum of ts over live replicas is the
// causally stable time. Unknown replicas report (0, 0).
func (v *Vector) Prefix(r ReplicaID) (seq uint64, ts Timestamp) {
	if rv := v.get(r); rv != nil {
		return rv.prefix, rv.prefixTS
	}
	return 0, 0
}

// Replicas returns the replica ids the vector knows, sorted.
func (v *Vector) Replicas() []ReplicaID {
	if v == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(v.reps))
}

// Clone returns a deep copy, e.g. to snapshot the vector under a lock and
// encode it after releasing the lock.
func (v *Vector) Clone() *Vector {
	c := NewVector()
	if v == nil {
		return c
	}
	for id, r := range v.reps {
		c.reps[id] = &replicaVec{prefix: r.prefix, prefixTS: r.prefixTS, extra: slices.Clone(r.extra)}
	}
	return c
}

// Summary returns the vector in wire form, sorted by replica. The result
// shares no memory with v.
func (v *Vector) Summary() []ReplicaState {
	ids := v.Replicas()
	out := make([]ReplicaState, 0, len(ids))
	for _, id := range ids {
		r := v.reps[id]
		s := ReplicaState{Replica: id, Prefix: r.prefix, PrefixTS: r.prefixTS}
		if len(r.extra) > 0 {
			s.Extra = make([]uint64, len(r.extra))
			for i, e := range r.extra {
				s.Extra[i] = e.seq
			}
		}
		out = append(out, s)
	}
	return out
}

// VectorFromSummary rebuilds a vector from its wire form. Input is
// normalised rather than trusted: replicas listed twice are united, extras
// are sorted and deduplicated, extras at or below the prefix are dropped,
// extras contiguous with the prefix are folded into it, and only the lowest
// MaxOutOfOrder extras are kept (the ones closest to closing the gap).
// Extras carry no timestamp on the wire, so a prefix advanced over them
// keeps the summary's PrefixTS: a lower bound, which is the safe direction
// for causal stability.
func VectorFromSummary(states []ReplicaState) *Vector {
	v := NewVector()
	for _, s := range states {
		r := v.reps[s.Replica]
		if r == nil {
			r = &replicaVec{}
			v.reps[s.Replica] = r
		}
		// Union with what is already there (only when a replica repeats).
		seqs := make([]uint64, 0, len(r.extra)+len(s.Extra))
		for _, e := range r.extra {
			seqs = append(seqs, e.seq)
		}
		seqs = append(seqs, s.Extra...)
		if s.Prefix > r.prefix {
			r.prefix = s.Prefix
		}
		r.prefixTS = max(r.prefixTS, s.PrefixTS)
		old := r.extra
		slices.Sort(seqs)
		seqs = slices.Compact(seqs)
		// Fold while walking in ascending order (rather than truncating
		// first) so a long contiguous run never counts against the bound.
		r.extra = nil
		for _, seq := range seqs {
			switch {
			case seq <= r.prefix:
			case seq == r.prefix+1:
				r.prefix = seq
				r.prefixTS = max(r.prefixTS, extraTS(old, seq))
			case len(r.extra) < MaxOutOfOrder:
				r.extra = append(r.extra, extraDot{seq: seq, ts: extraTS(old, seq)})
			}
		}
	}
	return v
}

// extraTS returns the timestamp a previously buffered seq carried, so
// uniting a repeated replica does not forget it.
func extraTS(old []extraDot, seq uint64) Timestamp {
	i, found := slices.BinarySearchFunc(old, seq, func(e extraDot, s uint64) int { return cmp.Compare(e.seq, s) })
	if found {
		return old[i].ts
	}
	return 0
}

// span is an inclusive seq interval.
type span struct{ from, to uint64 }

// spans appends r's dots to buf as sorted, disjoint, non-adjacent spans.
func (r *replicaVec) spans(buf []span) []span {
	if r == nil {
		return buf
	}
	if r.prefix > 0 {
		buf = append(buf, span{1, r.prefix})
	}
	for _, e := range r.extra {
		if n := len(buf); n > 0 && buf[n-1].to+1 == e.seq {
			buf[n-1].to = e.seq
			continue
		}
		buf = append(buf, span{e.seq, e.seq})
	}
	return buf
}

// subtract appends a \ b to out. Both inputs are sorted, disjoint and
// non-adjacent, so the output ranges are minimal: consecutive ones are
// separated by at least one seq of b or a gap of a.
func subtract(a, b []span, out []span) []span {
	j := 0
	for _, s := range a {
		from := s.from
		for {
			for j < len(b) && b[j].to < from {
				j++
			}
			if j == len(b) || b[j].from > s.to {
				out = append(out, span{from, s.to})
				break
			}
			if b[j].from > from {
				out = append(out, span{from, b[j].from - 1})
			}
			if b[j].to >= s.to {
				break
			}
			from = b[j].to + 1 // b[j].to < s.to, so no overflow
		}
	}
	return out
}

// Covers reports whether v contains every dot o contains.
func (v *Vector) Covers(o *Vector) bool {
	if o == nil {
		return true
	}
	var a, b, d []span
	for id, or := range o.reps {
		vr := v.get(id)
		// Fast path: no extras on o's side and v's prefix reaches o's.
		if len(or.extra) == 0 && vr != nil && vr.prefix >= or.prefix {
			continue
		}
		a, b = or.spans(a[:0]), vr.spans(b[:0])
		if d = subtract(a, b, d[:0]); len(d) > 0 {
			return false
		}
	}
	return true
}

// Missing returns the dot ranges that o contains and v lacks (what v must
// be sent to catch up with o), as minimal inclusive ranges sorted by
// replica then seq. Out-of-order extras on both sides are taken into
// account: seqs v holds out of order are not requested, and seqs o holds
// only out of order are requested singly or as short runs.
func (v *Vector) Missing(o *Vector) []Range {
	var out []Range
	var a, b, d []span
	for _, id := range o.Replicas() {
		a, b = o.reps[id].spans(a[:0]), v.get(id).spans(b[:0])
		d = subtract(a, b, d[:0])
		for _, s := range d {
			out = append(out, Range{Replica: id, From: s.from, To: s.to})
		}
	}
	return out
}
