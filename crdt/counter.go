package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
)

// Counter is a PN-counter started from a base: the value of the register it replaced (0 for
// an absent or deleted key) plus one contribution per replica that incremented it since.
//
// A replica only ever changes its own slot, and each change carries the replica's next dot
// seq, so "higher seq wins per replica" merges slots (the per-replica max of a PN-counter;
// a slot holds the running total, which may go up and down, instead of separate P and N
// halves that would only grow). Counters started from different bases do not add up: the
// higher base version wins whole, because a reset (SET, DEL, ...) that the increments did not
// observe is ordered after them (see MergeCounters). The result is a join-semilattice:
// merge is commutative, associative and idempotent.
type Counter struct {
	// Base is the integer the counter started from.
	Base int64
	// BaseVer is the version of the register (or delete tombstone) the counter started
	// from; zero for a key never written. Every replica starting from the same register
	// derives the same BaseVer, so their increments add up.
	BaseVer Version
	// Expiry is the absolute expiry in unix ms (0 = none). On the wire it is Entry.Expiry.
	Expiry int64
	// ExpVer is the version of the write that set Expiry (EXPIRE, PERSIST, or the base: then
	// it equals BaseVer, which the encoding writes once).
	ExpVer Version
	// Slots are the replicas' contributions, sorted by Replica, at most one per replica.
	Slots []Slot
}

// Slot is one replica's contribution to a Counter: the running total of its increments and
// the dot seq of the write that produced it.
type Slot struct {
	Replica ReplicaID
	Seq     uint64
	Sum     Sum
}

// ErrOverflow is returned by Counter.Add when the value or the replica's contribution would
// leave the int64 range.
var ErrOverflow = errors.New("crdt: counter overflow")

// MaxCounterSlots bounds the slots a decoded counter may hold. Replica ids are per process
// start, so slots accumulate until the counter is reset; this is generous for that while
// bounding a hostile delta.
const MaxCounterSlots = DefaultMaxReplicas

// Value returns the counter's value and ok=false if it does not fit an int64 (possible only
// when concurrent increments add up past the range; BigValue has the exact sum).
func (c *Counter) Value() (int64, bool) {
	t, ok := c.total()
	if !ok {
		return 0, false
	}
	return t.Int64()
}

// total is the exact value; false only past 128 bits (never with int64 increments).
func (c *Counter) total() (Sum, bool) {
	t := SumOf(c.Base)
	for _, s := range c.Slots {
		var ok bool
		if t, ok = t.Add(s.Sum); !ok {
			return Sum{}, false
		}
	}
	return t, true
}

// AppendValue appends the counter's exact value in decimal, as GET shows it.
func (c *Counter) AppendValue(dst []byte) []byte {
	if v, ok := c.Value(); ok {
		return strconv.AppendInt(dst, v, 10)
	}
	sum := big.NewInt(c.Base)
	for _, s := range c.Slots {
		sum.Add(sum, s.Sum.Big())
	}
	return sum.Append(dst, 10)
}

func add64(a, b int64) (int64, bool) {
	r := a + b
	// Overflow iff both operands have the same sign and the result's sign differs.
	return r, (a >= 0) != (b >= 0) || (r >= 0) == (a >= 0)
}

// Add adds delta to replica rep's slot as the write with dot seq and returns the new value.
// It fails with ErrOverflow, leaving c unchanged, if the value or the slot would overflow.
func (c *Counter) Add(rep ReplicaID, seq uint64, delta int64) (int64, error) {
	next, sum, i, found, err := c.check(rep, delta)
	if err != nil {
		return 0, err
	}
	if !found {
		c.Slots = slices.Insert(c.Slots, i, Slot{Replica: rep})
	}
	c.Slots[i].Sum, c.Slots[i].Seq = sum, seq
	return next, nil
}

// Check returns what Add(rep, seq, delta) would, without changing c: a caller can refuse an
// overflow before it spends a seq on the write.
func (c *Counter) Check(rep ReplicaID, delta int64) (int64, error) {
	next, _, _, _, err := c.check(rep, delta)
	return next, err
}

func (c *Counter) check(rep ReplicaID, delta int64) (next int64, sum Sum, i int, found bool, err error) {
	cur, ok := c.Value()
	if !ok {
		return 0, Sum{}, 0, false, ErrOverflow
	}
	if next, ok = add64(cur, delta); !ok {
		return 0, Sum{}, 0, false, ErrOverflow
	}
	i, found = slices.BinarySearchFunc(c.Slots, rep, func(s Slot, r ReplicaID) int { return cmpReplica(s.Replica, r) })
	if found {
		sum = c.Slots[i].Sum
	}
	if sum, ok = sum.Add(SumOf(delta)); !ok {
		return 0, Sum{}, 0, false, ErrOverflow
	}
	return next, sum, i, found, nil
}

