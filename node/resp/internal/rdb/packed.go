package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// The compact encodings Redis dumps small collections in, each validated as Redis's deep
// sanitization does (intsetValidateIntegrity, ziplistValidateIntegrity, lpValidateIntegrity):
// sizes in the headers match the bytes, every entry lies inside them, the back-links agree.

// intset reads an intset (RDB_TYPE_SET_INTSET): encoding (2, 4 or 8 bytes per integer) and
// count, both 32-bit little-endian, then the integers, little-endian, strictly ascending.
func intset(p []byte, r *reader) [][]byte {
	if r.err != nil {
		return nil
	}
	if len(p) < 8 {
		r.fail("intset header truncated")
		return nil
	}
	enc := binary.LittleEndian.Uint32(p)
	n := uint64(binary.LittleEndian.Uint32(p[4:]))
	if enc != 2 && enc != 4 && enc != 8 {
		r.fail("intset encoding %d", enc)
		return nil
	}
	if 8+n*uint64(enc) != uint64(len(p)) || n == 0 {
		r.fail("intset of %d integers in %d bytes", n, len(p))
		return nil
	}
	out := make([][]byte, 0, n)
	var prev int64
	for i := range int(n) {
		var v int64
		q := p[8+i*int(enc):]
		switch enc {
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(q)))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(q)))
		default:
			v = int64(binary.LittleEndian.Uint64(q))
		}
		if i > 0 && v <= prev {
			r.fail("intset not ascending")
			return nil
		}
		prev = v
		out = append(out, strconv.AppendInt(nil, v, 10))
	}
	return out
}

var errZiplist = errors.New("ziplist integrity check failed")

// ziplistEntries returns the entries of a ziplist: zlbytes and zltail (32-bit), zllen (16-bit),
// entries, 0xff. An entry is the previous entry's length (1 byte, or 0xfe and 4 bytes), an
// encoding and its data; integers are returned in decimal.
func ziplistEntries(p []byte) ([][]byte, error) {
	const header = 10
	if len(p) < header+1 || binary.LittleEndian.Uint32(p) != uint32(len(p)) || p[len(p)-1] != 0xff {
		return nil, errZiplist
	}
	tail := int(binary.LittleEndian.Uint32(p[4:]))
	count := int(binary.LittleEndian.Uint16(p[8:]))
	end := len(p) - 1
	var out [][]byte
	prevSize, last := 0, -1
	for i := header; i < end; {
		start := i
		// Previous entry length.
		var prevLen int
		if p[i] < 0xfe {
			prevLen = int(p[i])
			i++
		} else {
			if i+5 > end {
				return nil, errZiplist
			}
			prevLen = int(binary.LittleEndian.Uint32(p[i+1:]))
			i += 5
		}
		if prevLen != prevSize || i >= end {
			return nil, errZiplist
		}
		// Encoding and data.
		b := p[i]
		var val []byte
		var n int // data bytes after the encoding header
		switch {
		case b>>6 == 0: // string, 6-bit length
			n, i = int(b&0x3f), i+1
		case b>>6 == 1: // string, 14-bit length big-endian
			if i+2 > end {
				return nil, errZiplist
			}
			n, i = int(b&0x3f)<<8|int(p[i+1]), i+2
		case b>>6 == 2: // string, 32-bit length big-endian
			if i+5 > end {
				return nil, errZiplist
			}
			n, i = int(binary.BigEndian.Uint32(p[i+1:])), i+5
		default:
			i++
			var size int
			switch {
			case b == 0xc0:
				size = 2
			case b == 0xd0:
				size = 4
			case b == 0xe0:
				size = 8
			case b == 0xf0:
				size = 3
			case b == 0xfe:
				size = 1
			case b >= 0xf1 && b <= 0xfd: // immediate 0..12
				val = strconv.AppendInt(nil, int64(b&0x0f)-1, 10)
			default:
				return nil, errZiplist
			}
			if size > end-i {
				return nil, errZiplist
			}
			if size > 0 {
				val = strconv.AppendInt(nil, leInt(p[i:i+size]), 10)
			}
			i += size
		}
		if val == nil {
			if n < 0 || n > end-i {
				return nil, errZiplist
			}
			val, i = p[i:i+n], i+n
		}
		out = append(out, val)
		prevSize, last = i-start, start
	}
	if last >= 0 && last != tail || last < 0 && tail > end {
		return nil, errZiplist
	}
	if count != 0xffff && count != len(out) {
		return nil, errZiplist
	}
	return out, nil
}

// leInt reads a signed little-endian integer of 1, 2, 3, 4 or 8 bytes.
func leInt(q []byte) int64 {
	var u uint64
	for i := len(q) - 1; i >= 0; i-- {
		u = u<<8 | uint64(q[i])
	}
	shift := 64 - 8*uint(len(q))
	return int64(u<<shift) >> shift
}

