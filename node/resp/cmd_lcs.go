package resp

import "context"

// cmdLCS serves LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] with Redis 7's
// replies: the classic dynamic-programming table, walked back from the end, emitting matching
// ranges from the last to the first. It only reads this node's copies of the keys.
func cmdLCS(ctx context.Context, s *Server, c *client, argv [][]byte) {
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(argv); j++ {
		opt := cstr(argv[j])
		switch {
		case equalFold(opt, "idx"):
			getIdx = true
		case equalFold(opt, "len"):
			getLen = true
		case equalFold(opt, "withmatchlen"):
			withMatchLen = true
		case equalFold(opt, "minmatchlen") && j+1 < len(argv):
			n, ok := string2ll(argv[j+1])
			if !ok {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			minMatchLen = max(n, 0)
			j++
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
	}
	if getLen && getIdx {
		c.out = appendError(c.out, "ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	var vals [2][]byte
	for i := range vals {
		it, ok, err := getLocal(ctx, s, c, string(argv[1+i]))
		if err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
		if ok {
			vals[i] = it.Value
		}
	}
	a, b := vals[0], vals[1]
	// The table is (len(a)+1)*(len(b)+1) 4-byte cells, bounded as Redis bounds it.
	cells := uint64(len(a)+1) * uint64(len(b)+1)
	if cells*4 > uint64(s.cfg.MaxBulkLen) {
		c.out = appendError(c.out, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	w := len(b) + 1
	t := make([]uint32, cells)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				t[i*w+j] = t[(i-1)*w+j-1] + 1
			case t[(i-1)*w+j] > t[i*w+j-1]:
				t[i*w+j] = t[(i-1)*w+j]
			default:
				t[i*w+j] = t[i*w+j-1]
			}
		}
	}
	total := t[len(a)*w+len(b)]
	if getLen {
		c.out = appendInt(c.out, int64(total))
		return
	}
	result := make([]byte, total)
	type match struct{ a0, a1, b0, b1 int }
	var matches []match
	idx := int(total)
	unset := len(a) // as in Redis: a start of len(a) means no range is open
	cur := match{a0: unset}
	for i, j := len(a), len(b); i > 0 && j > 0; {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			switch {
			case cur.a0 == unset:
				cur = match{a0: i - 1, a1: i - 1, b0: j - 1, b1: j - 1}
			case cur.a0 == i && cur.b0 == j: // contiguous: extend the range backward
				cur.a0--
				cur.b0--
			default:
				emit = true
			}
			if cur.a0 == 0 || cur.b0 == 0 {
				emit = true
			}
			idx, i, j = idx-1, i-1, j-1
		} else {
			if t[(i-1)*w+j] > t[i*w+j-1] {
				i--
			} else {
				j--
			}
			emit = cur.a0 != unset
		}
		if emit {
			if n := int64(cur.a1 - cur.a0 + 1); minMatchLen == 0 || n >= minMatchLen {
				matches = append(matches, cur)
			}
			cur.a0 = unset
		}
	}
	if !getIdx {
		c.out = appendBulk(c.out, result)
		return
	}
	c.out = appendMapLen(c.out, 2, c.proto)
	c.out = appendBulkString(c.out, "matches")
	c.out = appendArrayLen(c.out, len(matches))
	for _, m := range matches {
		n := 2
		if withMatchLen {
			n = 3
		}
		c.out = appendArrayLen(c.out, n)
		c.out = appendArrayLen(c.out, 2)
		c.out = appendInt(c.out, int64(m.a0))
		c.out = appendInt(c.out, int64(m.a1))
		c.out = appendArrayLen(c.out, 2)
		c.out = appendInt(c.out, int64(m.b0))
		c.out = appendInt(c.out, int64(m.b1))
		if withMatchLen {
			c.out = appendInt(c.out, int64(m.a1-m.a0+1))
		}
	}
	c.out = appendBulkString(c.out, "len")
	c.out = appendInt(c.out, int64(total))
}
