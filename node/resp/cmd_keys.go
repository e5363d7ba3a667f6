package resp

import (
	"context"
	"math"
	"time"
)

// keyStrings copies key arguments into strings for the Backend.
func keyStrings(args [][]byte) []string {
	keys := make([]string, len(args))
	for i, a := range args {
		keys[i] = string(a)
	}
	return keys
}

// cmdDel serves DEL and UNLINK (freeing memory is never deferred here, so they are the same).
func cmdDel(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n, err := c.be().Delete(ctx, keyStrings(argv[1:])...)
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

func cmdExists(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n, err := c.be().Exists(ctx, keyStrings(argv[1:])...)
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

func cmdTouch(ctx context.Context, s *Server, c *client, argv [][]byte) {
	n, err := c.be().Touch(ctx, keyStrings(argv[1:])...)
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendInt(c.out, int64(n))
}

// Flags of EXPIRE and friends.
const (
	expNX = 1 << iota
	expXX
	expGT
	expLT
)

// cmdExpire serves EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, following Redis's
// expireGenericCommand step by step.
func cmdExpire(ctx context.Context, s *Server, c *client, argv [][]byte) {
	name := lowerName(argv[0])
	seconds := name == "expire" || name == "expireat"
	relative := name == "expire" || name == "pexpire"

	flags := 0
	for _, a := range argv[3:] {
		opt := cstr(a)
		switch {
		case equalFold(opt, "nx"):
			flags |= expNX
		case equalFold(opt, "xx"):
			flags |= expXX
		case equalFold(opt, "gt"):
			flags |= expGT
		case equalFold(opt, "lt"):
			flags |= expLT
		default:
			c.out = appendError(c.out, "ERR Unsupported option "+string(opt))
			return
		}
	}
	if flags&expNX != 0 && flags&(expXX|expGT|expLT) != 0 {
		c.out = appendError(c.out, "ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if flags&expGT != 0 && flags&expLT != 0 {
		c.out = appendError(c.out, "ERR GT and LT options at the same time are not compatible")
		return
	}

	when, ok := string2ll(argv[2])
	if !ok {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.out = appendError(c.out, errExpireTime(name))
			return
		}
		when *= 1000
	}
	var base int64
	if relative {
		base = c.be().Now().UnixMilli()
	}
	if when > math.MaxInt64-base {
		c.out = appendError(c.out, errExpireTime(name))
		return
	}
	when += base

	key := string(argv[1])
	it, found, err := c.be().Peek(ctx, key)
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if !found {
		c.out = appendInt(c.out, 0)
		return
	}
	if flags != 0 {
		cur := int64(-1)
		if !it.ExpireAt.IsZero() {
			cur = it.ExpireAt.UnixMilli()
		}
		if (flags&expNX != 0 && cur != -1) ||
			(flags&expXX != 0 && cur == -1) ||
			(flags&expGT != 0 && (when <= cur || cur == -1)) ||
			(flags&expLT != 0 && cur != -1 && when >= cur) {
			c.out = appendInt(c.out, 0)
			return
		}
	}
	// A time not after now deletes the key; Backend.Expire does that.
	ok, err = c.be().Expire(ctx, key, time.UnixMilli(when))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if ok {
		c.out = appendInt(c.out, 1)
	} else {
		c.out = appendInt(c.out, 0)
	}
}

// cmdExpireTime serves EXPIRETIME and PEXPIRETIME.
func cmdExpireTime(ctx context.Context, s *Server, c *client, argv [][]byte) {
	it, found, err := c.be().Peek(ctx, string(argv[1]))
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !found:
		c.out = appendInt(c.out, -2)
	case it.ExpireAt.IsZero():
		c.out = appendInt(c.out, -1)
	case lowerName(argv[0]) == "expiretime":
		c.out = appendInt(c.out, (it.ExpireAt.UnixMilli()+500)/1000)
	default:
		c.out = appendInt(c.out, it.ExpireAt.UnixMilli())
	}
}

// cmdTTL serves TTL (seconds, rounded as Redis rounds) and PTTL. It reads the absolute expiry
// rather than a Duration, which cannot hold every expiry Redis accepts.
func cmdTTL(ctx context.Context, s *Server, c *client, argv [][]byte) {
	it, found, err := c.be().Peek(ctx, string(argv[1]))
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !found:
		c.out = appendInt(c.out, -2)
	case it.ExpireAt.IsZero():
		c.out = appendInt(c.out, -1)
	default:
		ms := max(it.ExpireAt.UnixMilli()-c.be().Now().UnixMilli(), 0)
		if len(argv[0]) == 3 { // TTL, not PTTL
			ms = (ms + 500) / 1000
		}
		c.out = appendInt(c.out, ms)
	}
}

