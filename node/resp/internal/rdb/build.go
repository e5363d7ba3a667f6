package rdb

import "encoding/binary"

// Builders of the compact encodings, for tests here and in the RESP server's differential test
// against redis-server, which RESTOREs what they build (Redis 7.0 no longer writes ziplists, but
// reads them, and so must geocache). Entries are strings, or int64s encoded as Redis encodes an
// integer-looking string.

// Ziplist builds a ziplist of entries (string, or int64 encoded as Redis would).
func Ziplist(entries ...any) []byte {
	zl := make([]byte, 10)
	prev, tail := 0, 10
	for _, e := range entries {
		start := len(zl)
		if prev < 254 {
			zl = append(zl, byte(prev))
		} else {
			zl = binary.LittleEndian.AppendUint32(append(zl, 0xfe), uint32(prev))
		}
		switch v := e.(type) {
		case string:
			switch n := len(v); {
			case n < 64:
				zl = append(zl, byte(n))
			case n < 16384:
				zl = append(zl, 0x40|byte(n>>8), byte(n))
			default:
				zl = binary.BigEndian.AppendUint32(append(zl, 0x80), uint32(n))
			}
			zl = append(zl, v...)
		case int64:
			switch {
			case v >= 0 && v <= 12:
				zl = append(zl, 0xf1+byte(v))
			case v == int64(int8(v)):
				zl = append(zl, 0xfe, byte(v))
			case v == int64(int16(v)):
				zl = binary.LittleEndian.AppendUint16(append(zl, 0xc0), uint16(v))
			case v >= -1<<23 && v < 1<<23:
				zl = append(zl, 0xf0, byte(v), byte(v>>8), byte(v>>16))
			case v == int64(int32(v)):
				zl = binary.LittleEndian.AppendUint32(append(zl, 0xd0), uint32(v))
			default:
				zl = binary.LittleEndian.AppendUint64(append(zl, 0xe0), uint64(v))
			}
		}
		prev, tail = len(zl)-start, start
	}
	zl = append(zl, 0xff)
	binary.LittleEndian.PutUint32(zl, uint32(len(zl)))
	binary.LittleEndian.PutUint32(zl[4:], uint32(tail))
	binary.LittleEndian.PutUint16(zl[8:], uint16(len(entries)))
	return zl
}

// Listpack builds a listpack of entries (string, or int64 encoded as Redis would).
func Listpack(entries ...any) []byte {
	lp := make([]byte, 6)
	for _, e := range entries {
		start := len(lp)
		switch v := e.(type) {
		case string:
			switch n := len(v); {
			case n < 64:
				lp = append(lp, 0x80|byte(n))
			case n < 4096:
				lp = append(lp, 0xe0|byte(n>>8), byte(n))
			default:
				lp = binary.LittleEndian.AppendUint32(append(lp, 0xf0), uint32(n))
			}
			lp = append(lp, v...)
		case int64:
			switch {
			case v >= 0 && v <= 127:
				lp = append(lp, byte(v))
			case v >= -4096 && v <= 4095:
				lp = append(lp, 0xc0|byte(v>>8)&0x1f, byte(v))
			case v == int64(int16(v)):
				lp = binary.LittleEndian.AppendUint16(append(lp, 0xf1), uint16(v))
			case v >= -1<<23 && v < 1<<23:
				lp = append(lp, 0xf2, byte(v), byte(v>>8), byte(v>>16))
			case v == int64(int32(v)):
				lp = binary.LittleEndian.AppendUint32(append(lp, 0xf3), uint32(v))
			default:
				lp = binary.LittleEndian.AppendUint64(append(lp, 0xf4), uint64(v))
			}
		}
		lp = appendBacklen(lp, len(lp)-start)
	}
	lp = append(lp, 0xff)
	binary.LittleEndian.PutUint32(lp, uint32(len(lp)))
	binary.LittleEndian.PutUint16(lp[4:], uint16(len(entries)))
	return lp
}

// appendBacklen is lpEncodeBacklen.
func appendBacklen(b []byte, l int) []byte {
	n := backlenSize(l)
	for i := n - 1; i >= 0; i-- {
		c := byte(l>>(7*i)) & 0x7f
		if i != n-1 {
			c |= 0x80
		}
		b = append(b, c)
	}
	return b
}

// Intset builds an intset of enc bytes per integer (2, 4 or 8) holding vals as given.
func Intset(enc int, vals ...int64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(enc))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vals)))
	for _, v := range vals {
		switch enc {
		case 2:
			b = binary.LittleEndian.AppendUint16(b, uint16(v))
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		default:
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	return b
}

// Packed wraps a ziplist, listpack or intset blob as a DUMP payload of RDB type t.
func Packed(t byte, blob []byte) []byte {
	return Finish(AppendString([]byte{t}, blob))
}
