package crdt

import (
	"maps"
	"slices"
)

// MaxOutOfOrder bounds the out-of-order runs of seqs a Vector remembers per
// replica, and the out-of-order seqs a summary (the wire form) lists. Beyond
// it Add still reports the dot as new but does not remember it: Contains may
// then report false for it, anti-entropy will resend it, and re-applying it
// is a harmless Duplicate. This keeps many scattered gaps from growing
// memory without bound. A run of consecutive seqs costs one slot however
// long it is: a lost batch followed by heavy traffic is one gap and one run,
// and the writes after the gap stay remembered. (Bounding single seqs
// instead forgot every write after the first 4096 that followed a loss —
// 70 ms of a write flood — and a repair then sent them all again: 1.3
// million stale deltas per receiver in a 2M-write SET -P 16 run.)
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

// replicaVec is one replica's applied dots: 1..prefix plus the runs in extra.
// Invariant: extra is sorted, its runs disjoint and non-adjacent, every seq
// > prefix+1 (a run reaching prefix+1 is always folded into the prefix),
// len(extra) <= MaxOutOfOrder.
type replicaVec struct {
	prefix   uint64
	prefixTS Timestamp
	extra    []extraRun
}

// extraRun is a run of out-of-order seqs from..to. ts is the newest HLC of
// its writes (a replica's HLC grows with its seq: the write at to), kept so
// the prefix timestamp is exact once the gap before it fills.
type extraRun struct {
	from, to uint64
	ts       Timestamp
}

// find returns the index of the first run that ends at or after seq-1: the
// run holding seq, the one seq extends, or where a run of seq goes.
func (r *replicaVec) find(seq uint64) int {
	i, _ := slices.BinarySearchFunc(r.extra, seq, func(e extraRun, s uint64) int {
		if e.to+1 < s {
			return -1
		}
		return 1
	})
	return i
}

// has reports whether seq is in one of r's runs.
func (r *replicaVec) has(seq uint64) bool {
	i := r.find(seq)
	return i < len(r.extra) && r.extra[i].from <= seq && seq <= r.extra[i].to
}

// addExtra records seq > prefix+1 and reports whether it was not held. A
// seq that would need a run beyond MaxOutOfOrder is reported new but not
// remembered.
func (r *replicaVec) addExtra(seq uint64, ts Timestamp) bool {
	i := r.find(seq)
	if i < len(r.extra) {
		e := &r.extra[i]
		switch {
		case e.from <= seq && seq <= e.to:
			return false
		case e.to+1 == seq:
			e.to, e.ts = seq, max(e.ts, ts)
			if i+1 < len(r.extra) && r.extra[i+1].from == seq+1 {
				e.to, e.ts = r.extra[i+1].to, max(e.ts, r.extra[i+1].ts)
				r.extra = slices.Delete(r.extra, i+1, i+2)
			}
			return true
		case e.from == seq+1:
			e.from, e.ts = seq, max(e.ts, ts)
			return true
		}
	}
	if len(r.extra) >= MaxOutOfOrder {
		return true // documented: not remembered, anti-entropy resends it
	}
	r.extra = slices.Insert(r.extra, i, extraRun{from: seq, to: seq, ts: ts})
	return true
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
	return r.addExtra(d.Seq, ts)
}