func cmpReplica(a, b ReplicaID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Only returns the part of c a delta from rep carries: base, expiry and rep's slot (if any).
// Deltas stay this small however many replicas contributed. The result shares c's slot
// memory (it is meant to be encoded, not changed).
func (c *Counter) Only(rep ReplicaID) Counter {
	d := Counter{Base: c.Base, BaseVer: c.BaseVer, Expiry: c.Expiry, ExpVer: c.ExpVer}
	if i, ok := slices.BinarySearchFunc(c.Slots, rep, func(s Slot, r ReplicaID) int { return cmpReplica(s.Replica, r) }); ok {
		d.Slots = c.Slots[i : i+1 : i+1]
	}
	return d
}

// Touches reports whether any write recorded in c (base, expiry, a slot) was made by a
// replica for which in returns true.
func (c *Counter) Touches(in func(ReplicaID) bool) bool {
	if in(c.BaseVer.Replica) || in(c.ExpVer.Replica) {
		return true
	}
	for _, s := range c.Slots {
		if in(s.Replica) {
			return true
		}
	}
	return false
}

// MergeCounters returns the join of a and b, and whether it differs from a.
//
// The counter with the higher BaseVer wins whole: it started from a reset the other one had
// not observed, and a reset is ordered after every increment it did not observe (observed
// reset). With equal bases, each replica's slot with the higher seq wins (a replica's later
// total includes its earlier increments) and the expiry with the higher ExpVer wins.
// Remaining ties (equal seqs or versions with different payloads, which valid writers never
// produce) are broken by the larger payload so every replica still picks the same state.
func MergeCounters(a, b Counter) (Counter, bool) {
	switch a.BaseVer.Compare(b.BaseVer) {
	case 1:
		return a, false
	case -1:
		return cloneCounter(b), true
	}
	if a.Base != b.Base {
		if a.Base > b.Base {
			return a, false
		}
		return cloneCounter(b), true
	}
	out := Counter{Base: a.Base, BaseVer: a.BaseVer, Expiry: a.Expiry, ExpVer: a.ExpVer}
	changed := false
	if c := b.ExpVer.Compare(a.ExpVer); c > 0 || (c == 0 && b.Expiry > a.Expiry) {
		out.Expiry, out.ExpVer, changed = b.Expiry, b.ExpVer, true
	}
	out.Slots = make([]Slot, 0, max(len(a.Slots), len(b.Slots)))
	i, j := 0, 0
	for i < len(a.Slots) || j < len(b.Slots) {
		switch {
		case j == len(b.Slots) || (i < len(a.Slots) && a.Slots[i].Replica < b.Slots[j].Replica):
			out.Slots = append(out.Slots, a.Slots[i])
			i++
		case i == len(a.Slots) || b.Slots[j].Replica < a.Slots[i].Replica:
			out.Slots = append(out.Slots, b.Slots[j])
			changed = true
			j++
		default:
			sa, sb := a.Slots[i], b.Slots[j]
			if sb.Seq > sa.Seq || (sb.Seq == sa.Seq && sb.Sum.Compare(sa.Sum) > 0) {
				sa, changed = sb, true
			}
			out.Slots = append(out.Slots, sa)
			i++
			j++
		}
	}
	return out, changed
}

func cloneCounter(c Counter) Counter {
	c.Slots = slices.Clone(c.Slots)
	return c
}

// Counter value encoding (Entry.Value of a TypeCounter entry):
//
//	counter = format:u8 bits:u8 [base:varint] [baseTS:fixed64 baseReplica:fixed64]
//	          [expTS:fixed64 expReplica:fixed64] n:uvarint slot*n
//	slot    = sum                                         (bit self, first slot only)
//	        | replica:fixed64 seq:uvarint sum
//	sum     = low:varint [high:varint]                    (high with bit wide only)
//
// A sum is the low 64 bits as a signed varint; with the wide bit every sum also carries the
// difference between its high word and the low word's sign extension (0 for a sum that fits
// an int64), so a counter whose slots all fit pays nothing for the 128 bits.
//
// The self bit says the first slot is the entry's own write (replica = Entry.Version.Replica,
// seq = Entry.Seq), so a delta carrying a small increment of a fresh key has a 4-byte value.
const counterFormat = 1

const (
	cbBase    = 1 << iota // base value is non-zero
	cbBaseVer             // base version is non-zero
	cbExpVer              // expiry version differs from the base version (else it is the base's)
	cbSelf                // the first slot is the writer's own (replica and seq from the entry)
	cbWide                // sums carry a high word

	knownCounterBits = cbBase | cbBaseVer | cbExpVer | cbSelf | cbWide
)

// AppendCounter appends the value encoding of c for an entry written by writer with dot seq.
func AppendCounter(dst []byte, c *Counter, writer ReplicaID, seq uint64) []byte {
	var bits byte
	if c.Base != 0 {
		bits |= cbBase
	}
	if !c.BaseVer.IsZero() {
		bits |= cbBaseVer
	}
	if c.ExpVer != c.BaseVer {
		bits |= cbExpVer
	}
	if len(c.Slots) > 0 && c.Slots[0].Replica == writer && c.Slots[0].Seq == seq {
		bits |= cbSelf
	}
	for _, s := range c.Slots {
		if _, ok := s.Sum.Int64(); !ok {
			bits |= cbWide
		}
	}
	dst = append(dst, counterFormat, bits)
	if bits&cbBase != 0 {
		dst = binary.AppendVarint(dst, c.Base)
	}
	if bits&cbBaseVer != 0 {
		dst = appendVersion(dst, c.BaseVer)
	}
	if bits&cbExpVer != 0 {
		dst = appendVersion(dst, c.ExpVer)
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Slots)))
	for i, s := range c.Slots {
		if i > 0 || bits&cbSelf == 0 {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(s.Replica))
			dst = binary.AppendUvarint(dst, s.Seq)
		}
		dst = binary.AppendVarint(dst, int64(s.Sum.Lo))
		if bits&cbWide != 0 {
			dst = binary.AppendVarint(dst, s.Sum.Hi-int64(s.Sum.Lo)>>63)
		}
	}
	return dst
}

