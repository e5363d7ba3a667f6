package resp

import (
	"context"
	"errors"
	"strconv"

	"github.com/geocache/geocache/node"
)

// cmdRename serves RENAME and RENAMENX: a copy of the value (with its expiry) under the new key
// and a delete of the old one, each an ordinary replicated write (see node.Rename).
func cmdRename(ctx context.Context, s *Server, c *client, argv [][]byte) {
	nx := lowerName(argv[0]) == "renamenx"
	ok, err := c.be().Rename(ctx, string(argv[1]), string(argv[2]), nx)
	switch {
	case errors.Is(err, node.ErrNoSuchKey):
		c.out = appendError(c.out, "ERR no such key")
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case nx && ok:
		c.out = append(c.out, ":1\r\n"...)
	case nx:
		c.out = append(c.out, ":0\r\n"...)
	default:
		c.out = append(c.out, "+OK\r\n"...)
	}
}

// cmdCopy serves COPY source destination [DB destination-db] [REPLACE]. There is one database,
// so DB must name database 0.
func cmdCopy(ctx context.Context, s *Server, c *client, argv [][]byte) {
	replace := false
	for i := 3; i < len(argv); i++ {
		switch {
		case equalFold(argv[i], "replace"):
			replace = true
		case equalFold(argv[i], "db") && i+1 < len(argv):
			db, ok := string2ll(argv[i+1])
			if !ok {
				c.out = appendError(c.out, errNotInteger)
				return
			}
			if db != int64(int32(db)) {
				c.out = appendError(c.out, "ERR value is out of range, value must between -2147483648 and 2147483647")
				return
			}
			if db != 0 {
				c.out = appendError(c.out, "ERR DB index is out of range")
				return
			}
			i++
		default:
			c.out = appendError(c.out, errSyntax)
			return
		}
	}
	if string(argv[1]) == string(argv[2]) {
		c.out = appendError(c.out, "ERR source and destination objects are the same")
		return
	}
	ok, err := c.be().Copy(ctx, string(argv[1]), string(argv[2]), replace)
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case ok:
		c.out = append(c.out, ":1\r\n"...)
	default:
		c.out = append(c.out, ":0\r\n"...)
	}
}

func cmdRandomKey(ctx context.Context, s *Server, c *client, _ [][]byte) {
	k, ok, err := c.be().RandomKey(ctx)
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case ok:
		c.out = appendBulkString(c.out, k)
	default:
		c.out = appendNull(c.out, c.proto)
	}
}

// cmdTime serves TIME: the node's clock as unix seconds and microseconds.
func cmdTime(_ context.Context, s *Server, c *client, _ [][]byte) {
	now := c.be().Now()
	c.out = appendArrayLen(c.out, 2)
	c.out = appendBulkInt(c.out, now.Unix())
	c.out = appendBulkInt(c.out, int64(now.Nanosecond()/1000))
}

// objectHelp is Redis 7.0's OBJECT HELP text.
var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

func cmdObjectHelp(_ context.Context, _ *Server, c *client, _ [][]byte) {
	c.out = appendArrayLen(c.out, len(objectHelp))
	for _, l := range objectHelp {
		c.out = appendSimple(c.out, l)
	}
}

// objectValue looks key up without touching its recency; it writes the nil reply and returns
// false when the key is not live.
func objectValue(ctx context.Context, s *Server, c *client, key []byte) ([]byte, bool) {
	it, ok, err := c.be().Peek(ctx, string(key))
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
		return nil, false
	case !ok:
		c.out = appendNull(c.out, c.proto)
		return nil, false
	}
	return it.Value, true
}

// sharedIntegers is Redis's OBJ_SHARED_INTEGERS: values 0..9999 are one shared object there.
const sharedIntegers = 10000

// cmdObjectEncoding answers as Redis would for a string written by SET: "int" for a canonical
// 64-bit integer, "embstr" up to 44 bytes, "raw" beyond (geocache stores every string the same
// way; the answer describes the value, so tools that branch on it behave as with Redis).
func cmdObjectEncoding(ctx context.Context, s *Server, c *client, argv [][]byte) {
	v, ok := objectValue(ctx, s, c, argv[2])
	if !ok {
		return
	}
	switch {
	case canonicalInt(v):
		c.out = appendBulkString(c.out, "int")
	case len(v) <= 44:
		c.out = appendBulkString(c.out, "embstr")
	default:
		c.out = appendBulkString(c.out, "raw")
	}
}

// cmdObjectRefcount answers as Redis does with its default configuration: shared small integers
// report INT_MAX, every other value 1.
func cmdObjectRefcount(ctx context.Context, s *Server, c *client, argv [][]byte) {
	v, ok := objectValue(ctx, s, c, argv[2])
	if !ok {
		return
	}
	if canonicalInt(v) {
		if n, _ := strconv.ParseInt(string(v), 10, 64); n >= 0 && n < sharedIntegers {
			c.out = appendInt(c.out, 2147483647)
			return
		}
	}
	c.out = appendInt(c.out, 1)
}

// cmdObjectFreq answers as Redis does under an LRU eviction policy, which geocache's is.
func cmdObjectFreq(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if _, ok := objectValue(ctx, s, c, argv[2]); !ok {
		return
	}
	c.out = appendError(c.out, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "+
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
}

// canonicalInt reports whether v is an integer Redis would store as one (its string2l: no
// leading zeros or sign quirks, within 64 bits, at most 20 bytes).
func canonicalInt(v []byte) bool {
	if len(v) == 0 || len(v) > 20 {
		return false
	}
	n, ok := string2ll(v)
	return ok && strconv.FormatInt(n, 10) == string(v)
}
