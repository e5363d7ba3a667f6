package resp

import (
	"context"
	"math"
	"strconv"

	"github.com/geocache/geocache/crdt"
)

func addZSetCommands(add func(name string, arity, flags int, fn handler) *command) {
	add("zadd", -4, flagWrite, cmdZAdd)
	add("zincrby", 4, flagWrite, cmdZIncrBy)
	add("zrem", -3, flagWrite, cmdZRem)
	add("zscore", 3, 0, cmdZScore)
	add("zmscore", -3, 0, cmdZScore)
	add("zcard", 2, 0, cmdZCard)
	add("zrank", 3, 0, cmdZRank)
	add("zrevrank", 3, 0, cmdZRank)
	add("zrange", -4, 0, cmdZRangeGeneric)
	add("zrevrange", -4, 0, cmdZRangeGeneric)
}

// formatScore formats a score as Redis 7.0's d2string: integers below 2^52 as integers, others
// with %.17g.
func formatScore(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case v > -4503599627370495 && v < 4503599627370496 && v == math.Trunc(v):
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 17, 64)
}

// parseScore parses a score argument as Redis's strtod: inf and -inf allowed, NaN not.
func parseScore(b []byte) (float64, bool) {
	switch string(lowerASCII(b)) {
	case "inf", "+inf":
		return math.Inf(1), true
	case "-inf":
		return math.Inf(-1), true
	}
	return parseFloatArg(b)
}

// elemArg is the index in argv of a collection command's first element, for warming a
// pipeline's elements (warmPipeline): the second argument, but ZADD's first member, after its
// flags and its score (its second argument is a score or a flag, which warmed nothing).
func elemArg(argv [][]byte) int {
	if len(argv) < 4 || !equalFold(argv[0], "zadd") {
		return 2
	}
	j := 2
	for j < len(argv) && (equalFold(argv[j], "nx") || equalFold(argv[j], "xx") || equalFold(argv[j], "gt") ||
		equalFold(argv[j], "lt") || equalFold(argv[j], "ch") || equalFold(argv[j], "incr")) {
		j++
	}
	return j + 1
}

