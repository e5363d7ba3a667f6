package resp

import (
	"context"
	"slices"
	"strconv"

	"github.com/geocache/geocache/crdt"
)

// Range queries over sorted sets. A range is resolved to a window of ranks [lo, hi) by two
// descents of the skiplist (ZSet.CountScore, CountName), then walked: O(log n + k) for k
// members. This is Redis's zslFirstInRange / zslLastInRange with the same predicates, so a lex
// range over members of different scores gives what Redis's skiplist gives.

func addZRangeCommands(add func(name string, arity, flags int, fn handler) *command) {
	add("zrangebyscore", -4, 0, cmdZRangeGeneric)
	add("zrevrangebyscore", -4, 0, cmdZRangeGeneric)
	add("zrangebylex", -4, 0, cmdZRangeGeneric)
	add("zrevrangebylex", -4, 0, cmdZRangeGeneric)
	add("zrangestore", -5, flagWrite, cmdZRangeGeneric)
	add("zcount", 4, 0, cmdZCount)
	add("zlexcount", 4, 0, cmdZCount)
	add("zremrangebyrank", 4, flagWrite, cmdZRemRange)
	add("zremrangebyscore", 4, flagWrite, cmdZRemRange)
	add("zremrangebylex", 4, flagWrite, cmdZRemRange)
	add("zpopmin", -2, flagWrite, cmdZPop)
	add("zpopmax", -2, flagWrite, cmdZPop)
	add("zrandmember", -2, 0, cmdZRandMember)
	add("zscan", -3, 0, cmdZScan)
}

const (
	errMinMaxFloat = "ERR min or max is not a float"
	errMinMaxLex   = "ERR min or max not valid string range item"
)

// zms is a member with its score.
type zms struct {
	m string
	s float64
}

// zrangeKind is how a range's bounds are given.
type zrangeKind int

const (
	byRank zrangeKind = iota
	byScore
	byLex
)

// scoreBound is one end of a score range: "(1.5" is exclusive, "1.5" inclusive.
type scoreBound struct {
	v    float64
	excl bool
}

func parseScoreBound(b []byte) (scoreBound, bool) {
	if len(b) > 0 && b[0] == '(' {
		v, ok := parseScore(b[1:])
		return scoreBound{v, true}, ok
	}
	v, ok := parseScore(b)
	return scoreBound{v, false}, ok
}

// lexBound is one end of a lex range: "-" and "+" are the infinities, "[x" inclusive, "(x"
// exclusive.
type lexBound struct {
	inf  int // -1 for "-", +1 for "+", 0 for a member
	m    string
	excl bool
}

func parseLexBound(b []byte) (lexBound, bool) {
	switch {
	case len(b) == 1 && b[0] == '-':
		return lexBound{inf: -1}, true
	case len(b) == 1 && b[0] == '+':
		return lexBound{inf: 1}, true
	case len(b) > 0 && b[0] == '(':
		return lexBound{m: string(b[1:]), excl: true}, true
	case len(b) > 0 && b[0] == '[':
		return lexBound{m: string(b[1:])}, true
	}
	return lexBound{}, false
}

// zspec is a parsed range: by rank (start, stop), by score or by lex, always given as
// (min, max) after REV's swap.
type zspec struct {
	kind                  zrangeKind
	start, stop           int64
	minScore, maxScore    scoreBound
	minLex, maxLex        lexBound
	rev                   bool
	offset, limit         int64 // limit < 0: no limit
	withScores            bool
	minArg, maxArg, keyAt int
}

// window returns the ascending ranks [lo, hi) of z's members in the range (rank ranges are
// already normalised by the caller).
func (sp *zspec) window(z *crdt.ZSet) (int, int) {
	switch sp.kind {
	case byScore:
		lo := z.CountScore(func(s float64) bool {
			return s < sp.minScore.v || (sp.minScore.excl && s == sp.minScore.v)
		})
		hi := z.CountScore(func(s float64) bool {
			return s < sp.maxScore.v || (!sp.maxScore.excl && s == sp.maxScore.v)
		})
		return lo, max(lo, hi)
	case byLex:
		lo := z.CountName(func(m string) bool { return !lexGteMin(m, sp.minLex) })
		hi := z.CountName(func(m string) bool { return lexLteMax(m, sp.maxLex) })
		return lo, max(lo, hi)
	}
	n := int64(z.Len())
	start, stop := sp.start, sp.stop
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	start = max(start, 0)
	if start > stop || start >= n {
		return 0, 0
	}
	stop = min(stop, n-1)
	return int(start), int(stop + 1)
}

