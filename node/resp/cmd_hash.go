package resp

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

// addCollections registers the hash, set and sorted-set commands.
func addCollections(add func(name string, arity, flags int, fn handler) *command) {
	add("hset", -4, flagWrite, cmdHSet)
	add("hmset", -4, flagWrite, cmdHSet)
	add("hsetnx", 4, flagWrite, cmdHSetNX)
	add("hget", 3, 0, cmdHGet)
	add("hmget", -3, 0, cmdHMGet)
	add("hgetall", 2, 0, cmdHGetAll)
	add("hkeys", 2, 0, cmdHGetAll)
	add("hvals", 2, 0, cmdHGetAll)
	add("hdel", -3, flagWrite, cmdHDel)
	add("hexists", 3, 0, cmdHExists)
	add("hlen", 2, 0, cmdHLen)
	add("hstrlen", 3, 0, cmdHStrlen)
	add("hincrby", 4, flagWrite, cmdHIncrBy)
	add("hincrbyfloat", 4, flagWrite, cmdHIncrBy)
	add("hrandfield", -2, 0, cmdHRandField)
	add("hscan", -3, 0, cmdHScan)
	addSetCommands(add)
	addZSetCommands(add)
	addZRangeCommands(add)
	addZSetOpCommands(add)
	addZPopCommands(add)
}

func wrongArgs(c *client, name string) {
	c.out = appendError(c.out, "ERR wrong number of arguments for '"+name+"' command")
}

func cmdHSet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv)%2 != 0 {
		wrongArgs(c, string(lowerASCII(argv[0])))
		return
	}
	op := c.ops.hset()
	for i := 2; i < len(argv); i += 2 {
		// Views of the request, valid during the update: the hash copies what it keeps (the
		// field as a string, the value into its record) and the delta is encoded before the
		// update returns. A copy of each value here was an allocation of every HSET.
		op.pairs = append(op.pairs, [2][]byte{argv[i], argv[i+1]})
	}
	var err error
	if bw, ok := c.be().(collWriterAt); ok {
		_, err = bw.UpdateHashAt(ctx, c.ops.keyOf(argv[1]), true, op.fn, c.getNowMs())
	} else {
		_, err = c.be().UpdateHash(ctx, string(argv[1]), true, op.fn)
	}
	added := op.added
	op.reset()
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case equalFold(argv[0], "hmset"):
		c.out = appendSimple(c.out, "OK")
	default:
		c.out = appendInt(c.out, int64(added))
	}
}

// hsetOp is HSET's update of a hash, one per connection (cmdOps): its function, made once,
// and the pairs were two allocations of every HSET (a closure escapes into the backend's
// interface call), beside the values the hash keeps.
type hsetOp struct {
	pairs [][2][]byte // fields are views of the request, values copies
	added int
	fn    func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash
}

func (op *hsetOp) update(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
	added, d := h.SetCounted(stamp(), op.pairs...)
	op.added += added
	return d
}

func (op *hsetOp) reset() {
	clear(op.pairs) // neither the request's bytes nor the hash's values kept alive here
	op.pairs, op.added = op.pairs[:0], 0
}

// cmdOps holds a connection's reusable updates of collections (SADD, HSET, ZADD), made on
// first use.
type cmdOps struct {
	s *saddOp
	h *hsetOp
	z *zaddOp
	// key is the last key these updates wrote, handed again to a write of the same key: a
	// pipeline of SADDs (HSETs, ZADDs) to one collection otherwise allocated its key's name
	// once per command (2 % of an SADD writer's CPU), which the store and the delta keep.
	key string
}

// keyOf returns key b as a string: the previous one when b names it again.
func (o *cmdOps) keyOf(b []byte) string {
	if string(b) != o.key {
		o.key = string(b)
	}
	return o.key
}

func (o *cmdOps) zadd() *zaddOp {
	if o.z == nil {
		o.z = &zaddOp{}
		o.z.fn = o.z.update
	}
	return o.z
}

