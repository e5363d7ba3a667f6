package resp

import (
	"context"
	"errors"
	"math"
	"math/bits"

	"github.com/geocache/geocache/node"
)

// Redis's bit commands on strings (src/bitops.c of Redis 7.0): SETBIT, GETBIT, BITCOUNT, BITPOS,
// BITOP, BITFIELD and BITFIELD_RO. Bit 0 is the most significant bit of the first byte. The
// writes are read-modify-writes of the whole value (Backend.Modify, as APPEND and SETRANGE):
// atomic on this node, in and out of MULTI/EXEC and scripts, and replicated as the resulting
// value, so a concurrent write of the key in another region wins or loses whole (last writer
// wins), never merged bit by bit. Each write copies the value: O(length), where Redis's SETBIT
// is O(1). Reads use getLocal (no read-through on an event loop).

const (
	errBitOffset   = "ERR bit offset is not an integer or out of range"
	errBitValue    = "ERR bit is not an integer or out of range"
	errBitArg      = "ERR The bit argument must be 1 or 0."
	errBitopNot    = "ERR BITOP NOT must be called with a single source key."
	errBitfieldTyp = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	errOverflowTyp = "ERR Invalid OVERFLOW type specified"
	errBitfieldRO  = "ERR BITFIELD_RO only supports the GET subcommand"
)

// bitOffset parses a bit offset as Redis's getBitOffsetFromArgument: an integer, or with hash
// (BITFIELD) "#n" meaning n*width; negative offsets, and offsets whose byte is past
// proto-max-bulk-len, are refused.
func bitOffset(s *Server, arg []byte, hash bool, width int) (uint64, bool) {
	useHash := hash && width > 0 && len(arg) > 0 && arg[0] == '#'
	if useHash {
		arg = arg[1:]
	}
	off, ok := string2ll(arg)
	if !ok {
		return 0, false
	}
	if useHash {
		off *= int64(width) // wraps as Redis's long long multiplication does; caught below
	}
	if off < 0 || off>>3 >= int64(s.cfg.MaxBulkLen) {
		return 0, false
	}
	return uint64(off), true
}

// readString reads key for a bit read command: its value, whether it exists, and false after
// an error reply (WRONGTYPE for a collection).
func readString(ctx context.Context, s *Server, c *client, key []byte) ([]byte, bool, bool) {
	it, found, err := getLocal(ctx, s, c, string(key))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return nil, false, false
	}
	if !found {
		return nil, false, true
	}
	return it.Value, true, true
}

// grow returns a copy of cur at least n bytes long (zero-padded), and whether it grew. The
// copy is what Modify stores: cur may alias the stored value.
func grow(cur []byte, n uint64) ([]byte, bool) {
	size := max(uint64(len(cur)), n)
	next := make([]byte, size)
	copy(next, cur)
	return next, size > uint64(len(cur))
}

// bitWriteError answers the error of a bit write: a value over --max-value-size as APPEND's.
func bitWriteError(c *client, err error) {
	if errors.Is(err, node.ErrValueTooLarge) {
		c.out = appendError(c.out, errMaxSize)
		return
	}
	c.out = appendError(c.out, backendError(err))
}

// cmdSetBit serves SETBIT key offset value. Like Redis it writes only when the key is created,
// grows, or the bit changes; the key keeps its TTL.
func cmdSetBit(ctx context.Context, s *Server, c *client, argv [][]byte) {
	off, ok := bitOffset(s, argv[2], false, 0)
	if !ok {
		c.out = appendError(c.out, errBitOffset)
		return
	}
	on, ok := string2ll(argv[3])
	if !ok || on&^1 != 0 {
		c.out = appendError(c.out, errBitValue)
		return
	}
	idx, mask := off>>3, byte(1)<<(7-off&7)
	var was bool
	_, err := c.be().Modify(ctx, string(argv[1]), func(cur []byte, live bool) ([]byte, bool, error) {
		was = idx < uint64(len(cur)) && cur[idx]&mask != 0
		if live && idx < uint64(len(cur)) && was == (on == 1) {
			return nil, false, nil // unchanged: no new version to replicate
		}
		next, _ := grow(cur, idx+1)
		if on == 1 {
			next[idx] |= mask
		} else {
			next[idx] &^= mask
		}
		return next, true, nil
	})
	switch {
	case err != nil:
		bitWriteError(c, err)
	case was:
		c.out = appendInt(c.out, 1)
	default:
		c.out = appendInt(c.out, 0)
	}
}

