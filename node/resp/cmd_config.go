package resp

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// encodingParams are Redis's encoding thresholds (hash-max-listpack-entries, ...). geocache has
// one representation per type, so they change nothing; CONFIG SET accepts and remembers them
// so that clients and test suites that tune them (Redis's own units do) run unchanged, and
// CONFIG GET reports what was set.
type encodingParams struct {
	mu   sync.Mutex
	vals map[string]int64 // by canonical name; nil until the first CONFIG SET
}

// encodingParam is one threshold: its default and whether it is a memory value ("1kb").
type encodingParam struct {
	name   string
	def    int64
	memory bool
}

var encodingParamList = []encodingParam{
	{"hash-max-listpack-entries", 128, false},
	{"hash-max-listpack-value", 64, true},
	{"set-max-intset-entries", 512, false},
	{"zset-max-listpack-entries", 128, false},
	{"zset-max-listpack-value", 64, true},
}

// encodingAliases maps Redis's older names to the canonical ones.
var encodingAliases = [][2]string{
	{"hash-max-ziplist-entries", "hash-max-listpack-entries"},
	{"hash-max-ziplist-value", "hash-max-listpack-value"},
	{"zset-max-ziplist-entries", "zset-max-listpack-entries"},
	{"zset-max-ziplist-value", "zset-max-listpack-value"},
}

func findEncodingParam(name string) (encodingParam, bool) {
	for _, a := range encodingAliases {
		if a[0] == name {
			name = a[1]
		}
	}
	for _, p := range encodingParamList {
		if p.name == name {
			return p, true
		}
	}
	return encodingParam{}, false
}

func (e *encodingParams) get(p encodingParam) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.vals[p.name]; ok {
		return v
	}
	return p.def
}

// list lists the encoding parameters (aliases included, as Redis does) for CONFIG
// GET.
func (e *encodingParams) list() []struct{ k, v string } {
	var out []struct{ k, v string }
	for _, p := range encodingParamList {
		out = append(out, struct{ k, v string }{p.name, strconv.FormatInt(e.get(p), 10)})
	}
	for _, a := range encodingAliases {
		p, _ := findEncodingParam(a[1])
		out = append(out, struct{ k, v string }{a[0], strconv.FormatInt(e.get(p), 10)})
	}
	return out
}

