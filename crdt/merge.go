package crdt

import "strconv"

// Outcome says what Merge did with an incoming entry.
type Outcome uint8

// Merge outcomes. The zero value is not an outcome, so an unset result is
// distinguishable.
const (
	Applied   Outcome = iota + 1 // incoming entry won and replaces the current one
	Duplicate                    // same version already held: no-op
	Stale                        // current entry is newer: incoming dropped
)

// String returns "applied", "duplicate", "stale" or "Outcome(n)".
func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	case Stale:
		return "stale"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Merge decides between the current entry (ok=false if absent) and an
// incoming one, returning the entry to keep and what happened.
// Higher Version wins; equal Version is Duplicate (no-op); lower is Stale.
//
// Versions are unique per write (a replica's HLC never repeats), so equal
// versions mean the same write delivered twice, and keeping the current one
// is correct. The rule is a max over a total order, which makes it
// commutative, associative and idempotent: replicas that receive the same
// set of writes in any order, with any duplicates, hold the same winner.
// Tombstones and expiry are ordinary values here; they win or lose by
// version like any write, which is what prevents resurrection.
//
// When either entry is a counter the rule is the observed-reset order of
// mergeCounterEntry, which reduces to the above between registers.
func Merge(cur Entry, ok bool, in Entry) (Entry, Outcome) {
	if !ok {
		return in, Applied
	}
	if cur.Type == TypeCounter || in.Type == TypeCounter {
		return mergeCounterEntry(cur, in)
	}
	switch in.Version.Compare(cur.Version) {
	case 1:
		return in, Applied
	case 0:
		return cur, Duplicate
	default:
		return cur, Stale
	}
}

// mergeCounterEntry merges when at least one side is a counter. A register (a write or a
// delete tombstone) is a reset: it is ordered by its version against the counter's base
// version, so a reset wins over every increment that did not observe it, and a counter wins
// over the register it started from (equal versions) and every older one. Two counters
// merge by MergeCounters; with equal bases the merged entry's version is the higher of the
// two, otherwise the winner's (either way a function of the writes merged, whatever their
// order). An entry that does
// not decode (decoders reject those, so only a bug makes one) loses.
func mergeCounterEntry(cur, in Entry) (Entry, Outcome) {
	switch {
	case cur.Type != TypeCounter:
		c, err := CounterOf(&in)
		if err != nil || c.BaseVer.Less(cur.Version) {
			return cur, Stale
		}
		return in, Applied
	case in.Type != TypeCounter:
		c, err := CounterOf(&cur)
		if err != nil {
			return in, Applied
		}
		switch in.Version.Compare(c.BaseVer) {
		case 1:
			return in, Applied
		case 0:
			return cur, Duplicate
		}
		return cur, Stale
	}
	b, err := CounterOf(&in)
	if err != nil {
		return cur, Stale
	}
	a, err := CounterOf(&cur)
	if err != nil {
		return in, Applied
	}
	if a.BaseVer != b.BaseVer || a.Base != b.Base {
		// Different incarnations: the winner is kept whole, version included, so the
		// entry's version is the newest write of the winning incarnation in any order.
		if _, changed := MergeCounters(a, b); changed {
			return in, Applied
		}
		return cur, Stale
	}
	m, changed := MergeCounters(a, b)
	newer := cur.Version.Less(in.Version)
	if !changed && !newer {
		if in.Version == cur.Version {
			return cur, Duplicate
		}
		return cur, Stale
	}
	out := Entry{Type: TypeCounter, Expiry: m.Expiry, Version: cur.Version, Seq: cur.Seq}
	if newer {
		out.Version, out.Seq = in.Version, in.Seq
	}
	out.Value = AppendCounter(nil, &m, out.Version.Replica, out.Seq)
	return out, Applied
}
