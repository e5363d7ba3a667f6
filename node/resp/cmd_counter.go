package resp

import (
	"context"
	"errors"
	"math"

	"github.com/geocache/geocache/node"
)

// Errors of the counter commands, worded as Redis words them.
const (
	errOverflow     = "ERR increment or decrement would overflow"
	errNotFloat     = "ERR value is not a valid float"
	errFloatInfinit = "ERR increment would produce NaN or Infinity"
)

// cmdIncr serves INCR and DECR.
func cmdIncr(ctx context.Context, s *Server, c *client, argv [][]byte) {
	d := int64(1)
	if equalFold(argv[0], "decr") {
		d = -1
	}
	incrBy(ctx, s, c, argv[1], d)
}

// cmdIncrBy serves INCRBY and DECRBY.
func cmdIncrBy(ctx context.Context, s *Server, c *client, argv [][]byte) {
	d, ok := string2ll(argv[2])
	if !ok {
		c.out = appendError(c.out, errNotInteger)
		return
	}
	if equalFold(argv[0], "decrby") {
		if d == math.MinInt64 {
			c.out = appendError(c.out, "ERR decrement would overflow")
			return
		}
		d = -d
	}
	incrBy(ctx, s, c, argv[1], d)
}

func incrBy(ctx context.Context, s *Server, c *client, key []byte, d int64) {
	v, err := c.be().IncrBy(ctx, string(key), d)
	switch {
	case errors.Is(err, node.ErrNotInteger):
		c.out = appendError(c.out, errNotInteger)
	case errors.Is(err, node.ErrOverflow):
		c.out = appendError(c.out, errOverflow)
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	default:
		c.out = appendInt(c.out, v)
	}
}

// cmdIncrByFloat serves INCRBYFLOAT with Redis's long double arithmetic and formatting (see
// float.go). It is a read-modify-write replicated as a last-writer-wins SET of the result,
// as Redis itself replicates it: a per-replica float sum could not reproduce the bytes Redis
// users see, since each step re-parses the previous 17-digit result.
func cmdIncrByFloat(ctx context.Context, s *Server, c *client, argv [][]byte) {
	var reply string
	res, err := c.be().Modify(ctx, string(argv[1]), func(cur []byte, live bool) ([]byte, bool, error) {
		v, vinf, ok := parseLongDouble(cur)
		if !live {
			v, vinf, ok = parseLongDouble([]byte("0"))
		}
		if !ok {
			reply = errNotFloat
			return nil, false, nil
		}
		incr, iinf, ok := parseLongDouble(argv[2])
		if !ok {
			reply = errNotFloat
			return nil, false, nil
		}
		if vinf || iinf {
			reply = errFloatInfinit
			return nil, false, nil
		}
		sum, ok := addLongDouble(v, incr)
		if !ok {
			reply = errFloatInfinit
			return nil, false, nil
		}
		return formatLongDouble(sum), true, nil
	})
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case reply != "":
		c.out = appendError(c.out, reply)
	default:
		c.out = appendBulk(c.out, res)
	}
}