func appendVersion(dst []byte, v Version) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(v.TS))
	return binary.LittleEndian.AppendUint64(dst, uint64(v.Replica))
}

// CounterOf decodes the counter held by a TypeCounter entry. Errors wrap ErrMalformed (bad
// encoding: slots unsorted, repeated or with seq 0, trailing bytes), ErrTooLarge (more than
// MaxCounterSlots slots) or ErrVersion (a newer format or bits); decoding never panics and the
// result does not alias e.Value.
func CounterOf(e *Entry) (Counter, error) {
	if e.Type != TypeCounter {
		return Counter{}, fmt.Errorf("%w: %s entry is not a counter", ErrMalformed, e.Type)
	}
	return decodeCounter(e.Value, e.Expiry, e.Version.Replica, e.Seq)
}

func decodeCounter(src []byte, expiry int64, writer ReplicaID, seq uint64) (Counter, error) {
	r := reader{b: src}
	f, err := r.byte("counter format")
	if err != nil {
		return Counter{}, err
	}
	if f != counterFormat {
		return Counter{}, fmt.Errorf("%w: counter format %d, want %d", ErrVersion, f, counterFormat)
	}
	bits, err := r.byte("counter bits")
	if err != nil {
		return Counter{}, err
	}
	if bits&^knownCounterBits != 0 {
		return Counter{}, fmt.Errorf("%w: unknown counter bits %#x", ErrVersion, bits&^knownCounterBits)
	}
	c := Counter{Expiry: expiry}
	if bits&cbBase != 0 {
		if c.Base, err = r.varint("counter base"); err != nil {
			return Counter{}, err
		}
	}
	if bits&cbBaseVer != 0 {
		if c.BaseVer, err = r.version("counter base version"); err != nil {
			return Counter{}, err
		}
	}
	c.ExpVer = c.BaseVer
	if bits&cbExpVer != 0 {
		if c.ExpVer, err = r.version("counter expiry version"); err != nil {
			return Counter{}, err
		}
	}
	n, err := r.uvarint("counter slot count")
	if err != nil {
		return Counter{}, err
	}
	if n > MaxCounterSlots {
		return Counter{}, fmt.Errorf("%w: counter of %d slots exceeds %d", ErrTooLarge, n, MaxCounterSlots)
	}
	if n > uint64(r.rest()) { // every slot takes at least one byte
		return Counter{}, fmt.Errorf("%w: %d counter slots cannot fit in %d bytes", ErrMalformed, n, r.rest())
	}
	if bits&cbSelf != 0 && n == 0 {
		return Counter{}, fmt.Errorf("%w: counter self bit without a slot", ErrMalformed)
	}
	if n > 0 {
		c.Slots = make([]Slot, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		var s Slot
		if i == 0 && bits&cbSelf != 0 {
			s.Replica, s.Seq = writer, seq
		} else {
			id, err := r.fixed64("counter slot replica")
			if err != nil {
				return Counter{}, err
			}
			s.Replica = ReplicaID(id)
			if s.Seq, err = r.uvarint("counter slot seq"); err != nil {
				return Counter{}, err
			}
		}
		lo, err := r.varint("counter slot sum")
		if err != nil {
			return Counter{}, err
		}
		s.Sum = SumOf(lo)
		if bits&cbWide != 0 {
			hi, err := r.varint("counter slot sum high word")
			if err != nil {
				return Counter{}, err
			}
			s.Sum.Hi += hi
		}
		if s.Seq == 0 {
			return Counter{}, fmt.Errorf("%w: counter slot of %s with seq 0", ErrMalformed, s.Replica)
		}
		if i > 0 && s.Replica <= c.Slots[i-1].Replica {
			return Counter{}, fmt.Errorf("%w: counter slot %s out of order", ErrMalformed, s.Replica)
		}
		c.Slots = append(c.Slots, s)
	}
	if r.rest() != 0 {
		return Counter{}, fmt.Errorf("%w: %d trailing bytes after counter", ErrMalformed, r.rest())
	}
	return c, nil
}

func (r *reader) version(what string) (Version, error) {
	ts, err := r.fixed64(what)
	if err != nil {
		return Version{}, err
	}
	rep, err := r.fixed64(what)
	if err != nil {
		return Version{}, err
	}
	return Version{TS: Timestamp(ts), Replica: ReplicaID(rep)}, nil
}