func lexGteMin(m string, b lexBound) bool {
	switch b.inf {
	case -1:
		return true
	case 1:
		return false
	}
	if b.excl {
		return m > b.m
	}
	return m >= b.m
}

func lexLteMax(m string, b lexBound) bool {
	switch b.inf {
	case -1:
		return false
	case 1:
		return true
	}
	if b.excl {
		return m < b.m
	}
	return m <= b.m
}

// collect returns the range's members in reply order, applying REV and LIMIT, appended to
// out[:0] (a connection reuses it: zrangeRead).
func (sp *zspec) collect(z *crdt.ZSet, out []zms) []zms {
	lo, hi := sp.window(z)
	if sp.kind != byRank {
		// Redis: a negative offset gives nothing, a negative count everything.
		if sp.offset < 0 {
			return out[:0]
		}
		if sp.offset >= int64(hi-lo) {
			return out[:0]
		}
		if sp.rev {
			hi -= int(sp.offset)
		} else {
			lo += int(sp.offset)
		}
		if sp.limit >= 0 && int64(hi-lo) > sp.limit {
			if sp.rev {
				lo = hi - int(sp.limit)
			} else {
				hi = lo + int(sp.limit)
			}
		}
	} else if sp.rev {
		// A rank range counts from the top in REV: ranks [lo, hi) of the reversed order.
		n := z.Len()
		lo, hi = n-hi, n-lo
	}
	if lo >= hi {
		return out[:0]
	}
	out = slices.Grow(out, hi-lo)
	from := lo
	if sp.rev {
		from = hi - 1
	}
	k := hi - lo
	z.Walk(from, sp.rev, func(m string, s float64) bool {
		out = append(out, zms{m, s})
		k--
		return k > 0
	})
	return out
}

