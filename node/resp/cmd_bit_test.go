package resp

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// The BITFIELD arithmetic against a reference in exact integers (math/big), bit by bit: the
// field holds [lo, hi]; a result outside is refused by FAIL, clamped by SAT and reduced modulo
// 2^width by WRAP. The differential test checks the same against redis-server on fewer cases.

// modelRead reads a field of p bit by bit (zeros past the end) as an exact integer.
func modelRead(p []byte, off uint64, width uint, signed bool) *big.Int {
	v := new(big.Int)
	for i := range uint64(width) {
		b := off + i
		bit := uint(0)
		if b/8 < uint64(len(p)) {
			bit = uint(p[b/8]>>(7-b%8)) & 1
		}
		v.Lsh(v, 1)
		v.SetBit(v, 0, bit)
	}
	if signed && v.Bit(int(width)-1) == 1 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), width))
	}
	return v
}

// modelWrite is a SET or INCRBY on a copy of p: the reply, and nil when FAIL refused it.
func modelWrite(p []byte, op bitfieldOp) ([]byte, *big.Int) {
	span := new(big.Int).Lsh(big.NewInt(1), op.width)
	lo, hi := new(big.Int), new(big.Int).Sub(span, big.NewInt(1))
	if op.signed {
		lo.Neg(new(big.Int).Rsh(span, 1))
		hi.Add(lo, span).Sub(hi, big.NewInt(1))
	}
	old := modelRead(p, op.offset, op.width, op.signed)
	target := big.NewInt(op.arg)
	if op.op == 'i' {
		target.Add(target, old)
	} else if !op.signed {
		target.SetUint64(uint64(op.arg)) // Redis reads an unsigned SET's value as uint64
	}
	next := new(big.Int).Set(target)
	if target.Cmp(lo) < 0 || target.Cmp(hi) > 0 {
		switch op.overflow {
		case overflowFail:
			return bytes.Clone(p), nil
		case overflowSat:
			next.Set(hi)
			// Redis computes a signed SET's headroom (max - value) in 64 bits, which wraps for
			// values this far below the minimum: it then saturates at the maximum.
			quirk := op.op == 's' && op.signed && op.width < 64 &&
				op.arg <= math.MinInt64+hi.Int64()
			if target.Cmp(lo) < 0 && !quirk {
				next.Set(lo)
			}
		default:
			next.Mod(target, span) // Euclidean: in [0, 2^width)
			if next.Cmp(hi) > 0 {
				next.Sub(next, span)
			}
		}
	}
	out := bytes.Clone(p)
	u := new(big.Int).Mod(next, span)
	for i := range uint64(op.width) {
		b := op.offset + i
		mask := byte(1) << (7 - b%8)
		if u.Bit(int(op.width-1-uint(i))) == 1 {
			out[b/8] |= mask
		} else {
			out[b/8] &^= mask
		}
	}
	if op.op == 'i' {
		return out, next
	}
	return out, old
}

// checkBitfieldOp runs one operation through the command's code and the model.
func checkBitfieldOp(t *testing.T, init []byte, op bitfieldOp) {
	t.Helper()
	if got, want := bitfieldGet(init, op), modelRead(init, op.offset, op.width, op.signed); want.Cmp(big.NewInt(got)) != 0 {
		t.Fatalf("GET %+v of %x = %d, want %s", op, init, got, want)
	}
	p, _ := grow(init, (op.offset+uint64(op.width)-1)>>3+1)
	wantP, want := modelWrite(p, op)
	got, ok := op.write(p)
	switch {
	case want == nil && ok:
		t.Fatalf("%+v on %x = %d, want nil (FAIL)", op, init, got)
	case want != nil && !ok:
		t.Fatalf("%+v on %x = nil, want %s", op, init, want)
	case want != nil && want.Cmp(big.NewInt(got)) != 0:
		t.Fatalf("%+v on %x = %d, want %s", op, init, got, want)
	case !bytes.Equal(p, wantP):
		t.Fatalf("%+v on %x wrote %x, want %x", op, init, p, wantP)
	}
}