var errListpack = errors.New("listpack integrity check failed")

// listpackEntries returns the entries of a listpack: total bytes (32-bit) and count (16-bit),
// entries, 0xff. An entry is an encoding, its data and its length again, backwards, as a
// varint of 1 to 5 bytes; integers are returned in decimal.
func listpackEntries(p []byte) ([][]byte, error) {
	const header = 6
	if len(p) < header+1 || binary.LittleEndian.Uint32(p) != uint32(len(p)) || p[len(p)-1] != 0xff {
		return nil, errListpack
	}
	count := int(binary.LittleEndian.Uint16(p[4:]))
	end := len(p) - 1
	var out [][]byte
	for i := header; i < end; {
		b := p[i]
		var val []byte
		var head, n int // encoding bytes, string bytes
		switch {
		case b&0x80 == 0: // 7-bit unsigned
			val, head = strconv.AppendInt(nil, int64(b&0x7f), 10), 1
		case b&0xc0 == 0x80: // string, 6-bit length
			head, n = 1, int(b&0x3f)
		case b&0xe0 == 0xc0: // 13-bit signed
			if i+2 > end {
				return nil, errListpack
			}
			u := uint64(b&0x1f)<<8 | uint64(p[i+1])
			val, head = strconv.AppendInt(nil, int64(u<<51)>>51, 10), 2
		case b&0xf0 == 0xe0: // string, 12-bit length
			if i+2 > end {
				return nil, errListpack
			}
			head, n = 2, int(b&0x0f)<<8|int(p[i+1])
		case b == 0xf0: // string, 32-bit length little-endian
			if i+5 > end {
				return nil, errListpack
			}
			head, n = 5, int(binary.LittleEndian.Uint32(p[i+1:]))
		case b >= 0xf1 && b <= 0xf4: // 16, 24, 32 and 64-bit signed
			size := [...]int{2, 3, 4, 8}[b-0xf1]
			if i+1+size > end {
				return nil, errListpack
			}
			val, head = strconv.AppendInt(nil, leInt(p[i+1:i+1+size]), 10), 1+size
		default:
			return nil, errListpack
		}
		if n < 0 || n > end-i-head {
			return nil, errListpack
		}
		if val == nil {
			val = p[i+head : i+head+n]
		}
		size := head + n
		back := backlenSize(size)
		if size+back > end-i {
			return nil, errListpack
		}
		if decodeBacklen(p[i+size:i+size+back]) != uint64(size) {
			return nil, errListpack
		}
		out = append(out, val)
		i += size + back
	}
	if count != 0xffff && count != len(out) {
		return nil, errListpack
	}
	return out, nil
}

// backlenSize is the size of the back length of an entry of size l (lpEncodeBacklen).
func backlenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// decodeBacklen reads a back length from its last byte backwards (lpDecodeBacklen): 7 bits a
// byte, the high bit set on all but the first.
func decodeBacklen(q []byte) uint64 {
	var v uint64
	shift := 0
	for i := len(q) - 1; i >= 0; i-- {
		v |= uint64(q[i]&0x7f) << shift
		shift += 7
		if q[i]&0x80 == 0 {
			if i != 0 {
				return ^uint64(0)
			}
			return v
		}
	}
	return ^uint64(0)
}

// lzfDecompress decodes LZF (liblzf, as Redis uses it) into exactly n bytes. An LZF back
// reference of 3 bytes yields at most 264, so a claim beyond 88 times the input is corrupt
// and refused before allocating for it.
func lzfDecompress(in []byte, n uint64) ([]byte, error) {
	if n == 0 || n > 88*uint64(len(in)) {
		return nil, fmt.Errorf("LZF: %d bytes claimed from %d", n, len(in))
	}
	out := make([]byte, 0, n)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // a literal run of ctrl+1 bytes
			ctrl++
			if i+ctrl > len(in) || uint64(len(out)+ctrl) > n {
				return nil, errLZF
			}
			out = append(out, in[i:i+ctrl]...)
			i += ctrl
			continue
		}
		length := ctrl >> 5 // a back reference
		if length == 7 {
			if i >= len(in) {
				return nil, errLZF
			}
			length += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, errLZF
		}
		ref := len(out) - ((ctrl&0x1f)<<8 | int(in[i])) - 1
		i++
		length += 2
		if ref < 0 || uint64(len(out)+length) > n {
			return nil, errLZF
		}
		for k := range length { // byte by byte: the reference may overlap the output
			out = append(out, out[ref+k])
		}
	}
	if uint64(len(out)) != n {
		return nil, errLZF
	}
	return out, nil
}

var errLZF = errors.New("LZF data corrupt")
