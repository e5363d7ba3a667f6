package rdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// reader reads RDB encodings from b. The first failure is kept in err; every read after it
// returns zero values, so a decoder checks err once at the end of a loop.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
	}
	r.b = nil
}

// take returns the next n bytes.
func (r *reader) take(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated (%d bytes wanted, %d left)", n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

// length reads an RDB length: 6 bits, 14 bits, or 32 or 64 bits big-endian. special reports
// an encoded string instead (its encoding in n).
func (r *reader) length() (n uint64, special bool) {
	p := r.take(1)
	if p == nil {
		return 0, false
	}
	switch p[0] >> 6 {
	case 0:
		return uint64(p[0] & 0x3f), false
	case 1:
		q := r.take(1)
		if q == nil {
			return 0, false
		}
		return uint64(p[0]&0x3f)<<8 | uint64(q[0]), false
	case 2:
		switch p[0] {
		case 0x80:
			if q := r.take(4); q != nil {
				return uint64(binary.BigEndian.Uint32(q)), false
			}
		case 0x81:
			if q := r.take(8); q != nil {
				return binary.BigEndian.Uint64(q), false
			}
		default:
			r.fail("bad length byte %#x", p[0])
		}
		return 0, false
	default:
		return uint64(p[0] & 0x3f), true
	}
}

// count reads the length of a collection: at least one element (Redis refuses an empty one),
// each at least min bytes long, so that a corrupt count cannot make a large allocation.
func (r *reader) count(min int) int {
	n, special := r.length()
	switch {
	case r.err != nil:
		return 0
	case special:
		r.fail("encoded string where a length was expected")
	case n == 0:
		r.fail("empty collection")
	case n > uint64(len(r.b)/min):
		r.fail("%d elements in %d bytes", n, len(r.b))
	default:
		return int(n)
	}
	return 0
}

// ReadString reads one RDB string (raw, an integer, or LZF-compressed) from the front of b and
// returns it and the bytes after it (FUNCTION RESTORE's payload is a run of them).
func ReadString(b []byte) (s, rest []byte, err error) {
	r := reader{b: b}
	s = r.str()
	return s, r.b, r.err
}

// str reads an RDB string: raw, an integer of 8, 16 or 32 bits, or LZF-compressed.
func (r *reader) str() []byte {
	n, special := r.length()
	if r.err != nil {
		return nil
	}
	if !special {
		return r.take(n)
	}
	switch n {
	case 0, 1, 2: // 1, 2 and 4 bytes, little-endian, signed
		p := r.take(1 << n)
		if p == nil {
			return nil
		}
		var v int64
		switch n {
		case 0:
			v = int64(int8(p[0]))
		case 1:
			v = int64(int16(binary.LittleEndian.Uint16(p)))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(p)))
		}
		return strconv.AppendInt(nil, v, 10)
	case 3:
		clen, s1 := r.length()
		ulen, s2 := r.length()
		if r.err != nil {
			return nil
		}
		if s1 || s2 {
			r.fail("bad LZF lengths")
			return nil
		}
		in := r.take(clen)
		if in == nil {
			return nil
		}
		out, err := lzfDecompress(in, ulen)
		if err != nil {
			r.fail("%v", err)
			return nil
		}
		return out
	}
	r.fail("unknown string encoding %d", n)
	return nil
}

// binaryDouble reads a zset2 score: an IEEE 754 double, little-endian.
func (r *reader) binaryDouble() float64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

// dups detects a repeated element; Redis refuses a collection that holds one.
type dups map[string]struct{}

func (d dups) seen(r *reader, e []byte) bool {
	if _, ok := d[string(e)]; ok {
		r.fail("duplicate element %q", truncate(e))
		return true
	}
	d[string(e)] = struct{}{}
	return false
}

func truncate(e []byte) []byte {
	if len(e) > 32 {
		return e[:32]
	}
	return e
}

// plainSet reads RDB_TYPE_SET: a count and the members as strings.
func (r *reader) plainSet() [][]byte {
	n := r.count(1)
	out := make([][]byte, 0, n)
	d := make(dups, n)
	for range n {
		m := r.str()
		if r.err != nil || d.seen(r, m) {
			return nil
		}
		out = append(out, m)
	}
	return out
}

// plainHash reads RDB_TYPE_HASH: a count and the field and value strings.
func (r *reader) plainHash() [][2][]byte {
	n := r.count(2)
	out := make([][2][]byte, 0, n)
	d := make(dups, n)
	for range n {
		f := r.str()
		v := r.str()
		if r.err != nil || d.seen(r, f) {
			return nil
		}
		out = append(out, [2][]byte{f, v})
	}
	return out
}

// plainZSet reads RDB_TYPE_ZSET_2: a count, and each member's string and binary score.
func (r *reader) plainZSet() []Scored {
	n := r.count(9)
	out := make([]Scored, 0, n)
	d := make(dups, n)
	for range n {
		m := r.str()
		s := r.binaryDouble()
		if r.err != nil || d.seen(r, m) {
			return nil
		}
		if math.IsNaN(s) {
			r.fail("NaN score")
			return nil
		}
		out = append(out, Scored{Member: m, Score: s})
	}
	return out
}

// pairs reads a ziplist or listpack hash (an RDB string holding it) as field, value pairs.
func (r *reader) pairs(t byte) [][2][]byte {
	elems := r.packed(t)
	if r.err != nil {
		return nil
	}
	out := make([][2][]byte, 0, len(elems)/2)
	for i := 0; i < len(elems); i += 2 {
		out = append(out, [2][]byte{elems[i], elems[i+1]})
	}
	return out
}

// scoredPairs reads a ziplist or listpack sorted set: member, score pairs, each score a number
// in decimal (or an integer entry).
func (r *reader) scoredPairs(t byte) []Scored {
	elems := r.packed(t)
	if r.err != nil {
		return nil
	}
	out := make([]Scored, 0, len(elems)/2)
	for i := 0; i < len(elems); i += 2 {
		s, err := strconv.ParseFloat(string(elems[i+1]), 64)
		if err != nil && !isRangeErr(err) || math.IsNaN(s) {
			r.fail("bad score %q", truncate(elems[i+1]))
			return nil
		}
		out = append(out, Scored{Member: elems[i], Score: s})
	}
	return out
}

// isRangeErr: strtod, which Redis parses a score with, saturates to ±inf (or 0) where
// ParseFloat reports a range error with the same value.
func isRangeErr(err error) bool {
	e, ok := err.(*strconv.NumError)
	return ok && e.Err == strconv.ErrRange
}

// packed reads the RDB string holding a ziplist or listpack of pairs and returns its entries:
// an even number, at least two, the first of each pair never repeated.
func (r *reader) packed(t byte) [][]byte {
	blob := r.str()
	if r.err != nil {
		return nil
	}
	var elems [][]byte
	var err error
	if t == TypeHashZiplist || t == TypeZSetZiplist {
		elems, err = ziplistEntries(blob)
	} else {
		elems, err = listpackEntries(blob)
	}
	switch {
	case err != nil:
		r.fail("%v", err)
		return nil
	case len(elems) == 0:
		r.fail("empty collection")
		return nil
	case len(elems)%2 != 0:
		r.fail("odd number of entries (%d) in a hash or sorted set", len(elems))
		return nil
	}
	d := make(dups, len(elems)/2)
	for i := 0; i < len(elems); i += 2 {
		if d.seen(r, elems[i]) {
			return nil
		}
	}
	return elems
}
