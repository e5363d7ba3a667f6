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

// warmPipeline hands the first key of the next commands waiting whole in the input buffer to
// the backend's Warmer, when more than one is waiting (a pipeline). Commands are parsed again
// when they run: parsing is cheap next to the misses this saves. The first argument is taken
// for a key without looking the command up: for most commands it is one, and warming a
// non-key costs one wasted lookup.
func (c *client) warmPipeline() {
	if c.s.warm == nil || c.multi != nil || !c.s.warm.Warming() {
		return
	}
	keys, elems := c.warmKeys[:0], c.warmElems[:0]
	same := true // every command on one key: warm their elements (a pipeline of SADDs to a set)
	b := c.in[c.r:c.w]
	reads := true // every command a GET: warm the values the replies copy too
	for len(keys) < warmAhead {
		n, argv, _, err := c.pw.parse(b, c.authRequired())
		if err != nil || n == 0 {
			break
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
