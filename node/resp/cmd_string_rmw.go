package resp

import (
	"context"
	"errors"
	"time"

	"github.com/geocache/geocache/node"
)

// The rest of Redis's string family. Each write is one local operation of the node with a
// fresh version: SETEX, PSETEX, SETNX, GETSET and MSETNX are SETs; APPEND and SETRANGE are
// read-modify-writes (Backend.Modify) replicated as the resulting value, so concurrent writes
// of the key in other regions are not merged with them (the later version wins whole).

const errMaxSize = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

// errTooBig aborts a Modify whose result would exceed proto-max-bulk-len, before allocating.
var errTooBig = errors.New("resp: string too big")

// getLocal reads key without waiting for another region (no read-through) when the backend
// can, so that an event loop never blocks on a read-modify command; inside a transaction or a
// script it reads through the transaction, which holds the key's lock.
func getLocal(ctx context.Context, s *Server, c *client, key string) (node.Item, bool, error) {
	if s.rt != nil && c.tx == nil {
		return s.rt.GetLocalAt(ctx, key, c.be().Now().UnixMilli())
	}
	return c.be().Get(ctx, key)
}

// cmdSetEx serves SETEX key seconds value and PSETEX key milliseconds value.
func cmdSetEx(ctx context.Context, s *Server, c *client, argv [][]byte) {
	flags, name := optEX, "setex"
	if equalFold(argv[0], "psetex") {
		flags, name = optPX, "psetex"
	}
	ms, ok := expireMillis(s, c, argv[2], flags, name)
	if !ok {
		return
	}
	if _, err := c.setBytes(ctx, argv[1], argv[3], node.SetOptions{ExpireAt: time.UnixMilli(ms)}); err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	c.out = append(c.out, "+OK\r\n"...)
}

func cmdSetNX(ctx context.Context, s *Server, c *client, argv [][]byte) {
	res, err := c.setBytes(ctx, argv[1], argv[2], node.SetOptions{NX: true})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case res.Written:
		c.out = appendInt(c.out, 1)
	default:
		c.out = appendInt(c.out, 0)
	}
}

func cmdGetSet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	res, err := c.setBytes(ctx, argv[1], argv[2], node.SetOptions{Get: true})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case res.HadPrev:
		c.out = appendBulk(c.out, res.Prev.Value)
	default:
		c.out = appendNull(c.out, c.proto)
	}
}

// cmdMSetNX sets every pair if no key exists. The check and the writes are separate local
// operations (another client of this node may write in between), and each write replicates
// on its own: other regions may see some pairs before others.
func cmdMSetNX(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv)%2 == 0 {
		c.out = appendError(c.out, "ERR wrong number of arguments for 'msetnx' command")
		return
	}
	keys := make([]string, 0, (len(argv)-1)/2)
	kv := make(map[string][]byte, (len(argv)-1)/2)
	for i := 1; i < len(argv); i += 2 {
		keys = append(keys, string(argv[i]))
		kv[string(argv[i])] = argv[i+1]
	}
	n, err := c.be().Exists(ctx, keys...)
	if err == nil && n == 0 {
		err = c.be().MSet(ctx, kv)
	}
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case n > 0:
		c.out = appendInt(c.out, 0)
	default:
		c.out = appendInt(c.out, 1)
	}
}

func cmdAppend(ctx context.Context, s *Server, c *client, argv [][]byte) {
	suffix := argv[2]
	maxLen := s.cfg.MaxBulkLen
	res, err := c.be().Modify(ctx, string(argv[1]), func(cur []byte, _ bool) ([]byte, bool, error) {
		if len(cur)+len(suffix) > maxLen {
			return nil, false, errTooBig
		}
		next := make([]byte, 0, len(cur)+len(suffix))
		return append(append(next, cur...), suffix...), true, nil
	})
	replyLen(c, res, err)
}

func cmdSetRange(ctx context.Context, s *Server, c *client, argv [][]byte) {
	off, ok := string2ll(argv[2])
	if !ok {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	if off < 0 {
		c.out = appendError(c.out, "ERR offset is out of range")
		return
	}
	val := argv[3]
	maxLen := int64(s.cfg.MaxBulkLen)
	res, err := c.be().Modify(ctx, string(argv[1]), func(cur []byte, _ bool) ([]byte, bool, error) {
		if len(val) == 0 {
			return nil, false, nil // nothing to write: the reply is the current length
		}
		if off > maxLen-int64(len(val)) {
			return nil, false, errTooBig
		}
		next := make([]byte, max(len(cur), int(off)+len(val)))
		copy(next, cur)
		copy(next[off:], val)
		return next, true, nil
	})
	replyLen(c, res, err)
}

func replyLen(c *client, res []byte, err error) {
	switch {
	case errors.Is(err, errTooBig), errors.Is(err, node.ErrValueTooLarge):
		c.out = appendError(c.out, errMaxSize)
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	default:
		c.out = appendInt(c.out, int64(len(res)))
	}
}

// cmdGetRange serves GETRANGE and SUBSTR with Redis 7's index rules.
func cmdGetRange(ctx context.Context, s *Server, c *client, argv [][]byte) {
	start, ok1 := string2ll(argv[2])
	end, ok2 := string2ll(argv[3])
	if !ok1 || !ok2 {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	it, found, err := getLocal(ctx, s, c, string(argv[1]))
	if err != nil {
		c.out = appendError(c.out, backendError(err))
		return
	}
	v := it.Value
	if !found {
		v = nil
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		c.out = appendBulk(c.out, nil)
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start, end = max(start, 0), max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.out = appendBulk(c.out, nil)
		return
	}
	c.out = appendBulk(c.out, v[start:end+1])
}
