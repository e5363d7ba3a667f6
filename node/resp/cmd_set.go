package resp

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"unsafe"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

func addSetCommands(add func(name string, arity, flags int, fn handler) *command) {
	add("sadd", -3, flagWrite, cmdSAdd)
	add("srem", -3, flagWrite, cmdSRem)
	add("smembers", 2, 0, cmdSMembers)
	add("sismember", 3, 0, cmdSIsMember)
	add("smismember", -3, 0, cmdSIsMember)
	add("scard", 2, 0, cmdSCard)
	add("spop", -2, flagWrite, cmdSPop)
	add("srandmember", -2, 0, cmdSRandMember)
	add("smove", 4, flagWrite, cmdSMove)
	add("sinter", -2, 0, cmdSetOp)
	add("sunion", -2, 0, cmdSetOp)
	add("sdiff", -2, 0, cmdSetOp)
	add("sinterstore", -3, flagWrite, cmdSetOp)
	add("sunionstore", -3, flagWrite, cmdSetOp)
	add("sdiffstore", -3, flagWrite, cmdSetOp)
	add("sintercard", -3, 0, cmdSInterCard)
	add("sscan", -3, 0, cmdSScan)
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// collWriterAt is implemented by a backend whose collection writes take the time the
// connection read once for its pipeline (node.Node.UpdateSetAt), as SET's SetBytesAt does:
// SADD, HSET and ZADD then read the clock once per batch, not once each. A transaction's
// backend does not: its writes take the time of EXEC.
type collWriterAt interface {
	UpdateHashAt(ctx context.Context, key string, create bool, fn func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash, nowMs int64) (bool, error)
	UpdateSetAt(ctx context.Context, key string, create bool, fn func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set, nowMs int64) (bool, error)
	UpdateZSetAt(ctx context.Context, key string, create bool, fn func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet, nowMs int64) (bool, error)
}

var _ collWriterAt = (*node.Node)(nil)

// soleWriter is implemented by a backend that knows whether it is the only writer of its keys
// (node.Node.SoleWriter).
type soleWriter interface{ SoleWriter() bool }

func cmdSAdd(ctx context.Context, s *Server, c *client, argv [][]byte) {
	op := c.ops.sadd()
	for _, b := range argv[2:] {
		op.ms = append(op.ms, b) // views of the request: the set copies a new member's name
	}
	sw, _ := c.be().(soleWriter)
	op.sole = sw != nil && sw.SoleWriter()
	var err error
	if bw, ok := c.be().(collWriterAt); ok {
		_, err = bw.UpdateSetAt(ctx, c.ops.keyOf(argv[1]), true, op.fn, c.getNowMs())
	} else {
		_, err = c.be().UpdateSet(ctx, string(argv[1]), true, op.fn)
	}
	added := op.added
	op.reset()
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(added))
}

// saddOp is SADD's update of a set, one per connection (cmdOps): its function, made once, and
// the members were two allocations of every SADD (a closure escapes into the backend's
// interface call), beside the names of new members the set keeps (crdt Set.AddBytes).
type saddOp struct {
	ms    [][]byte
	sole  bool // no other replica writes the key: a SADD of present members writes nothing
	added int
	fn    func(st *crdt.Set, stamp func() crdt.Version) *crdt.Set
}

func (op *saddOp) update(st *crdt.Set, stamp func() crdt.Version) *crdt.Set {
	if op.sole && st.Len() > 0 && !slices.ContainsFunc(op.ms, func(m []byte) bool { return !st.Has(unsafe.String(unsafe.SliceData(m), len(m))) }) {
		// Every member is present and no other replica can remove one concurrently: as
		// in Redis, nothing is written (no new version, no WATCH invalidated).
		return nil
	}
	var d *crdt.Set
	op.added, d = st.AddBytes(stamp(), op.ms)
	return d
}

func (op *saddOp) reset() {
	clear(op.ms) // the request's buffer: not kept alive here
	op.ms, op.added = op.ms[:0], 0
}

// setRem removes members from key's set and returns how many were present.
func setRem(ctx context.Context, b Backend, key string, ms []string) (int, error) {
	removed := 0
	_, err := b.UpdateSet(ctx, key, false, func(st *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		if !slices.ContainsFunc(ms, st.Has) {
			return nil
		}
		stamp()
		var d *crdt.Set
		removed, d = st.Rem(ms...)
		return d
	})
	return removed, err
}

