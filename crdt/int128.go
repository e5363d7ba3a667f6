package crdt

import (
	"math/big"
	"math/bits"
)

// Sum is a slot's running total as a 128-bit two's complement integer. A replica's own total
// may leave the int64 range while the counter's value stays inside it (a counter at MaxInt64
// decremented by MaxInt64 twice on one replica), and Redis allows that sequence.
type Sum struct {
	Hi int64
	Lo uint64
}

// SumOf returns v as a Sum.
func SumOf(v int64) Sum { return Sum{Hi: v >> 63, Lo: uint64(v)} }

// Add returns s+o and false on a 128-bit overflow.
func (s Sum) Add(o Sum) (Sum, bool) {
	lo, carry := bits.Add64(s.Lo, o.Lo, 0)
	hi := s.Hi + o.Hi + int64(carry)
	// Signed overflow of the high word: both operands' signs agree and the result's differs.
	ok := (s.Hi >= 0) != (o.Hi >= 0) || (hi >= 0) == (s.Hi >= 0)
	return Sum{Hi: hi, Lo: lo}, ok
}

// Int64 returns s and whether it fits an int64.
func (s Sum) Int64() (int64, bool) { return int64(s.Lo), s.Hi == int64(s.Lo)>>63 }

// Compare returns -1, 0 or 1 as s is lower than, equal to or higher than o.
func (s Sum) Compare(o Sum) int {
	switch {
	case s.Hi != o.Hi:
		if s.Hi < o.Hi {
			return -1
		}
		return 1
	case s.Lo != o.Lo:
		if s.Lo < o.Lo {
			return -1
		}
		return 1
	}
	return 0
}

// Big returns s as a big.Int.
func (s Sum) Big() *big.Int {
	z := new(big.Int).SetInt64(s.Hi)
	z.Lsh(z, 64)
	return z.Add(z, new(big.Int).SetUint64(s.Lo))
}
