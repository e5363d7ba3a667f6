package resp

import (
	"unsafe"

	"github.com/geocache/geocache/node"
)

var _ Warmer = (*node.Node)(nil)

// Warmer is implemented by a Backend that can bring the index entries of keys into the
// processor's caches before commands on them run (as *node.Node does). A lookup in a large
// keyspace costs a few cache misses that one command after another pays one after another;
// loaded together they overlap. Warm changes nothing, must not block for long and must not
// retain keys (they alias the connection's input buffer).
type Warmer interface {
	Warm(keys []string)
	// WarmReads is Warm for keys about to be read (a pipeline of GETs): it also loads what a
	// reply copies out of their values. Same rules as Warm.
	WarmReads(keys []string)
	// WarmElems is Warm for the elements of collection commands: elems[i] is the first
	// element of the command on keys[i] (its second argument, ZADD's first member; "" if
	// none). Same rules as Warm.
	WarmElems(keys, elems []string)
	// Warming reports whether warming pays now (a store larger than the processor's caches);
	// when false the connection does not even parse ahead. It must be cheap.
	Warming() bool
}

// warmAhead is how many pipelined commands a connection looks at before running them.
const warmAhead = 64

// aheadArgsMax bounds the arguments warmPipeline keeps of the commands it parsed (the
// connection holds their headers, 24 bytes each, until it closes): a pipeline of commands with
// more arguments is parsed again when it runs, as every pipeline was before.
const aheadArgsMax = 512

// parsedAhead is one command warmPipeline parsed: the bytes it takes in the input buffer and
// its arguments, client.aheadArgv[start:end].
type parsedAhead struct {
	n, start, end int32
}

// nextAhead returns the next command warmPipeline parsed, if there is one and it may be run
// as parsed: the arguments alias the input buffer, which nothing moves while a batch runs,
// and they are what c.p.parse would return for the same bytes unless the connection has lost
// its authentication since (RESET): then Redis's stricter limits apply, and the rest of the
// pipeline is parsed again.
func (c *client) nextAhead() (n int, argv [][]byte, ok bool) {
	if c.aheadAt >= len(c.ahead) {
		return 0, nil, false
	}
	if c.authRequired() && !c.aheadAuth {
		c.dropAhead()
		return 0, nil, false
	}
	a := c.ahead[c.aheadAt]
	c.aheadAt++
	return int(a.n), c.aheadArgv[a.start:a.end:a.end], true
}

// dropAhead forgets the commands parsed ahead (their arguments alias the input buffer).
func (c *client) dropAhead() {
	clear(c.aheadArgv)
	c.ahead, c.aheadArgv, c.aheadAt = c.ahead[:0], c.aheadArgv[:0], 0
}

// warmPipeline hands the first key of the next commands waiting whole in the input buffer to
// the backend's Warmer, when more than one is waiting (a pipeline). The first argument is taken
// for a key without looking the command up: for most commands it is one, and warming a
// non-key costs one wasted lookup.
//
// The commands parsed here are kept (c.ahead) for processBatch to run without parsing them a
// second time: the parse was ~5 % of a cluster node's CPU under SET -P16, half of it spent
// twice. Only multibulk commands are kept, and only a run from the first: an inline command's
// arguments live in the parser's scratch buffer, which the next parse overwrites. Commands not
// kept are parsed again when they run. The run is dropped when the next batch starts (the
// input buffer may have moved by then).
func (c *client) warmPipeline() {
	c.dropAhead()
	if c.s.warm == nil || c.multi != nil || !c.s.warm.Warming() {
		return
	}
	auth := c.authRequired()
	c.aheadAuth = auth
	keep := true
	keys, elems := c.warmKeys[:0], c.warmElems[:0]
	same := true // every command on one key: warm their elements (a pipeline of SADDs to a set)
	b := c.in[c.r:c.w]
	reads := true // every command a GET: warm the values the replies copy too
	for len(keys) < warmAhead {
		n, argv, _, err := c.pw.parse(b, auth)
		if err != nil || n == 0 {
			break
		}
		if keep = keep && b[0] == '*' && len(c.ahead) < warmAhead && n <= 1<<31-1 &&
			len(c.aheadArgv)+len(argv) <= aheadArgsMax; keep {
			start := int32(len(c.aheadArgv))
			c.aheadArgv = append(c.aheadArgv, argv...)
			c.ahead = append(c.ahead, parsedAhead{n: int32(n), start: start, end: int32(len(c.aheadArgv))})
		}
		b = b[n:]
		if len(argv) >= 2 && len(argv[1]) > 0 {
			keys = append(keys, unsafe.String(&argv[1][0], len(argv[1])))
			e := ""
			if i := elemArg(argv); i < len(argv) && len(argv[i]) > 0 {
				e = unsafe.String(&argv[i][0], len(argv[i]))
			}
			elems = append(elems, e)
			same = same && keys[len(keys)-1] == keys[0]
			reads = reads && equalFold(argv[0], "get")
		}
	}
	switch {
	case len(keys) <= 1:
	case reads:
		c.s.warm.WarmReads(keys)
	case same:
		c.s.warm.WarmElems(keys, elems)
	default:
		c.s.warm.Warm(keys)
	}
	clear(keys)
	clear(elems)
	c.warmKeys, c.warmElems = keys[:0], elems[:0]
}