func cmdPersist(ctx context.Context, s *Server, c *client, argv [][]byte) {
	ok, err := c.be().Persist(ctx, string(argv[1]))
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case ok:
		c.out = appendInt(c.out, 1)
	default:
		c.out = appendInt(c.out, 0)
	}
}

func cmdType(ctx context.Context, s *Server, c *client, argv [][]byte) {
	t, err := c.be().KeyType(ctx, string(argv[1]))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = appendSimple(c.out, t)
}

func cmdDBSize(_ context.Context, s *Server, c *client, _ [][]byte) {
	c.out = appendInt(c.out, int64(c.be().Len()))
}

// cmdFlush serves FLUSHALL and FLUSHDB [ASYNC|SYNC] (one database, so they are the same). The
// flush is a replicated cluster-wide write (node.Flush): it removes, in every region, every key
// written before it and none written after. ASYNC and SYNC both return once this node's store is
// clear.
func cmdFlush(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv) > 2 || len(argv) == 2 && !equalFold(argv[1], "async") && !equalFold(argv[1], "sync") {
		c.out = appendError(c.out, errSyntax)
		return
	}
	if _, err := c.be().Flush(ctx); err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = append(c.out, "+OK\r\n"...)
}

// cmdScan serves SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. Every key is a string,
// so TYPE string filters nothing and any other type filters everything.
func cmdScan(ctx context.Context, s *Server, c *client, argv [][]byte) {
	cursor, ok := parseCursor(argv[1])
	if !ok {
		c.out = appendError(c.out, "ERR invalid cursor")
		return
	}
	count := int64(10)
	match := ""
	onlyType := []byte(nil)
	for i := 2; i < len(argv); {
		opt := cstr(argv[i])
		more := len(argv) - i
		switch {
		case equalFold(opt, "count") && more >= 2:
			n, ok := string2ll(argv[i+1])
			if !ok {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			if n < 1 {
				c.out = appendError(c.out, errSyntax)
				return
			}
			count = n
		case equalFold(opt, "match") && more >= 2:
			match = string(argv[i+1])
		case equalFold(opt, "type") && more >= 2:
			onlyType = cstr(argv[i+1])
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
		i += 2
	}
	if match == "*" {
		match = ""
	}
	keys, next, err := c.be().Scan(ctx, cursor, match, int(min(count, math.MaxInt32)))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	if onlyType != nil && !equalFold(onlyType, "string") {
		keys = nil
	}
	c.out = appendArrayLen(c.out, 2)
	c.out = appendBulkUint(c.out, next)
	c.out = appendArrayLen(c.out, len(keys))
	for _, k := range keys {
		c.out = appendBulkString(c.out, k)
	}
}

// keysBatch is how many keys KEYS asks the Backend for per scan step.
const keysBatch = 1024

func cmdKeys(ctx context.Context, s *Server, c *client, argv [][]byte) {
	match := string(argv[1])
	if match == "*" {
		match = ""
	}
	var all []string
	var seen map[string]struct{}
	cursor, rounds := uint64(0), 0
	for {
		keys, next, err := c.be().Scan(ctx, cursor, match, keysBatch)
		if err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
		rounds++
		if rounds == 2 {
			// A scan may return a key twice across steps; KEYS must not.
			seen = make(map[string]struct{}, len(all))
			for _, k := range all {
				seen[k] = struct{}{}
			}
		}
		for _, k := range keys {
			if seen != nil {
				if _, dup := seen[k]; dup {
					continue
				}
				seen[k] = struct{}{}
			}
			all = append(all, k)
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	c.out = appendArrayLen(c.out, len(all))
	for _, k := range all {
		c.out = appendBulkString(c.out, k)
	}
}

// lowerName returns a command name in lower case.
func lowerName(b []byte) string {
	out := make([]byte, len(b))
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		out[i] = ch
	}
	return string(out)
}