// drain folds buffered seqs that became contiguous into the prefix. The
// prefix timestamp takes the max because a replica's HLC grows with its
// seq, and extras from a summary have no timestamp (0): the max then keeps
// a conservative lower bound instead of moving backwards.
func (r *replicaVec) drain() {
	k := 0
	for k < len(r.extra) && r.extra[k].from <= r.prefix+1 {
		r.prefix = max(r.prefix, r.extra[k].to)
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
	return d.Seq <= r.prefix || r.has(d.Seq)
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
// shares no memory with v. It lists at most MaxOutOfOrder out-of-order seqs
// per replica, the lowest: a summary may claim fewer dots than v holds
// (never more), which costs a peer at most a repair of dots v already has.
// Runs lists them all.
func (v *Vector) Summary() []ReplicaState {
	ids := v.Replicas()
	out := make([]ReplicaState, 0, len(ids))
	for _, id := range ids {
		r := v.reps[id]
		s := ReplicaState{Replica: id, Prefix: r.prefix, PrefixTS: r.prefixTS}
		n := 0
		for _, e := range r.extra {
			n += int(min(e.to-e.from+1, MaxOutOfOrder))
			if n >= MaxOutOfOrder {
				n = MaxOutOfOrder
				break
			}
		}
		if n > 0 {
			s.Extra = make([]uint64, 0, n)
		}
	fill:
		for _, e := range r.extra {
			for seq := e.from; seq <= e.to; seq++ {
				if len(s.Extra) == n {
					break fill
				}
				s.Extra = append(s.Extra, seq)
			}
		}
		out = append(out, s)
	}
	return out
}

// Runs returns the out-of-order runs of every replica, sorted by replica
// then seq: with the prefixes of Summary, every dot v holds, however many
// (at most MaxOutOfOrder runs per replica).
func (v *Vector) Runs() []Range {
	var out []Range
	for _, id := range v.Replicas() {
		for _, e := range v.reps[id].extra {
			out = append(out, Range{Replica: id, From: e.from, To: e.to})
		}
	}
	return out
}

// AddRange records every seq of rg, with ts as the HLC of the write at
// rg.To, as Add would one at a time (a run costs one slot whatever its
// length). It reports whether any of them was not held. It is for a run a
// peer reported holding (Runs); rg.From must be at least 1.
func (v *Vector) AddRange(rg Range, ts Timestamp) bool {
	if rg.From == 0 || rg.To < rg.From {
		return false
	}
	if v.reps == nil {
		v.reps = make(map[ReplicaID]*replicaVec)
	}
	r := v.reps[rg.Replica]
	if r == nil {
		r = &replicaVec{}
		v.reps[rg.Replica] = r
	}
	if rg.To <= r.prefix {
		return false
	}
	from := max(rg.From, r.prefix+1)
	if from == r.prefix+1 {
		r.prefix, r.prefixTS = rg.To, max(r.prefixTS, ts)
		// Runs now under or next to the prefix fold into it.
		k := 0
		for k < len(r.extra) && r.extra[k].to <= r.prefix {
			k++
		}
		r.extra = slices.Delete(r.extra, 0, k)
		r.drain()
		return true
	}
	i := r.find(from)
	if i < len(r.extra) && r.extra[i].from <= from && r.extra[i].to >= rg.To {
		return false // held whole
	}
	// Merge with the runs it overlaps or touches.
	j := i
	run := extraRun{from: from, to: rg.To, ts: ts}
	for j < len(r.extra) && r.extra[j].from <= rg.To+1 {
		e := r.extra[j]
		run.from, run.to, run.ts = min(run.from, e.from), max(run.to, e.to), max(run.ts, e.ts)
		j++
	}
	if i == j && len(r.extra) >= MaxOutOfOrder {
		return true // not remembered, as in Add
	}
	r.extra = slices.Replace(r.extra, i, j, run)
	return true
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
	var seqs []uint64
	for _, s := range states {
		r := v.reps[s.Replica]
		if r == nil {
			r = &replicaVec{}
			v.reps[s.Replica] = r
		}
		// Union with what is already there (only when a replica repeats).
		if s.Prefix > r.prefix {
			r.prefix = s.Prefix
			k := 0
			for k < len(r.extra) && r.extra[k].to <= r.prefix {
				k++
			}
			r.extra = slices.Delete(r.extra, 0, k)
		}
		r.prefixTS = max(r.prefixTS, s.PrefixTS)
		r.drain()
		// In ascending order, so that a long contiguous run folds into the
		// prefix or one run, and the bound keeps the lowest seqs.
		seqs = append(seqs[:0], s.Extra...)
		slices.Sort(seqs)
		for _, seq := range slices.Compact(seqs) {
			switch {
			case seq <= r.prefix:
			case seq == r.prefix+1:
				r.prefix = seq
				r.drain()
			default:
				r.addExtra(seq, 0)
			}
		}
	}
	return v
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
		buf = append(buf, span{e.from, e.to})
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