// bitfieldOpOf builds an operation from arbitrary inputs.
func bitfieldOpOf(signed bool, width uint8, offset uint16, arg int64, incr bool, overflow uint8) bitfieldOp {
	op := bitfieldOp{offset: uint64(offset), arg: arg, op: 's', overflow: int(overflow % 3), signed: signed}
	if incr {
		op.op = 'i'
	}
	if signed {
		op.width = uint(width%64) + 1
	} else {
		op.width = uint(width%63) + 1
	}
	return op
}

func TestBitfieldModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 59))
	edges := []int64{0, 1, -1, 2, -2, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	for range 200000 {
		init := make([]byte, r.IntN(12))
		for i := range init {
			init[i] = byte(r.UintN(256))
		}
		var arg int64
		switch r.IntN(4) {
		case 0:
			arg = edges[r.IntN(len(edges))]
		case 1:
			arg = r.Int64()
		case 2:
			w := r.UintN(64)
			arg = int64(1)<<w + r.Int64N(5) - 2
			if r.IntN(2) == 0 {
				arg = -arg
			}
		default:
			arg = r.Int64N(1000) - 500
		}
		op := bitfieldOpOf(r.IntN(2) == 0, uint8(r.UintN(256)), uint16(r.IntN(120)), arg, r.IntN(2) == 0, uint8(r.UintN(3)))
		checkBitfieldOp(t, init, op)
	}
}

func FuzzBitfield(f *testing.F) {
	f.Add([]byte{0xff, 0x00, 0x5a}, true, uint8(7), uint16(3), int64(-200), false, uint8(1))
	f.Add([]byte{}, false, uint8(62), uint16(0), int64(-1), true, uint8(0))
	f.Add([]byte{0x80}, true, uint8(63), uint16(0), int64(math.MinInt64), true, uint8(2))
	f.Add([]byte{0x7f, 0xff}, true, uint8(7), uint16(0), int64(math.MinInt64+127), false, uint8(1))
	f.Fuzz(func(t *testing.T, init []byte, signed bool, width uint8, offset uint16, arg int64, incr bool, overflow uint8) {
		if len(init) > 64 {
			init = init[:64]
		}
		op := bitfieldOpOf(signed, width, offset%1024, arg, incr, overflow)
		checkBitfieldOp(t, init, op)
	})
}

// TestBitRanges checks BITCOUNT's and BITPOS's range scans against a bit-by-bit count.
func TestBitRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 59))
	for range 20000 {
		v := make([]byte, 1+r.IntN(40))
		fill := []byte{0, 0xff}[r.IntN(2)]
		for i := range v {
			v[i] = fill
			if r.IntN(8) == 0 {
				v[i] = byte(r.UintN(256))
			}
		}
		lo := r.Int64N(int64(len(v)) * 8)
		hi := lo + r.Int64N(int64(len(v))*8-lo)
		count, first0, first1 := int64(0), int64(-1), int64(-1)
		for i := lo; i <= hi; i++ {
			if v[i/8]>>(7-i%8)&1 == 1 {
				count++
				if first1 < 0 {
					first1 = i
				}
			} else if first0 < 0 {
				first0 = i
			}
		}
		if got := popcount(v, lo, hi); got != count {
			t.Fatalf("popcount(%x, %d, %d) = %d, want %d", v, lo, hi, got, count)
		}
		if got := bitPos(v, lo, hi, true); got != first1 {
			t.Fatalf("bitPos(%x, %d, %d, 1) = %d, want %d", v, lo, hi, got, first1)
		}
		if got := bitPos(v, lo, hi, false); got != first0 {
			t.Fatalf("bitPos(%x, %d, %d, 0) = %d, want %d", v, lo, hi, got, first0)
		}
	}
}
