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
func Merge(cur Entry, ok bool, in Entry) (Entry, Outcome) {
	if !ok {
		return in, Applied
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