// parseRedisInt parses as Redis's string2ll: an optional '-', digits, no leading zeros.
func parseRedisInt(s string) (int64, bool) {
	d := strings.TrimPrefix(s, "-")
	if d == "" || (len(d) > 1 && d[0] == '0') || strings.ContainsFunc(d, func(r rune) bool { return r < '0' || r > '9' }) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// parseMemory parses as Redis's memtoull: digits (none is 0) and an optional unit b, k, kb, m,
// mb, g or gb (k = 1000, kb = 1024), case-insensitive.
func parseMemory(s string) (int64, bool) {
	digits, mul, ok := memoryUnit(s)
	if !ok || digits == "" {
		return 0, ok
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > (1<<63-1)/int64(mul) {
		return 0, false
	}
	return v * int64(mul), true
}

// memoryUnit splits a memory amount into its digits and its unit's multiplier (memtoull's
// grammar): ok is false unless what precedes the unit is digits only.
func memoryUnit(s string) (digits string, mul uint64, ok bool) {
	l := strings.ToLower(s)
	mul = 1
	for _, u := range []struct {
		suf string
		m   uint64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}} {
		if strings.HasSuffix(l, u.suf) {
			l, mul = strings.TrimSuffix(l, u.suf), u.m
			break
		}
	}
	if strings.ContainsFunc(l, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", 0, false
	}
	return l, mul, true
}

// cmdConfigSet serves CONFIG SET for the encoding parameters (see encodingParams) and a few
// server parameters (checkServerParam), with Redis's replies; any other parameter is Redis's
// error for an unknown one. All pairs are checked before any is applied.
func cmdConfigSet(ctx context.Context, s *Server, c *client, argv [][]byte) {
	if len(argv)%2 != 0 {
		c.out = appendError(c.out, errSyntax) // Redis 7.0's reply to an odd pair count
		return
	}
	set := map[string]int64{}
	seen := map[string]bool{}
	sp := serverParams{busy: -1, maxMemory: -1}
	for i := 2; i < len(argv); i += 2 {
		given := string(argv[i])
		name := strings.ToLower(given)
		if name == "lua-time-limit" {
			name = "busy-reply-threshold"
		}
		if name == "busy-reply-threshold" || name == "maxmemory" || name == "save" || name == "appendonly" {
			if seen[name] {
				c.out = appendError(c.out, "ERR CONFIG SET failed (possibly related to argument '"+given+"') - duplicate parameter")
				return
			}
			seen[name] = true
			if msg := checkServerParam(s, c, name, argv[i+1], &sp); msg != "" {
				c.out = appendError(c.out, "ERR CONFIG SET failed (possibly related to argument '"+given+"') - "+msg)
				return
			}
			continue
		}
		p, ok := findEncodingParam(name)
		if !ok {
			c.out = appendError(c.out, "ERR Unknown option or number of arguments for CONFIG SET - '"+given+"'")
			return
		}
		if seen[name] {
			c.out = appendError(c.out, "ERR CONFIG SET failed (possibly related to argument '"+given+"') - duplicate parameter")
			return
		}
		seen[name] = true
		arg := string(argv[i+1])
		fail := func(why string) {
			c.out = appendError(c.out, "ERR CONFIG SET failed (possibly related to argument '"+given+"') - "+why)
		}
		var v int64
		if p.memory {
			if v, ok = parseMemory(arg); !ok {
				fail("argument must be a memory value")
				return
			}
		} else {
			if v, ok = parseRedisInt(arg); !ok {
				fail("argument couldn't be parsed into an integer")
				return
			}
			if v < 0 {
				fail("argument must be between 0 and 9223372036854775807 inclusive")
				return
			}
		}
		set[p.name] = v
	}
	apply := func(context.Context) {
		// maxmemory first: it is the one that can fail (the backend refuses), and then nothing
		// is applied.
		if sp.maxMemory >= 0 {
			if err := s.setMaxMemory(sp.maxMemory); err != nil {
				c.out = appendError(c.out, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "+
					strings.TrimPrefix(err.Error(), "node: "))
				return
			}
		}
		s.encoding.mu.Lock()
		if s.encoding.vals == nil {
			s.encoding.vals = map[string]int64{}
		}
		for k, v := range set {
			s.encoding.vals[k] = v
		}
		s.encoding.mu.Unlock()
		if sp.busy >= 0 {
			s.busyTime.Store(sp.busy * int64(time.Millisecond))
		}
		c.out = append(c.out, "+OK\r\n"...)
	}
	if sp.maxMemory >= 0 && c.loop != nil && !c.offLoop {
		// A shrink evicts for as long as it takes (~60 ms per 100k keys evicted): off the event
		// loop, whose other connections it would hold up, as SAVE is.
		c.wait = &waitRequest{run: apply}
		return
	}
	apply(ctx)
}

// serverParams are the server parameters of one CONFIG SET, checked and waiting to be applied
// with the other pairs (-1: not set).
type serverParams struct {
	busy      int64 // busy-reply-threshold (lua-time-limit), in milliseconds
	maxMemory int64 // maxmemory, in bytes
}

// checkServerParam checks a CONFIG SET of a server parameter and returns the reason it fails,
// or "". busy-reply-threshold (lua-time-limit), in milliseconds, is how long a script runs
// before other clients get BUSY. maxmemory is the node's memory bound (setMaxMemory). save and
// appendonly: only the values CONFIG GET reports ("" and "no") are accepted, since geocache
// keeps no RDB save points or append-only file (its snapshots are set at start: --data-dir,
// --save-interval). Tools and Redis's own test suite set save "" to turn snapshots off.
func checkServerParam(s *Server, c *client, name string, arg []byte, sp *serverParams) string {
	switch name {
	case "busy-reply-threshold":
		v, ok := parseRedisInt(string(arg))
		if !ok {
			return "argument couldn't be parsed into an integer"
		}
		if v < 0 {
			return "argument must be between 0 and 9223372036854775807 inclusive"
		}
		sp.busy = min(v, math.MaxInt64/int64(time.Millisecond)) // the longest time.Duration
	case "maxmemory":
		v, ok := parseMaxMemory(string(arg))
		if !ok {
			return "argument must be a memory value"
		}
		if v == c.be().Stats().MaxMemory {
			return "" // nothing to change (and nothing to lock, inside EXEC too)
		}
		if s.mem == nil {
			return "geocache's maxmemory is set at start (--max-memory) and cannot change with this backend"
		}
		if c.tx != nil {
			// The transaction holds store locks that the change must take: it would wait for
			// itself.
			return "geocache cannot change maxmemory inside MULTI/EXEC"
		}
		sp.maxMemory = v
	case "save":
		if len(arg) != 0 {
			return "geocache's snapshots are set at start (--save-interval): only save \"\" is accepted"
		}
	case "appendonly":
		if !equalFold(arg, "no") {
			return "geocache writes no append-only file: only appendonly no is accepted"
		}
	}
	return ""
}

// setMaxMemory changes the backend's memory bound (0: none) and whether writes are refused for
// memory (oom.go). Changes are serialised, so that the OOM state stored is the last bound's.
func (s *Server) setMaxMemory(v int64) error {
	s.memMu.Lock()
	defer s.memMu.Unlock()
	if _, err := s.mem.SetMaxMemory(v); err != nil {
		return err
	}
	s.oom.Store(s.mem.OutOfMemory())
	return nil
}

// parseMaxMemory parses maxmemory as Redis 7.0 does (memtoull): parseMemory's grammar, but
// unsigned, a number past 64 bits read as the largest, the product with the unit wrapping
// round as C's does. geocache's bound is signed: anything above 2^63-1 bytes is 2^63-1, which
// no store reaches.
func parseMaxMemory(s string) (int64, bool) {
	digits, mul, ok := memoryUnit(s)
	if !ok || digits == "" {
		return 0, ok
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		v = math.MaxUint64 // only digits: out of range (strtoull saturates)
	}
	v *= mul
	return int64(min(v, math.MaxInt64)), true
}

// cmdMemoryUsage serves MEMORY USAGE key [SAMPLES count]: the bytes the store charges the key
// (SAMPLES is accepted and ignored: every element is counted), nil for a missing key.
func cmdMemoryUsage(ctx context.Context, s *Server, c *client, argv [][]byte) {
	for j := 3; j < len(argv); j += 2 {
		if !equalFold(argv[j], "samples") || j+1 >= len(argv) {
			c.out = appendError(c.out, errSyntax)
			return
		}
		if _, err := strconv.ParseInt(string(argv[j+1]), 10, 64); err != nil {
			c.out = appendError(c.out, errNotInteger)
			return
		}
	}
	n, ok, err := c.be().MemoryUsage(ctx, string(argv[2]))
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case !ok:
		c.out = appendNull(c.out, c.proto)
	default:
		c.out = appendInt(c.out, n)
	}
}