func cmdZAdd(ctx context.Context, s *Server, c *client, argv [][]byte) {
	var nx, xx, gt, lt, ch, incr bool
	j := 2
	for ; j < len(argv); j++ {
		switch {
		case equalFold(argv[j], "nx"):
			nx = true
		case equalFold(argv[j], "xx"):
			xx = true
		case equalFold(argv[j], "gt"):
			gt = true
		case equalFold(argv[j], "lt"):
			lt = true
		case equalFold(argv[j], "ch"):
			ch = true
		case equalFold(argv[j], "incr"):
			incr = true
		default:
			goto done
		}
	}
done:
	rest := argv[j:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		c.out = appendError(c.out, errSyntax)
		return
	}
	if nx && xx {
		c.out = appendError(c.out, "ERR XX and NX options at the same time are not compatible")
		return
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		c.out = appendError(c.out, "ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	}
	if incr && len(rest) > 2 {
		c.out = appendError(c.out, "ERR INCR option supports a single increment-element pair")
		return
	}
	op := c.ops.zadd()
	op.nx, op.xx, op.gt, op.lt, op.incr = nx, xx, gt, lt, incr
	for i := 0; i < len(rest); i += 2 {
		sc, ok := parseScore(rest[i])
		if !ok {
			op.reset()
			c.out = appendError(c.out, errNotFloat)
			return
		}
		op.pairs = append(op.pairs, zaddPair{sc, string(rest[i+1])})
	}
	zaddWrite(ctx, c, argv[1], op, ch)
}

// zaddWrite writes op's pairs to key under its flags, as ZADD, and replies as ZADD (ch: the
// CH flag's count). GEOADD writes through it too, so a geo index is an ordinary sorted set.
func zaddWrite(ctx context.Context, c *client, key []byte, op *zaddOp, ch bool) {
	xx, incr := op.xx, op.incr
	var err error
	if bw, ok := c.be().(collWriterAt); ok {
		_, err = bw.UpdateZSetAt(ctx, c.ops.keyOf(key), !xx, op.fn, c.getNowMs())
	} else {
		_, err = c.be().UpdateZSet(ctx, string(key), !xx, op.fn)
	}
	added, changed, incrRes, incrDone, nan := op.added, op.changed, op.incrRes, op.incrDone, op.nan
	op.reset()
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case nan:
		c.out = appendError(c.out, "ERR resulting score is not a number (NaN)")
	case incr && !incrDone:
		c.out = appendNull(c.out, c.proto)
	case incr:
		c.out = appendScore(c.out, incrRes, c.proto)
	case ch:
		c.out = appendInt(c.out, int64(added+changed))
	default:
		c.out = appendInt(c.out, int64(added))
	}
}

// zaddOp is ZADD's update of a sorted set, one per connection (cmdOps): its function, made
// once, the pairs and what the function reports back were six allocations of every ZADD (an
// escaping closure moves every variable it writes to the heap), beside the member strings the
// set keeps.
type zaddOp struct {
	nx, xx, gt, lt, incr bool
	pairs                []zaddPair
	added, changed       int
	incrRes              float64
	incrDone, nan        bool
	fn                   func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet
}

type zaddPair struct {
	score  float64
	member string
}

func (op *zaddOp) update(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
	var out *crdt.ZSet
	var dot crdt.Version
	for _, p := range op.pairs {
		cur, exists := z.Score(p.member)
		if (op.nx && exists) || (op.xx && !exists) {
			continue
		}
		next := p.score
		if op.incr {
			next = cur + p.score
			if math.IsNaN(next) {
				op.nan = true
				return out
			}
		}
		if exists && ((op.gt && next <= cur) || (op.lt && next >= cur)) {
			continue
		}
		if exists && next == cur {
			if op.incr {
				op.incrRes, op.incrDone = next, true
			}
			continue
		}
		if dot.IsZero() {
			dot = stamp()
		}
		if op.incr {
			var d *crdt.ZSet
			op.incrRes, d = z.Incr(dot, p.member, p.score)
			op.incrDone = true
			if out == nil {
				out = d
			} else {
				out.Join(d)
			}
		} else {
			out = z.AddTo(out, dot, p.member, next) // one delta: a member may repeat
		}
		if exists {
			op.changed++
		} else {
			op.added++
		}
	}
	return out
}

func (op *zaddOp) reset() {
	clear(op.pairs) // the members are the set's now, or garbage: not kept alive here
	fn := op.fn
	*op = zaddOp{pairs: op.pairs[:0], fn: fn}
}

func cmdZIncrBy(ctx context.Context, s *Server, c *client, argv [][]byte) {
	by, ok := parseScore(argv[2])
	if !ok {
		c.out = appendError(c.out, errNotFloat)
		return
	}
	m := string(argv[3])
	var res float64
	nan := false
	_, err := c.be().UpdateZSet(ctx, string(argv[1]), true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		cur, _ := z.Score(m)
		if math.IsNaN(cur + by) {
			nan = true
			return nil
		}
		var d *crdt.ZSet
		res, d = z.Incr(stamp(), m, by)
		return d
	})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case nan:
		c.out = appendError(c.out, "ERR resulting score is not a number (NaN)")
	default:
		c.out = appendScore(c.out, res, c.proto)
	}
}

func cmdZRem(ctx context.Context, s *Server, c *client, argv [][]byte) {
	ms := strs(argv[2:])
	removed := 0
	_, err := c.be().UpdateZSet(ctx, string(argv[1]), false, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		for _, m := range ms {
			if _, ok := z.Score(m); ok {
				stamp()
				var d *crdt.ZSet
				removed, d = z.Rem(ms...)
				return d
			}
		}
		return nil
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(removed))
}

// cmdZScore serves ZSCORE and ZMSCORE.
func cmdZScore(ctx context.Context, s *Server, c *client, argv [][]byte) {
	scores := make([]float64, len(argv)-2)
	found := make([]bool, len(scores))
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) {
		for i, m := range argv[2:] {
			scores[i], found[i] = z.Score(string(m))
		}
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	one := equalFold(argv[0], "zscore")
	if !one {
		c.out = appendArrayLen(c.out, len(scores))
	}
	for i := range scores {
		if found[i] {
			c.out = appendScore(c.out, scores[i], c.proto)
		} else {
			c.out = appendNull(c.out, c.proto)
		}
	}
}

// appendScore appends a score: a bulk string in RESP2, a double in RESP3.
func appendScore(b []byte, v float64, proto int) []byte {
	if proto == 3 {
		b = append(b, ',')
		b = append(b, formatScore(v)...)
		return append(b, '\r', '\n')
	}
	return appendBulkString(b, formatScore(v))
}

func cmdZCard(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n := 0
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) { n = z.Len() })
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

func cmdZRank(ctx context.Context, s *Server, c *client, argv [][]byte) {
	r, ok, n := 0, false, 0
	_, err := c.be().ReadZSet(ctx, string(argv[1]), func(z *crdt.ZSet) {
		r, ok = z.Rank(string(argv[2]))
		n = z.Len()
	})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !ok:
		c.out = appendNull(c.out, c.proto)
	case equalFold(argv[0], "zrevrank"):
		c.out = appendInt(c.out, int64(n-1-r))
	default:
		c.out = appendInt(c.out, int64(r))
	}
}