func cmdSRem(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n, err := setRem(ctx, c.be(), string(argv[1]), strs(argv[2:]))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

// setMembers returns key's members (nil for an absent key).
func setMembers(ctx context.Context, b Backend, key string) ([]string, bool, error) {
	var ms []string
	found, err := b.ReadSet(ctx, key, func(st *crdt.Set) {
		ms = make([]string, 0, st.Len())
		st.Range(func(m string) bool { ms = append(ms, m); return true })
	})
	return ms, found, err
}

func appendSetReply(c *client, ms []string) {
	if c.proto == 3 {
		c.out = append(c.out, '~')
		c.out = strconv.AppendInt(c.out, int64(len(ms)), 10)
		c.out = append(c.out, '\r', '\n')
	} else {
		c.out = appendArrayLen(c.out, len(ms))
	}
	for _, m := range ms {
		c.out = appendBulkString(c.out, m)
	}
}

func cmdSMembers(ctx context.Context, s *Server, c *client, argv [][]byte) {
	ms, _, err := setMembers(ctx, c.be(), string(argv[1]))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	appendSetReply(c, ms)
}

// cmdSIsMember serves SISMEMBER and SMISMEMBER.
func cmdSIsMember(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if r := c.readerAt(); r != nil && len(argv) == 3 && equalFold(argv[0], "sismember") {
		er := c.elem(argv[2])
		if _, err := r.ReadSetAt(ctx, keyView(argv[1]), c.getNowMs(), er.sism); err != nil {
			c.out = appendError(c.out, backendError(err))
		} else {
			c.out = appendInt(c.out, b2i(er.found))
		}
		er.done()
		return
	}
	res := make([]bool, len(argv)-2)
	_, err := c.be().ReadSet(ctx, string(argv[1]), func(st *crdt.Set) {
		for i, m := range argv[2:] {
			res[i] = st.Has(string(m))
		}
	})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if equalFold(argv[0], "sismember") {
		c.out = appendInt(c.out, b2i(res[0]))
		return
	}
	c.out = appendArrayLen(c.out, len(res))
	for _, r := range res {
		c.out = appendInt(c.out, b2i(r))
	}
}

func cmdSCard(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n := 0
	_, err := c.be().ReadSet(ctx, string(argv[1]), func(st *crdt.Set) { n = st.Len() })
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

// parseSetCount parses SPOP/SRANDMEMBER's count argument.
func parseSetCount(c *client, argv [][]byte) (count int64, has, ok bool) {
	switch len(argv) {
	case 2:
		return 1, false, true
	case 3:
		n, err := strconv.ParseInt(string(argv[2]), 10, 64)
		if err != nil {
			c.out = appendError(c.out, errNotInteger)
			return 0, false, false
		}
		return n, true, true
	}
	c.out = appendError(c.out, errSyntax)
	return 0, false, false
}

func cmdSPop(ctx context.Context, s *Server, c *client, argv [][]byte) {
	count, has, ok := parseSetCount(c, argv)
	if !ok {
		return
	}
	if has && count < 0 {
		c.out = appendError(c.out, "ERR value is out of range, must be positive")
		return
	}
	var popped []string
	found, err := c.be().UpdateSet(ctx, string(argv[1]), false, func(st *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		if count == 0 || st.Len() == 0 {
			return nil
		}
		var ms []string
		st.Range(func(m string) bool { ms = append(ms, m); return true })
		for _, i := range randomPicks(len(ms), count) {
			popped = append(popped, ms[i])
		}
		stamp()
		_, d := st.Rem(popped...)
		return d
	})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !has && len(popped) == 0:
		c.out = appendNull(c.out, c.proto)
	case !has:
		c.out = appendBulkString(c.out, popped[0])
	case !found:
		appendSetReply(c, nil)
	default:
		appendSetReply(c, popped)
	}
}

func cmdSRandMember(ctx context.Context, s *Server, c *client, argv [][]byte) {
	count, has, ok := parseSetCount(c, argv)
	if !ok || (has && !checkRandCount(c, count)) {
		return
	}
	ms, _, err := setMembers(ctx, c.be(), string(argv[1]))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if !has {
		if len(ms) == 0 {
			c.out = appendNull(c.out, c.proto)
			return
		}
		c.out = appendBulkString(c.out, ms[rand.IntN(len(ms))])
		return
	}
	picks := randomPicks(len(ms), count)
	c.out = appendArrayLen(c.out, len(picks))
	for _, i := range picks {
		c.out = appendBulkString(c.out, ms[i])
	}
}

// cmdSMove moves a member: an SREM on the source and an SADD on the destination, each its own
// replicated write (Redis applies both atomically; here a reader between them may see neither).
func cmdSMove(ctx context.Context, s *Server, c *client, argv [][]byte) {
	src, dst, m := string(argv[1]), string(argv[2]), string(argv[3])
	// Redis checks the destination's type first.
	if t, err := c.be().KeyType(ctx, dst); err == nil && t != "none" && t != "set" {
		c.out = appendError(c.out, errWrongType)
		return
	}
	n, err := setRem(ctx, c.be(), src, []string{m})
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if n == 1 {
		if _, err := c.be().UpdateSet(ctx, dst, true, func(st *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			if st.Has(m) {
				return nil
			}
			_, d := st.Add(stamp(), m)
			return d
		}); err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
	}
	c.out = appendInt(c.out, int64(n))
}

// setAlgebra computes SINTER/SUNION/SDIFF of keys; a missing key is an empty set.
func setAlgebra(ctx context.Context, b Backend, op string, keys []string) ([]string, error) {
	sets := make([]map[string]bool, len(keys))
	for i, k := range keys {
		ms, _, err := setMembers(ctx, b, k)
		if err != nil {
			return nil, err
		}
		sets[i] = make(map[string]bool, len(ms))
		for _, m := range ms {
			sets[i][m] = true
		}
	}
	var out []string
	switch op {
	case "sinter":
		for m := range sets[0] {
			in := true
			for _, o := range sets[1:] {
				if !o[m] {
					in = false
					break
				}
			}
			if in {
				out = append(out, m)
			}
		}
	case "sunion":
		all := map[string]bool{}
		for _, st := range sets {
			for m := range st {
				if !all[m] {
					all[m] = true
					out = append(out, m)
				}
			}
		}
	default:
		for m := range sets[0] {
			in := true
			for _, o := range sets[1:] {
				if o[m] {
					in = false
					break
				}
			}
			if in {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// cmdSetOp serves SINTER, SUNION, SDIFF and their STORE forms.
func cmdSetOp(ctx context.Context, s *Server, c *client, argv [][]byte) {
	name := string(lowerASCII(argv[0]))
	store := len(name) > 5 && name[len(name)-5:] == "store"
	keys := strs(argv[1:])
	if store {
		keys = keys[1:]
		name = name[:len(name)-5]
	}
	ms, err := setAlgebra(ctx, c.be(), name, keys)
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if !store {
		appendSetReply(c, ms)
		return
	}
	dst := string(argv[1])
	// The destination is replaced: a DEL then a fresh set (a new incarnation).
	if _, err := c.be().Delete(ctx, dst); err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if len(ms) > 0 {
		if _, err := c.be().UpdateSet(ctx, dst, true, func(st *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := st.Add(stamp(), ms...)
			return d
		}); err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
	}
	c.out = appendInt(c.out, int64(len(ms)))
}

func cmdSInterCard(ctx context.Context, s *Server, c *client, argv [][]byte) {
	nk, err := strconv.ParseInt(string(argv[1]), 10, 64)
	if err != nil || nk <= 0 {
		c.out = appendError(c.out, "ERR numkeys should be greater than 0")
		return
	}
	if nk > int64(len(argv)-2) {
		c.out = appendError(c.out, "ERR Number of keys can't be greater than number of args")
		return
	}
	limit := int64(0)
	rest := argv[2+nk:]
	for j := 0; j < len(rest); j++ {
		if equalFold(rest[j], "limit") && j+1 < len(rest) {
			l, err := strconv.ParseInt(string(rest[j+1]), 10, 64)
			if err != nil || l < 0 {
				c.out = appendError(c.out, "ERR LIMIT can't be negative")
				return
			}
			limit = l
			j++
			continue
		}
		c.out = appendError(c.out, errSyntax)
		return
	}
	ms, err := setAlgebra(ctx, c.be(), "sinter", strs(argv[2:2+nk]))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	n := int64(len(ms))
	if limit > 0 && n > limit {
		n = limit
	}
	c.out = appendInt(c.out, n)
}

func cmdSScan(ctx context.Context, s *Server, c *client, argv [][]byte) {
	match, _, ok := parseCollScan(c, argv, false)
	if !ok {
		return
	}
	var items [][]byte
	_, err := c.be().ReadSet(ctx, string(argv[1]), func(st *crdt.Set) {
		st.Range(func(m string) bool {
			if matchGlob(match, m) {
				items = append(items, []byte(m))
			}
			return true
		})
	})
	writeScan(c, items, err)
}