func (o *cmdOps) sadd() *saddOp {
	if o.s == nil {
		o.s = &saddOp{}
		o.s.fn = o.s.update
	}
	return o.s
}

func (o *cmdOps) hset() *hsetOp {
	if o.h == nil {
		o.h = &hsetOp{}
		o.h.fn = o.h.update
	}
	return o.h
}

func cmdHSetNX(ctx context.Context, s *Server, c *client, argv [][]byte) {
	f, v := append([]byte(nil), argv[2]...), append([]byte(nil), argv[3]...)
	set := false
	_, err := c.be().UpdateHash(ctx, string(argv[1]), true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		if _, ok := h.Get(string(f)); ok {
			return nil
		}
		set = true
		return h.Set(stamp(), [2][]byte{f, v})
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, b2i(set))
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func cmdHGet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if r := c.readerAt(); r != nil {
		er := c.elem(argv[2])
		_, err := r.ReadHashAt(ctx, keyView(argv[1]), c.getNowMs(), er.hget)
		switch {
		case err != nil:
			c.out = appendError(c.out, backendError(err))
		case !er.found:
			c.out = appendNull(c.out, c.proto)
		}
		er.done()
		return
	}
	var ok bool
	_, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) {
		var v []byte
		if v, ok = h.Get(string(argv[2])); ok {
			c.out = appendBulk(c.out, v) // under the read lock: no copy of the value
		}
	})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !ok:
		c.out = appendNull(c.out, c.proto)
	}
}

func cmdHMGet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	vals := make([][]byte, len(argv)-2)
	found := make([]bool, len(vals))
	_, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) {
		for i, f := range argv[2:] {
			if v, ok := h.Get(string(f)); ok {
				vals[i], found[i] = append([]byte(nil), v...), true
			}
		}
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendArrayLen(c.out, len(vals))
	for i := range vals {
		if found[i] {
			c.out = appendBulk(c.out, vals[i])
		} else {
			c.out = appendNull(c.out, c.proto)
		}
	}
}

// cmdHGetAll serves HGETALL, HKEYS and HVALS.
func cmdHGetAll(ctx context.Context, s *Server, c *client, argv [][]byte) {
	keys, vals := !equalFold(argv[0], "hvals"), !equalFold(argv[0], "hkeys")
	var out []byte
	n := 0
	_, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) {
		n = h.Len()
		h.Range(func(f string, v []byte) bool {
			if keys {
				out = appendBulkString(out, f)
			}
			if vals {
				out = appendBulk(out, v)
			}
			return true
		})
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if keys && vals {
		c.out = appendMapLen(c.out, n, c.proto)
	} else {
		c.out = appendArrayLen(c.out, n)
	}
	c.out = append(c.out, out...)
}

func cmdHDel(ctx context.Context, s *Server, c *client, argv [][]byte) {
	fields := make([]string, 0, len(argv)-2)
	for _, f := range argv[2:] {
		fields = append(fields, string(f))
	}
	removed := 0
	_, err := c.be().UpdateHash(ctx, string(argv[1]), false, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		for _, f := range fields {
			if _, ok := h.Get(f); ok {
				stamp() // a delete is a write of its own (it has a dot in the write stream)
				var d *crdt.Hash
				removed, d = h.Del(fields...)
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

func cmdHExists(ctx context.Context, s *Server, c *client, argv [][]byte) {
	var ok bool
	_, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) { _, ok = h.Get(string(argv[2])) })
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, b2i(ok))
}

func cmdHLen(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n := 0
	_, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) { n = h.Len() })
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

