package resp

import (
	"context"
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/geocache/geocache/node"
)

// Option flags of SET and GETEX, as in Redis's parseExtendedStringArgumentsOrReply.
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT
)

// parseStringOptions parses the options of SET (forSet) or GETEX, accepting the same
// combinations as Redis: a later EX replaces an earlier one, but EX and PX conflict. It returns
// the flags and the expiry argument, or ok=false after replying with a syntax error.
func parseStringOptions(c *client, argv [][]byte, forSet bool) (flags int, expire []byte, ok bool) {
	start := 2
	if forSet {
		start = 3
	}
	for j := start; j < len(argv); j++ {
		opt := cstr(argv[j]) // Redis compares options as C strings
		hasNext := j+1 < len(argv)
		switch {
		case forSet && equalFold(opt, "nx") && flags&optXX == 0:
			flags |= optNX
		case forSet && equalFold(opt, "xx") && flags&optNX == 0:
			flags |= optXX
		case forSet && equalFold(opt, "get"):
			flags |= optGet
		case forSet && equalFold(opt, "keepttl") && flags&(optPersist|optEX|optEXAT|optPX|optPXAT) == 0:
			flags |= optKeepTTL
		case !forSet && equalFold(opt, "persist") && flags&(optEX|optEXAT|optPX|optPXAT|optKeepTTL) == 0:
			flags |= optPersist
		case equalFold(opt, "ex") && flags&(optKeepTTL|optPersist|optEXAT|optPX|optPXAT) == 0 && hasNext:
			flags |= optEX
			expire = argv[j+1]
			j++
		case equalFold(opt, "px") && flags&(optKeepTTL|optPersist|optEX|optEXAT|optPXAT) == 0 && hasNext:
			flags |= optPX
			expire = argv[j+1]
			j++
		case equalFold(opt, "exat") && flags&(optKeepTTL|optPersist|optEX|optPX|optPXAT) == 0 && hasNext:
			flags |= optEXAT
			expire = argv[j+1]
			j++
		case equalFold(opt, "pxat") && flags&(optKeepTTL|optPersist|optEX|optEXAT|optPX) == 0 && hasNext:
			flags |= optPXAT
			expire = argv[j+1]
			j++
		default:
			c.out = appendError(c.out, errSyntax)
			return 0, nil, false
		}
	}
	return flags, expire, true
}

// expireMillis is Redis's getExpireMillisecondsOrReply: the absolute expiry in unix ms of an
// EX/PX/EXAT/PXAT argument, or ok=false after replying with the error.
func expireMillis(s *Server, c *client, arg []byte, flags int, cmd string) (int64, bool) {
	ms, ok := string2ll(arg)
	if !ok {
		c.out = appendError(c.out, errNotInteger)
		return 0, false
	}
	seconds := flags&(optEX|optEXAT) != 0
	if ms <= 0 || (seconds && ms > math.MaxInt64/1000) {
		c.out = appendError(c.out, errExpireTime(cmd))
		return 0, false
	}
	if seconds {
		ms *= 1000
	}
	if flags&(optEX|optPX) != 0 {
		ms += c.be().Now().UnixMilli() // may overflow to negative, caught below as in Redis
	}
	if ms <= 0 {
		c.out = appendError(c.out, errExpireTime(cmd))
		return 0, false
	}
	return ms, true
}

func cmdGet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	rt := s.rt
	if rt == nil || c.tx != nil { // a transaction answers from this node only
		it, ok, err := c.be().Get(ctx, string(argv[1]))
		replyGet(c, it, ok, err)
		return
	}
	// The key aliases the input buffer (no copy per GET): GetLocalAt and FillCandidate do not
	// keep it. Fill, which runs after this returns, gets a copy.
	key := unsafe.String(unsafe.SliceData(argv[1]), len(argv[1]))
	it, ok, err := rt.GetLocalAt(ctx, key, c.getNowMs())
	if err != nil || ok || !rt.FillCandidate(key) {
		replyGet(c, it, ok, err)
		return
	}
	key = strings.Clone(key)
	run := func(ctx context.Context) {
		it, ok, err := rt.Fill(ctx, key)
		replyGet(c, it, ok, err)
	}
	if c.loop != nil {
		// An event loop must not wait for another region or the origin: hand the connection
		// to a goroutine, as WAIT does.
		c.wait = &waitRequest{run: run}
		return
	}
	c.ungate()
	run(ctx)
}

func replyGet(c *client, it node.Item, ok bool, err error) {
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !ok:
		c.out = appendNull(c.out, c.proto)
	default:
		c.out = appendBulk(c.out, it.Value)
	}
}

