package rdb

import (
	"encoding/binary"
	"math"
	"strconv"
)

// AppendLen appends an RDB length: 6 bits, 14 bits, or 32 or 64 bits big-endian.
func AppendLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|0x40, byte(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0x80), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0x81), n)
	}
}

// AppendString appends an RDB string as Redis writes one without compression: a canonical
// decimal integer of 32 bits as an integer of 1, 2 or 4 bytes (rdbTryIntegerEncoding), any
// other string raw.
func AppendString(b []byte, s []byte) []byte {
	if v, ok := smallInt(s); ok {
		switch {
		case v >= math.MinInt8 && v <= math.MaxInt8:
			return append(b, 0xc0, byte(v))
		case v >= math.MinInt16 && v <= math.MaxInt16:
			return binary.LittleEndian.AppendUint16(append(b, 0xc1), uint16(v))
		default:
			return binary.LittleEndian.AppendUint32(append(b, 0xc2), uint32(v))
		}
	}
	b = AppendLen(b, uint64(len(s)))
	return append(b, s...)
}

// smallInt parses s as a decimal integer of 32 bits that formats back to exactly s (no sign
// but '-', no leading zeros), the strings Redis stores as integers in an RDB.
func smallInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 11 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s), 10, 32)
	if err != nil {
		return 0, false
	}
	var buf [12]byte
	return v, string(strconv.AppendInt(buf[:0], v, 10)) == string(s)
}

// AppendDouble appends a zset2 score: an IEEE 754 double, little-endian.
func AppendDouble(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}
