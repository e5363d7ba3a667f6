package resp

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp/internal/rdb"
)

// DUMP and RESTORE use Redis 7.0's payload (package rdb), so values move between geocache and
// Redis both ways (redis-cli --pipe of RESTOREs, MIGRATE-style tools, a client that copies keys
// one by one). geocache writes the plain encodings and reads every encoding redis-server 7.0
// writes, validated as Redis's sanitize-dump-payload yes does; a value is restored by one
// ordinary replicated write (node.Restore).

// restorer is a Backend that writes whole values (*node.Node and, inside MULTI and scripts,
// *node.Tx).
type restorer interface {
	Restore(ctx context.Context, key string, v node.WholeValue, expireAt time.Time, replace bool) error
}

var (
	_ restorer = (*node.Node)(nil)
	_ restorer = (*node.Tx)(nil)
)

const (
	errBusyKey    = "BUSYKEY Target key name already exists."
	errBadDumpFmt = "ERR Bad data format"
)

// cmdDump serves DUMP key: the value in Redis's DUMP format, nil for a missing key.
func cmdDump(ctx context.Context, s *Server, c *client, argv [][]byte) {
	key := string(argv[1])
	var p []byte
	var found bool
	var err error
	// The type is read, then the value under its own lock: a write that changes the key's type
	// in between makes the read ErrWrongType, and the dump is tried again.
	for range 3 {
		p, found, err = dumpValue(ctx, c.be(), key)
		if !errors.Is(err, node.ErrWrongType) {
			break
		}
	}
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !found:
		c.out = appendNull(c.out, c.proto)
	default:
		c.out = appendBulk(c.out, p)
	}
}

// dumpValue encodes key's value as a DUMP payload: strings (and counters, their value) as an
// RDB string, hashes, sets and sorted sets in their plain RDB encodings.
func dumpValue(ctx context.Context, b Backend, key string) ([]byte, bool, error) {
	typ, err := b.KeyType(ctx, key)
	if err != nil {
		return nil, false, err
	}
	var p []byte
	found := false
	switch typ {
	case "none":
		return nil, false, nil
	case "string":
		var it node.Item
		it, found, err = b.Get(ctx, key)
		if found {
			p = rdb.AppendString([]byte{rdb.TypeString}, it.Value)
		}
	case "hash":
		found, err = b.ReadHash(ctx, key, func(h *crdt.Hash) {
			p = rdb.AppendLen([]byte{rdb.TypeHash}, uint64(h.Len()))
			h.Range(func(f string, v []byte) bool {
				p = rdb.AppendString(rdb.AppendString(p, []byte(f)), v)
				return true
			})
		})
	case "set":
		found, err = b.ReadSet(ctx, key, func(st *crdt.Set) {
			p = rdb.AppendLen([]byte{rdb.TypeSet}, uint64(st.Len()))
			st.Range(func(m string) bool {
				p = rdb.AppendString(p, []byte(m))
				return true
			})
		})
	case "zset":
		found, err = b.ReadZSet(ctx, key, func(z *crdt.ZSet) {
			p = rdb.AppendLen([]byte{rdb.TypeZSet2}, uint64(z.Len()))
			z.Walk(0, false, func(m string, score float64) bool {
				p = rdb.AppendDouble(rdb.AppendString(p, []byte(m)), score)
				return true
			})
		})
	default:
		return nil, false, errors.New("cannot dump a value of type " + typ)
	}
	if err != nil || !found {
		return nil, false, err
	}
	return rdb.Finish(p), true, nil
}

// cmdRestore serves RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
// [FREQ frequency], checking its arguments in the order of Redis's restoreCommand. IDLETIME and
// FREQ are validated and ignored: recency here is the store's own LRU order.
func cmdRestore(ctx context.Context, s *Server, c *client, argv [][]byte) {
	replace, absTTL, idle, freq := false, false, false, false
	for j := 4; j < len(argv); j++ {
		more := j+1 < len(argv)
		switch {
		case equalFold(argv[j], "replace"):
			replace = true
		case equalFold(argv[j], "absttl"):
			absTTL = true
		case equalFold(argv[j], "idletime") && more && !freq:
			v, ok := string2ll(argv[j+1])
			if !ok {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			if v < 0 {
				c.out = appendError(c.out, "ERR Invalid IDLETIME value, must be >= 0")
				return
			}
			idle = true
			j++
		case equalFold(argv[j], "freq") && more && !idle:
			v, ok := string2ll(argv[j+1])
			if !ok {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			if v < 0 || v > 255 {
				c.out = appendError(c.out, "ERR Invalid FREQ value, must be >= 0 and <= 255")
				return
			}
			freq = true
			j++
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
	}
	be := c.be()
	key := string(argv[1])
	if !replace {
		n, err := be.Exists(ctx, key)
		if err != nil {
			c.out = appendError(c.out, backendError(err))
			return
		}
		if n > 0 {
			c.out = appendError(c.out, errBusyKey)
			return
		}
	}
	ttl, ok := string2ll(argv[2])
	switch {
	case !ok:
		c.out = appendError(c.out, errNotInteger)
		return
	case ttl < 0:
		c.out = appendError(c.out, "ERR Invalid TTL value, must be >= 0")
		return
	}
	obj, err := rdb.Decode(argv[3])
	switch {
	case errors.Is(err, rdb.ErrChecksum):
		c.out = appendError(c.out, "ERR DUMP payload version or checksum are wrong")
		return
	case errors.Is(err, rdb.ErrUnsupported):
		// Redis's message, and what geocache cannot hold (a list, a stream).
		c.out = appendError(c.out, errBadDumpFmt+": "+strings.TrimPrefix(err.Error(), rdb.ErrFormat.Error()+": "))
		return
	case err != nil:
		c.out = appendError(c.out, errBadDumpFmt)
		return
	}
	var at time.Time
	if ttl != 0 {
		if !absTTL {
			ttl += be.Now().UnixMilli() // wraps on overflow into the past, as Redis's does
		}
		at = time.UnixMilli(ttl)
		if ttl == 0 { // time.UnixMilli(0) is not the zero Time: an expiry at the epoch is past
			at = time.UnixMilli(-1)
		}
	}
	r, ok := be.(restorer)
	if !ok {
		c.out = appendError(c.out, "ERR RESTORE is not supported by this backend")
		return
	}
	err = r.Restore(ctx, key, wholeValue(&obj), at, replace)
	switch {
	case errors.Is(err, node.ErrBusyKey):
		c.out = appendError(c.out, errBusyKey)
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	default:
		c.out = append(c.out, "+OK\r\n"...)
	}
}

// wholeValue is a decoded payload as node.Restore takes it. Hash fields and values stay views
// of the request (Restore copies what it keeps); set and sorted-set members become strings.
func wholeValue(o *rdb.Object) node.WholeValue {
	switch o.Kind {
	case rdb.Hash:
		return node.WholeValue{Type: "hash", Fields: o.Fields}
	case rdb.Set:
		ms := make([]string, len(o.Members))
		for i, m := range o.Members {
			ms[i] = string(m)
		}
		return node.WholeValue{Type: "set", Members: ms}
	case rdb.ZSet:
		sm := make([]node.ScoredMember, len(o.Scored))
		for i, m := range o.Scored {
			sm[i] = node.ScoredMember{Member: string(m.Member), Score: m.Score}
		}
		return node.WholeValue{Type: "zset", Scored: sm}
	}
	return node.WholeValue{Type: "string", String: o.Str}
}