// cmdGetBit serves GETBIT key offset: the offset is checked before the key, as in Redis.
func cmdGetBit(ctx context.Context, s *Server, c *client, argv [][]byte) {
	off, ok := bitOffset(s, argv[2], false, 0)
	if !ok {
		c.out = appendError(c.out, errBitOffset)
		return
	}
	v, _, ok := readString(ctx, s, c, argv[1])
	if !ok {
		return
	}
	if idx := off >> 3; idx < uint64(len(v)) && v[idx]&(1<<(7-off&7)) != 0 {
		c.out = appendInt(c.out, 1)
		return
	}
	c.out = appendInt(c.out, 0)
}

// bitRange turns BITCOUNT's and BITPOS's start and end (bytes, or bits with BIT) into a range
// of bits [lo, hi] of a value of n bytes, with Redis's index rules; empty when lo > hi.
func bitRange(start, end, n int64, isBit bool) (lo, hi int64) {
	total := n
	if isBit {
		total <<= 3
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	if start > end {
		return 1, 0
	}
	if isBit {
		return start, end
	}
	return start << 3, end<<3 + 7
}

// bitUnit parses BITCOUNT's and BITPOS's BIT|BYTE argument.
func bitUnit(arg []byte) (isBit, ok bool) {
	switch a := cstr(arg); {
	case equalFold(a, "bit"):
		return true, true
	case equalFold(a, "byte"):
		return false, true
	}
	return false, false
}

// cmdBitCount serves BITCOUNT key [start end [BIT|BYTE]]. As in Redis, a missing key answers 0
// before its arguments are looked at.
func cmdBitCount(ctx context.Context, s *Server, c *client, argv [][]byte) {
	v, found, ok := readString(ctx, s, c, argv[1])
	if !ok {
		return
	}
	if !found {
		c.out = appendInt(c.out, 0)
		return
	}
	lo, hi := int64(0), int64(len(v))*8-1
	switch len(argv) {
	case 2:
	case 4, 5:
		start, ok1 := string2ll(argv[2])
		if !ok1 {
			c.out = appendError(c.out, errNotInteger)
			return
		}
		end, ok2 := string2ll(argv[3])
		if !ok2 {
			c.out = appendError(c.out, errNotInteger)
			return
		}
		if start < 0 && end < 0 && start > end {
			c.out = appendInt(c.out, 0) // before BIT|BYTE is parsed, as Redis does
			return
		}
		isBit := false
		if len(argv) == 5 {
			if isBit, ok = bitUnit(argv[4]); !ok {
				c.out = appendError(c.out, errSyntax)
				return
			}
		}
		lo, hi = bitRange(start, end, int64(len(v)), isBit)
	default:
		c.out = appendError(c.out, errSyntax)
		return
	}
	c.out = appendInt(c.out, popcount(v, lo, hi))
}

// popcount counts the set bits [lo, hi] of v (0 when lo > hi).
func popcount(v []byte, lo, hi int64) int64 {
	if lo > hi {
		return 0
	}
	first, last := lo>>3, hi>>3
	n := 0
	for _, b := range v[first : last+1] {
		n += bits.OnesCount8(b)
	}
	// Take off the bits of the edge bytes outside the range.
	n -= bits.OnesCount8(v[first] & ^byte(0xff>>(lo&7)))
	n -= bits.OnesCount8(v[last] & byte(0xff>>(hi&7+1)))
	return int64(n)
}

// cmdBitPos serves BITPOS key bit [start [end [BIT|BYTE]]].
func cmdBitPos(ctx context.Context, s *Server, c *client, argv [][]byte) {
	bit, ok := string2ll(argv[2])
	if !ok {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	if bit != 0 && bit != 1 {
		c.out = appendError(c.out, errBitArg)
		return
	}
	v, found, ok := readString(ctx, s, c, argv[1])
	if !ok {
		return
	}
	if !found {
		// A missing key is an endless run of zeros, whatever the range.
		c.out = appendInt(c.out, -bit)
		return
	}
	lo, hi := int64(0), int64(len(v))*8-1
	endGiven := false
	switch len(argv) {
	case 3:
	case 4, 5, 6:
		start, ok := string2ll(argv[3])
		if !ok {
			c.out = appendError(c.out, errNotInteger)
			return
		}
		isBit := false
		if len(argv) == 6 {
			if isBit, ok = bitUnit(argv[5]); !ok {
				c.out = appendError(c.out, errSyntax)
				return
			}
		}
		end := int64(len(v)) - 1
		if len(argv) >= 5 {
			if end, ok = string2ll(argv[4]); !ok {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			endGiven = true
		}
		lo, hi = bitRange(start, end, int64(len(v)), isBit)
	default:
		c.out = appendError(c.out, errSyntax)
		return
	}
	if lo > hi {
		c.out = appendInt(c.out, -1) // an empty range holds neither a 0 nor a 1
		return
	}
	pos := bitPos(v, lo, hi, bit == 1)
	if pos < 0 && bit == 0 && !endGiven {
		// Without an end the value counts as padded with zeros on the right.
		pos = hi + 1
	}
	c.out = appendInt(c.out, pos)
}

// bitPos returns the first bit of v in [lo, hi] that is set (one) or clear (!one), or -1. It
// steps over whole bytes holding none.
func bitPos(v []byte, lo, hi int64, one bool) int64 {
	skip := byte(0xff) // a byte with no bit sought
	if one {
		skip = 0
	}
	for i := lo; i <= hi; {
		b := v[i>>3]
		if i&7 == 0 && i+7 <= hi && b == skip {
			i += 8
			continue
		}
		if (b&(0x80>>(i&7)) != 0) == one {
			return i
		}
		i++
	}
	return -1
}

// cmdBitOp serves BITOP AND|OR|XOR|NOT destkey srckey...: the destination is replaced by the
// result (a plain SET: no TTL) or deleted when the result is empty, and the reply is its
// length. Outside a transaction the reads of the sources and the write of the destination are
// separate local operations (as SINTERSTORE's); inside MULTI/EXEC or a script they hold every
// key's lock.
func cmdBitOp(ctx context.Context, s *Server, c *client, argv [][]byte) {
	var op byte
	switch name := cstr(argv[1]); {
	case equalFold(name, "and"):
		op = '&'
	case equalFold(name, "or"):
		op = '|'
	case equalFold(name, "xor"):
		op = '^'
	case equalFold(name, "not"):
		op = '~'
	default:
		c.out = appendError(c.out, errSyntax)
		return
	}
	if op == '~' && len(argv) != 4 {
		c.out = appendError(c.out, errBitopNot)
		return
	}
	srcs := make([][]byte, 0, len(argv)-3)
	maxLen := 0
	for _, k := range argv[3:] {
		v, _, ok := readString(ctx, s, c, k)
		if !ok {
			return
		}
		srcs = append(srcs, v)
		maxLen = max(maxLen, len(v))
	}
	dst := string(argv[2])
	if maxLen == 0 {
		if _, err := c.be().Delete(ctx, dst); err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
		c.out = appendInt(c.out, 0)
		return
	}
	res := make([]byte, maxLen)
	copy(res, srcs[0]) // shorter sources are padded with zeros
	switch op {
	case '~':
		for i := range res {
			res[i] = ^res[i]
		}
	case '&':
		for _, src := range srcs[1:] {
			for i := range res {
				if i < len(src) {
					res[i] &= src[i]
				} else {
					res[i] = 0
				}
			}
		}
	case '|':
		for _, src := range srcs[1:] {
			for i := range src {
				res[i] |= src[i]
			}
		}
	case '^':
		for _, src := range srcs[1:] {
			for i := range src {
				res[i] ^= src[i]
			}
		}
	}
	if _, err := c.be().Set(ctx, dst, res, node.SetOptions{}); err != nil {
		bitWriteError(c, err)
		return
	}
	c.out = appendInt(c.out, int64(maxLen))
}

// Overflow behaviours of BITFIELD's SET and INCRBY.
const (
	overflowWrap = iota
	overflowSat
	overflowFail
)

// bitfieldOp is one GET, SET or INCRBY of a BITFIELD command.
type bitfieldOp struct {
	offset   uint64
	arg      int64 // SET's value, INCRBY's increment
	op       byte  // 'g', 's' or 'i'
	overflow int
	width    uint // 1..64 (signed), 1..63 (unsigned)
	signed   bool
}

// bitfieldType parses a type: i1..i64 or u1..u63 (lower-case only, as Redis).
func bitfieldType(arg []byte) (width uint, signed, ok bool) {
	if len(arg) == 0 || (arg[0] != 'i' && arg[0] != 'u') {
		return 0, false, false
	}
	signed = arg[0] == 'i'
	n, ok := string2ll(cstr(arg[1:]))
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		return 0, false, false
	}
	return uint(n), signed, true
}

// cmdBitField serves BITFIELD and BITFIELD_RO. Every operation is parsed before any runs, as
// in Redis; a command of GETs only reads, one with SET or INCRBY is one Modify that grows the
// value to the farthest bit written and keeps the key's TTL.
func cmdBitField(ctx context.Context, s *Server, c *client, argv [][]byte) {
	ro := equalFold(argv[0], "bitfield_ro")
	var ops []bitfieldOp
	overflow := overflowWrap
	readOnly := true
	var highest uint64
	for j := 2; j < len(argv); j++ {
		rem := len(argv) - j - 1
		var op byte
		switch name := cstr(argv[j]); {
		case equalFold(name, "get") && rem >= 2:
			op = 'g'
		case equalFold(name, "set") && rem >= 3:
			op = 's'
		case equalFold(name, "incrby") && rem >= 3:
			op = 'i'
		case equalFold(name, "overflow") && rem >= 1:
			j++
			switch kind := cstr(argv[j]); {
			case equalFold(kind, "wrap"):
				overflow = overflowWrap
			case equalFold(kind, "sat"):
				overflow = overflowSat
			case equalFold(kind, "fail"):
				overflow = overflowFail
			default:
				c.out = appendError(c.out, errOverflowTyp)
				return
			}
			continue
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
		width, signed, ok := bitfieldType(argv[j+1])
		if !ok {
			c.out = appendError(c.out, errBitfieldTyp)
			return
		}
		off, ok := bitOffset(s, argv[j+2], true, int(width))
		if !ok {
			c.out = appendError(c.out, errBitOffset)
			return
		}
		var arg int64
		if op != 'g' {
			readOnly = false
			highest = max(highest, off+uint64(width)-1)
			if arg, ok = string2ll(argv[j+3]); !ok {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			j++
		}
		ops = append(ops, bitfieldOp{offset: off, arg: arg, op: op, overflow: overflow, width: width, signed: signed})
		j += 2
	}

	if readOnly {
		v, _, ok := readString(ctx, s, c, argv[1])
		if !ok {
			return
		}
		c.out = appendArrayLen(c.out, len(ops))
		for _, op := range ops {
			c.out = appendInt(c.out, bitfieldGet(v, op))
		}
		return
	}
	if ro {
		c.out = appendError(c.out, errBitfieldRO)
		return
	}
	// Replies are kept aside until Modify returns: it may still fail (too big, WRONGTYPE).
	type result struct {
		n    int64
		null bool
	}
	results := make([]result, len(ops))
	_, err := c.be().Modify(ctx, string(argv[1]), func(cur []byte, live bool) ([]byte, bool, error) {
		next, grown := grow(cur, highest>>3+1)
		changed := grown || !live
		for i, op := range ops {
			if op.op == 'g' {
				results[i].n = bitfieldGet(next, op)
				continue
			}
			old := getBits(next, op.offset, op.width)
			n, ok := op.write(next)
			if !ok {
				results[i].null = true
				continue
			}
			results[i].n = n
			if getBits(next, op.offset, op.width) != old {
				changed = true
			}
		}
		return next, changed, nil
	})
	if err != nil {
		bitWriteError(c, err)
		return
	}
	c.out = appendArrayLen(c.out, len(ops))
	for _, r := range results {
		if r.null {
			c.out = appendNull(c.out, c.proto)
		} else {
			c.out = appendInt(c.out, r.n)
		}
	}
}

// bitfieldGet reads a GET's integer; bits past the end of v are zeros.
func bitfieldGet(v []byte, op bitfieldOp) int64 {
	u := getBits(v, op.offset, op.width)
	if op.signed {
		return signExtend(u, op.width)
	}
	return int64(u)
}

// write runs a SET or INCRBY on p, which holds its bits: the reply (SET: the old value,
// INCRBY: the new one), or false when OVERFLOW FAIL refused it and nothing was written.
func (op bitfieldOp) write(p []byte) (int64, bool) {
	old := getBits(p, op.offset, op.width)
	var val, ret uint64
	var over int
	if op.signed {
		oldv := signExtend(old, op.width)
		var nv, lim int64
		if op.op == 'i' {
			nv = oldv + op.arg
			if over, lim = signedOverflow(oldv, op.arg, op.width, op.overflow); over != 0 {
				nv = lim
			}
			ret = uint64(nv)
		} else {
			nv = op.arg
			if over, lim = signedOverflow(nv, 0, op.width, op.overflow); over != 0 {
				nv = lim
			}
			ret = uint64(oldv)
		}
		val = uint64(nv)
	} else {
		var lim uint64
		if op.op == 'i' {
			val = old + uint64(op.arg)
			if over, lim = unsignedOverflow(old, op.arg, op.width, op.overflow); over != 0 {
				val = lim
			}
			ret = val
		} else {
			val = uint64(op.arg)
			if over, lim = unsignedOverflow(val, 0, op.width, op.overflow); over != 0 {
				val = lim
			}
			ret = old
		}
	}
	if over != 0 && op.overflow == overflowFail {
		return 0, false
	}
	setBits(p, op.offset, op.width, val)
	return int64(ret), true
}

// getBits reads width bits of p from bit offset as an unsigned integer, most significant bit
// first; bits past the end of p read as zeros.
func getBits(p []byte, offset uint64, width uint) uint64 {
	var v uint64
	for range width {
		bit := uint64(0)
		if idx := offset >> 3; idx < uint64(len(p)) {
			bit = uint64(p[idx]>>(7-offset&7)) & 1
		}
		v = v<<1 | bit
		offset++
	}
	return v
}

// setBits writes the low width bits of v at bit offset of p, which must hold them.
func setBits(p []byte, offset uint64, width uint, v uint64) {
	for j := range width {
		mask := byte(1) << (7 - offset&7)
		if v&(1<<(width-1-j)) != 0 {
			p[offset>>3] |= mask
		} else {
			p[offset>>3] &^= mask
		}
		offset++
	}
}

// signExtend reads the low width bits of u as a two's complement integer.
func signExtend(u uint64, width uint) int64 {
	if width < 64 && u&(1<<(width-1)) != 0 {
		u |= math.MaxUint64 << width
	}
	return int64(u)
}

// unsignedOverflow is Redis's checkUnsignedBitfieldOverflow: whether value+incr fits in width
// unsigned bits (0), overflows (1) or underflows (-1), and the value to store instead under
// WRAP or SAT. Its integer conversions are C's, on purpose: replies match Redis's at the limits.
func unsignedOverflow(value uint64, incr int64, width uint, overflow int) (int, uint64) {
	maxv := uint64(1)<<width - 1
	maxIncr := int64(maxv - value)
	minIncr := -int64(value)
	wrap := func() uint64 { return (value + uint64(incr)) &^ (math.MaxUint64 << width) }
	switch {
	case value > maxv || (incr > 0 && incr > maxIncr):
		switch overflow {
		case overflowWrap:
			return 1, wrap()
		case overflowSat:
			return 1, maxv
		}
		return 1, 0
	case incr < 0 && incr < minIncr:
		switch overflow {
		case overflowWrap:
			return -1, wrap()
		case overflowSat:
			return -1, 0
		}
		return -1, 0
	}
	return 0, 0
}

// signedOverflow is Redis's checkSignedBitfieldOverflow, with its wrapping arithmetic.
func signedOverflow(value, incr int64, width uint, overflow int) (int, int64) {
	maxv := int64(math.MaxInt64)
	if width != 64 {
		maxv = int64(1)<<(width-1) - 1
	}
	minv := -maxv - 1
	maxIncr := int64(uint64(maxv) - uint64(value))
	minIncr := minv - value
	wrap := func() int64 {
		sum := uint64(value) + uint64(incr)
		if width < 64 {
			mask := uint64(math.MaxUint64) << width
			if sum&(1<<(width-1)) != 0 {
				sum |= mask
			} else {
				sum &^= mask
			}
		}
		return int64(sum)
	}
	switch {
	case value > maxv || (width != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		switch overflow {
		case overflowWrap:
			return 1, wrap()
		case overflowSat:
			return 1, maxv
		}
		return 1, 0
	case value < minv || (width != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		switch overflow {
		case overflowWrap:
			return -1, wrap()
		case overflowSat:
			return -1, minv
		}
		return -1, 0
	}
	return 0, 0
}