// parseZRange parses the arguments of ZRANGE and its variants as Redis's
// zrangeGenericCommand does, replying on error. name is the lowercased command.
func parseZRange(c *client, name string, argv [][]byte) (zspec, bool) {
	sp := zspec{limit: -1, keyAt: 1}
	store := name == "zrangestore"
	kindSet, dirSet := false, false
	switch name {
	case "zrevrange":
		sp.rev, dirSet, kindSet = true, true, true
	case "zrangebyscore", "zrevrangebyscore":
		sp.kind, kindSet, dirSet = byScore, true, true
		sp.rev = name == "zrevrangebyscore"
	case "zrangebylex", "zrevrangebylex":
		sp.kind, kindSet, dirSet = byLex, true, true
		sp.rev = name == "zrevrangebylex"
	case "zrangestore":
		sp.keyAt = 2
	}
	sp.minArg, sp.maxArg = sp.keyAt+1, sp.keyAt+2
	for j := sp.keyAt + 3; j < len(argv); j++ {
		left := len(argv) - j - 1
		switch {
		case !store && equalFold(argv[j], "withscores"):
			sp.withScores = true
		case equalFold(argv[j], "limit") && left >= 2:
			o, err1 := strconv.ParseInt(string(argv[j+1]), 10, 64)
			l, err2 := strconv.ParseInt(string(argv[j+2]), 10, 64)
			if err1 != nil || err2 != nil {
				c.out = appendError(c.out, errNotInteger)
				return sp, false
			}
			sp.offset, sp.limit = o, l
			j += 2
		case !dirSet && equalFold(argv[j], "rev"):
			sp.rev, dirSet = true, true
		case !kindSet && equalFold(argv[j], "bylex"):
			sp.kind, kindSet = byLex, true
		case !kindSet && equalFold(argv[j], "byscore"):
			sp.kind, kindSet = byScore, true
		default:
			c.out = appendError(c.out, errSyntax)
			return sp, false
		}
	}
	// As Redis: only a count other than -1 marks LIMIT as given.
	if sp.limit != -1 && sp.kind == byRank {
		c.out = appendError(c.out, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return sp, false
	}
	if sp.withScores && sp.kind == byLex {
		c.out = appendError(c.out, "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return sp, false
	}
	lo, hi := argv[sp.minArg], argv[sp.maxArg]
	if sp.rev && sp.kind != byRank {
		lo, hi = hi, lo // given as max, min
	}
	var ok1, ok2 bool
	switch sp.kind {
	case byRank:
		s, err1 := strconv.ParseInt(string(lo), 10, 64)
		e, err2 := strconv.ParseInt(string(hi), 10, 64)
		if err1 != nil || err2 != nil {
			c.out = appendError(c.out, errNotInteger)
			return sp, false
		}
		sp.start, sp.stop = s, e
		return sp, true
	case byScore:
		sp.minScore, ok1 = parseScoreBound(lo)
		sp.maxScore, ok2 = parseScoreBound(hi)
		if !ok1 || !ok2 {
			c.out = appendError(c.out, errMinMaxFloat)
			return sp, false
		}
	default:
		sp.minLex, ok1 = parseLexBound(lo)
		sp.maxLex, ok2 = parseLexBound(hi)
		if !ok1 || !ok2 {
			c.out = appendError(c.out, errMinMaxLex)
			return sp, false
		}
	}
	return sp, true
}

// cmdZRangeGeneric serves ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
// ZREVRANGEBYLEX and ZRANGESTORE.
func cmdZRangeGeneric(ctx context.Context, s *Server, c *client, argv [][]byte) {
	name := string(lowerASCII(argv[0]))
	sp, ok := parseZRange(c, name, argv)
	if !ok {
		return
	}
	if r := c.readerAt(); r != nil && name != "zrangestore" {
		zr := c.zread()
		zr.sp = sp
		_, err := r.ReadZSetAt(ctx, keyView(argv[sp.keyAt]), c.getNowMs(), zr.fn)
		if err != nil {
			c.out = appendError(c.out, backendError(err))
		} else {
			appendZRange(c, zr.out, sp.withScores)
		}
		zr.release()
		return
	}
	zrangeVia(ctx, c, argv, name, sp)
}

// zrangeVia is ZRANGE (and ZRANGESTORE) through Backend's ReadZSet. A function of its own: the
// closure captures sp, which would otherwise move to the heap on the fast path too.
func zrangeVia(ctx context.Context, c *client, argv [][]byte, name string, sp zspec) {
	var out []zms
	_, err := c.be().ReadZSet(ctx, string(argv[sp.keyAt]), func(z *crdt.ZSet) { out = sp.collect(z, nil) })
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if name == "zrangestore" {
		if err := zstore(ctx, c.be(), string(argv[1]), out); err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
		c.out = appendInt(c.out, int64(len(out)))
		return
	}
	appendZRange(c, out, sp.withScores)
}

// appendZRange replies members, with scores as Redis does: flat in RESP2, [member, score]
// pairs in RESP3.
func appendZRange(c *client, out []zms, withScores bool) {
	if withScores && c.proto == 3 {
		c.out = appendArrayLen(c.out, len(out))
		for _, x := range out {
			c.out = appendArrayLen(c.out, 2)
			c.out = appendBulkString(c.out, x.m)
			c.out = appendScore(c.out, x.s, 3)
		}
		return
	}
	n := len(out)
	if withScores {
		n *= 2
	}
	c.out = appendArrayLen(c.out, n)
	for _, x := range out {
		c.out = appendBulkString(c.out, x.m)
		if withScores {
			c.out = appendScore(c.out, x.s, 2)
		}
	}
}

// zstore replaces dst with a sorted set of members (none: dst is deleted), as a DEL and a new
// incarnation, like the set STORE commands.
func zstore(ctx context.Context, b Backend, dst string, members []zms) error {
	if _, err := b.Delete(ctx, dst); err != nil {
		return err
	}
	if len(members) == 0 {
		return nil
	}
	_, err := b.UpdateZSet(ctx, dst, true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		dot := stamp()
		var out *crdt.ZSet
		for _, x := range members {
			d := z.Add(dot, x.m, x.s)
			if out == nil {
				out = d
			} else {
				out.Join(d)
			}
		}
		return out
	})
	return err
}

// cmdZCount serves ZCOUNT key min max and ZLEXCOUNT key min max.
func cmdZCount(ctx context.Context, s *Server, c *client, argv [][]byte) {
	sp := zspec{kind: byScore, limit: -1}
	var ok1, ok2 bool
	if equalFold(argv[0], "zlexcount") {
		sp.kind = byLex
		sp.minLex, ok1 = parseLexBound(argv[2])
		sp.maxLex, ok2 = parseLexBound(argv[3])
		if !ok1 || !ok2 {
			c.out = appendError(c.out, errMinMaxLex)
			return
		}
	} else {
		sp.minScore, ok1 = parseScoreBound(argv[2])
		sp.maxScore, ok2 = parseScoreBound(argv[3])
		if !ok1 || !ok2 {
			c.out = appendError(c.out, errMinMaxFloat)
			return
		}
	}
	n := 0
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) {
		lo, hi := sp.window(z)
		n = hi - lo
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

// cmdZRemRange serves ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX: the members in
// the range are removed by one write (observed-remove: a concurrent re-add elsewhere wins).
func cmdZRemRange(ctx context.Context, s *Server, c *client, argv [][]byte) {
	sp := zspec{limit: -1}
	var ok1, ok2 bool
	switch string(lowerASCII(argv[0])) {
	case "zremrangebyrank":
		a, err1 := strconv.ParseInt(string(argv[2]), 10, 64)
		b, err2 := strconv.ParseInt(string(argv[3]), 10, 64)
		if err1 != nil || err2 != nil {
			c.out = appendError(c.out, errNotInteger)
			return
		}
		sp.start, sp.stop = a, b
	case "zremrangebyscore":
		sp.kind = byScore
		sp.minScore, ok1 = parseScoreBound(argv[2])
		sp.maxScore, ok2 = parseScoreBound(argv[3])
		if !ok1 || !ok2 {
			c.out = appendError(c.out, errMinMaxFloat)
			return
		}
	default:
		sp.kind = byLex
		sp.minLex, ok1 = parseLexBound(argv[2])
		sp.maxLex, ok2 = parseLexBound(argv[3])
		if !ok1 || !ok2 {
			c.out = appendError(c.out, errMinMaxLex)
			return
		}
	}
	removed := 0
	_, err := c.be().UpdateZSet(ctx, string(argv[1]), false, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		ms := sp.collect(z, nil)
		if len(ms) == 0 {
			return nil
		}
		names := make([]string, len(ms))
		for i := range ms {
			names[i] = ms[i].m
		}
		stamp()
		var d *crdt.ZSet
		removed, d = z.Rem(names...)
		return d
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(removed))
}

// cmdZPop serves ZPOPMIN and ZPOPMAX key [count].
func cmdZPop(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv) > 3 {
		c.out = appendError(c.out, errSyntax)
		return
	}
	count := int64(-1) // a plain pop: one member, flat reply
	if len(argv) == 3 {
		n, err := strconv.ParseInt(string(argv[2]), 10, 64)
		if err != nil || n < 0 {
			c.out = appendError(c.out, "ERR value is out of range, must be positive")
			return
		}
		count = n
	}
	rev := equalFold(argv[0], "zpopmax")
	var popped []zms
	_, err := c.be().UpdateZSet(ctx, string(argv[1]), false, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		if count == 0 {
			return nil
		}
		var d *crdt.ZSet
		popped, d = zpop(z, stamp, rev, int(max(count, 1)))
		return d
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if c.proto == 3 && count != -1 {
		appendZRange(c, popped, true)
		return
	}
	c.out = appendArrayLen(c.out, 2*len(popped))
	for _, x := range popped {
		c.out = appendBulkString(c.out, x.m)
		c.out = appendScore(c.out, x.s, c.proto)
	}
}

// cmdZRandMember serves ZRANDMEMBER key [count [WITHSCORES]].
func cmdZRandMember(ctx context.Context, s *Server, c *client, argv [][]byte) {
	var count int64
	has, withScores := len(argv) >= 3, false
	if has {
		n, err := strconv.ParseInt(string(argv[2]), 10, 64)
		if err != nil {
			c.out = appendError(c.out, errNotInteger)
			return
		}
		if !checkRandCount(c, n) {
			return
		}
		count = n
		if len(argv) > 4 || (len(argv) == 4 && !equalFold(argv[3], "withscores")) {
			c.out = appendError(c.out, errSyntax)
			return
		}
		if len(argv) == 4 {
			withScores = true
			if count < -(1<<62) || count > 1<<62 {
				c.out = appendError(c.out, "ERR value is out of range")
				return
			}
		}
	}
	var all []zms
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) {
		z.Walk(0, false, func(m string, sc float64) bool {
			all = append(all, zms{m, sc})
			return true
		})
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if !has {
		if len(all) == 0 {
			c.out = appendNull(c.out, c.proto)
			return
		}
		c.out = appendBulkString(c.out, all[randomPicks(len(all), 1)[0]].m)
		return
	}
	picks := randomPicks(len(all), count)
	out := make([]zms, len(picks))
	for i, p := range picks {
		out[i] = all[p]
	}
	appendZRange(c, out, withScores)
}

// cmdZScan serves ZSCAN key cursor [MATCH pattern] [COUNT n]: like Redis for a small sorted
// set, the whole set in one call with cursor 0, scores as strings.
func cmdZScan(ctx context.Context, s *Server, c *client, argv [][]byte) {
	match, _, ok := parseCollScan(c, argv, false)
	if !ok {
		return
	}
	var items [][]byte
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) {
		z.Walk(0, false, func(m string, sc float64) bool {
			if matchGlob(match, m) {
				items = append(items, []byte(m), []byte(formatScore(sc)))
			}
			return true
		})
	})
	writeScan(c, items, err)
}