// setBytes writes key (bytes of the connection's buffer) through the backend's SetBytesAt when
// it has one, so the key's one copy is the store's, at the time of the run of commands it is
// part of (getNowMs: a pipeline of SETs reads the clock once); else through Set with a key
// string.
func (c *client) setBytes(ctx context.Context, key, val []byte, opt node.SetOptions) (node.SetResult, error) {
	if bs, ok := c.be().(bytesSetter); ok {
		return bs.SetBytesAt(ctx, key, val, opt, c.getNowMs())
	}
	return c.be().Set(ctx, string(key), val, opt)
}

func cmdSet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	flags, expire, ok := parseStringOptions(c, argv, true)
	if !ok {
		return
	}
	var opt node.SetOptions
	if expire != nil {
		ms, ok := expireMillis(s, c, expire, flags, "set")
		if !ok {
			return
		}
		opt.ExpireAt = time.UnixMilli(ms)
	}
	opt.NX = flags&optNX != 0
	opt.XX = flags&optXX != 0
	opt.KeepTTL = flags&optKeepTTL != 0
	opt.Get = flags&optGet != 0
	res, err := c.setBytes(ctx, argv[1], argv[2], opt)
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	switch {
	case opt.Get && res.HadPrev:
		c.out = appendBulk(c.out, res.Prev.Value)
	case opt.Get || !res.Written:
		c.out = appendNull(c.out, c.proto)
	default:
		c.out = append(c.out, "+OK\r\n"...)
	}
}

func cmdGetDel(ctx context.Context, s *Server, c *client, argv [][]byte) {
	it, ok, err := c.be().GetDel(ctx, string(argv[1]))
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !ok:
		c.out = appendNull(c.out, c.proto)
	default:
		c.out = appendBulk(c.out, it.Value)
	}
}

// cmdGetEx follows Redis: look the key up, validate the expiry, reply with the value, then
// change the expiry.
func cmdGetEx(ctx context.Context, s *Server, c *client, argv [][]byte) {
	flags, expire, ok := parseStringOptions(c, argv, false)
	if !ok {
		return
	}
	key := string(argv[1])
	it, found, err := c.be().Get(ctx, key)
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if !found {
		c.out = appendNull(c.out, c.proto)
		return
	}
	var ms int64
	if expire != nil {
		if ms, ok = expireMillis(s, c, expire, flags, "getex"); !ok {
			return
		}
	}
	c.out = appendBulk(c.out, it.Value)
	switch {
	case expire != nil:
		// An absolute time already past deletes the key (Backend.Expire does that), a relative
		// one is always in the future.
		_, err = c.be().Expire(ctx, key, time.UnixMilli(ms))
	case flags&optPersist != 0:
		_, err = c.be().Persist(ctx, key)
	default:
		return
	}
	if err != nil {
		// The reply is already out, as in Redis, which cannot fail at this point.
		s.cfg.Logger.Warn("resp: GETEX could not change the expiry", "err", err)
	}
}

func cmdMGet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	c.out = appendArrayLen(c.out, len(argv)-1)
	for _, k := range argv[1:] {
		it, ok, err := c.be().Get(ctx, string(k))
		if err != nil || !ok {
			// Redis answers nil for anything that is not a readable string.
			c.out = appendNull(c.out, c.proto)
			continue
		}
		c.out = appendBulk(c.out, it.Value)
	}
}

func cmdMSet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv)%2 == 0 {
		c.out = appendError(c.out, "ERR wrong number of arguments for 'mset' command")
		return
	}
	kv := make(map[string][]byte, (len(argv)-1)/2)
	for i := 1; i < len(argv); i += 2 {
		kv[string(argv[i])] = argv[i+1] // a later pair for the same key wins, as in Redis
	}
	if err := c.be().MSet(ctx, kv); err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = append(c.out, "+OK\r\n"...)
}

// cmdStrlen serves STRLEN key: the length of the value, 0 for a missing key. It reads with Peek,
// so that tools sizing every key (redis-cli --bigkeys) neither reorder the LRU nor load misses.
func cmdStrlen(ctx context.Context, s *Server, c *client, argv [][]byte) {
	it, found, err := c.be().Peek(ctx, string(argv[1]))
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !found:
		c.out = appendInt(c.out, 0)
	default:
		if len(it.Value) == 0 {
			// Peek answers a collection with an empty value: STRLEN of one is WRONGTYPE.
			if t, err := c.be().KeyType(ctx, string(argv[1])); err == nil && t != "string" && t != "none" {
				c.out = appendError(c.out, backendError(node.ErrWrongType))
				return
			}
		}
		c.out = appendInt(c.out, int64(len(it.Value)))
	}
}