func cmdHStrlen(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n := 0
	_, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) {
		v, _ := h.Get(string(argv[2]))
		n = len(v)
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

// formatFloat formats a float as Redis's HINCRBYFLOAT/INCRBYFLOAT reply: the shortest decimal
// that reads back as the same double, never in exponent form.
func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// parseFloatArg parses a Redis float argument (strtold rules: no spaces, no NaN).
func parseFloatArg(b []byte) (float64, bool) {
	if len(b) == 0 || b[0] == ' ' || b[len(b)-1] == ' ' {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !isRangeErr(err) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// cmdHIncrBy serves HINCRBY and HINCRBYFLOAT: a read-modify-write of the field's register
// (crdt.Hash explains why not a counter).
func cmdHIncrBy(ctx context.Context, s *Server, c *client, argv [][]byte) {
	isFloat := equalFold(argv[0], "hincrbyfloat")
	var byI int64
	var byF float64
	if isFloat {
		var ok bool
		if byF, ok = parseFloatArg(argv[3]); !ok {
			c.out = appendError(c.out, "ERR value is not a valid float")
			return
		}
		if math.IsInf(byF, 0) {
			c.out = appendError(c.out, "ERR value is NaN or Infinity")
			return
		}
	} else {
		var err error
		if byI, err = strconv.ParseInt(string(argv[3]), 10, 64); err != nil {
			c.out = appendError(c.out, errNotInteger)
			return
		}
	}
	field := append([]byte(nil), argv[2]...)
	var reply []byte
	var fail string
	_, err := c.be().UpdateHash(ctx, string(argv[1]), true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		cur, ok := h.Get(string(field))
		var next string
		if isFloat {
			v := 0.0
			if ok {
				var good bool
				if v, good = parseFloatArg(cur); !good {
					fail = "ERR hash value is not a float"
					return nil
				}
			}
			v += byF
			if math.IsNaN(v) || math.IsInf(v, 0) {
				fail = "ERR increment would produce NaN or Infinity"
				return nil
			}
			next = formatFloat(v)
			reply = appendBulkString(nil, next)
		} else {
			var v int64
			if ok {
				var err error
				if v, err = strconv.ParseInt(string(cur), 10, 64); err != nil || len(cur) > 20 {
					fail = "ERR hash value is not an integer"
					return nil
				}
			}
			if (byI < 0 && v < 0 && byI < math.MinInt64-v) || (byI > 0 && v > 0 && byI > math.MaxInt64-v) {
				fail = "ERR increment or decrement would overflow"
				return nil
			}
			v += byI
			next = strconv.FormatInt(v, 10)
			reply = appendInt(nil, v)
		}
		return h.Set(stamp(), [2][]byte{field, []byte(next)})
	})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case fail != "":
		c.out = appendError(c.out, fail)
	default:
		c.out = append(c.out, reply...)
	}
}

// cmdHRandField serves HRANDFIELD key [count [WITHVALUES]] as Redis does: a positive count
// returns distinct fields, a negative one may repeat.
func cmdHRandField(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv) > 4 || (len(argv) == 4 && !equalFold(argv[3], "withvalues")) {
		c.out = appendError(c.out, errSyntax)
		return
	}
	withCount := len(argv) >= 3
	count := int64(1)
	if withCount {
		var err error
		if count, err = strconv.ParseInt(string(argv[2]), 10, 64); err != nil {
			c.out = appendError(c.out, errNotInteger)
			return
		}
		if !checkRandCount(c, count) {
			return
		}
		if count < -math.MaxInt64/2 || count > math.MaxInt64/2 {
			c.out = appendError(c.out, "ERR value is out of range")
			return
		}
	}
	withValues := len(argv) == 4
	var fields, vals [][]byte
	found, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) {
		h.Range(func(f string, v []byte) bool {
			fields = append(fields, []byte(f))
			vals = append(vals, append([]byte(nil), v...))
			return true
		})
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if !withCount {
		if !found || len(fields) == 0 {
			c.out = appendNull(c.out, c.proto)
			return
		}
		c.out = appendBulk(c.out, fields[rand.IntN(len(fields))])
		return
	}
	picks := randomPicks(len(fields), count)
	if withValues && c.proto == 3 {
		c.out = appendArrayLen(c.out, len(picks))
		for _, i := range picks {
			c.out = appendArrayLen(c.out, 2)
			c.out = appendBulk(c.out, fields[i])
			c.out = appendBulk(c.out, vals[i])
		}
		return
	}
	n := len(picks)
	if withValues {
		n *= 2
	}
	c.out = appendArrayLen(c.out, n)
	for _, i := range picks {
		c.out = appendBulk(c.out, fields[i])
		if withValues {
			c.out = appendBulk(c.out, vals[i])
		}
	}
}

// randomPicks returns indexes into n items: count distinct ones (at most n) when count >= 0,
// -count with repetition otherwise.
// maxRandCount bounds a negative count of SRANDMEMBER, HRANDFIELD and ZRANDMEMBER (picks
// with repetition, one reply element each): Redis streams any count; geocache builds the reply
// in memory, so a larger count is an error rather than an allocation that ends the process.
const maxRandCount = 1 << 24

// checkRandCount replies with an error and reports false for a count Redis refuses
// (math.MinInt64) or one beyond maxRandCount.
func checkRandCount(c *client, count int64) bool {
	switch {
	case count == math.MinInt64:
		c.out = appendError(c.out, "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return false
	case count < -maxRandCount:
		c.out = appendError(c.out, "ERR value is out of range, geocache replies at most "+strconv.Itoa(maxRandCount)+" random elements")
		return false
	}
	return true
}

func randomPicks(n int, count int64) []int {
	if n == 0 || count == 0 {
		return nil
	}
	if count < 0 {
		out := make([]int, -count)
		for i := range out {
			out[i] = rand.IntN(n)
		}
		return out
	}
	p := rand.Perm(n)
	if int64(n) > count {
		p = p[:count]
	}
	return p
}

// cmdHScan serves HSCAN key cursor [MATCH pattern] [COUNT n] [NOVALUES]: like Redis for a
// small hash, the whole hash in one call with cursor 0.
func cmdHScan(ctx context.Context, s *Server, c *client, argv [][]byte) {
	match, novalues, ok := parseCollScan(c, argv, true)
	if !ok {
		return
	}
	var items [][]byte
	_, err := c.be().ReadHash(ctx, string(argv[1]), func(h *crdt.Hash) {
		h.Range(func(f string, v []byte) bool {
			if matchGlob(match, f) {
				items = append(items, []byte(f))
				if !novalues {
					items = append(items, append([]byte(nil), v...))
				}
			}
			return true
		})
	})
	writeScan(c, items, err)
}

func writeScan(c *client, items [][]byte, err error) {
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendArrayLen(c.out, 2)
	c.out = appendBulkString(c.out, "0")
	c.out = appendArrayLen(c.out, len(items))
	for _, it := range items {
		c.out = appendBulk(c.out, it)
	}
}

// parseCollScan parses HSCAN/SSCAN/ZSCAN's cursor and options, replying on error.
func parseCollScan(c *client, argv [][]byte, hash bool) (match string, novalues, ok bool) {
	if _, good := parseCursor(argv[2]); !good {
		c.out = appendError(c.out, "ERR invalid cursor")
		return "", false, false
	}
	for j := 3; j < len(argv); j++ {
		more := len(argv) - j - 1
		switch {
		case equalFold(argv[j], "match") && more >= 1:
			match = string(argv[j+1])
			j++
		case equalFold(argv[j], "count") && more >= 1:
			n, err := strconv.ParseInt(string(argv[j+1]), 10, 64)
			if err != nil {
				c.out = appendError(c.out, errNotInteger)
				return "", false, false
			}
			if n < 1 {
				c.out = appendError(c.out, errSyntax)
				return "", false, false
			}
			j++
		case hash && equalFold(argv[j], "novalues"):
			novalues = true
		default:
			c.out = appendError(c.out, errSyntax)
			return "", false, false
		}
	}
	return match, novalues, true
}

func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		out[i] = ch
	}
	return out
}

func matchGlob(pattern, s string) bool {
	return pattern == "" || pattern == "*" || node.Match(pattern, s)
}
