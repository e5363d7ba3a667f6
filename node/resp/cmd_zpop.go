package resp

import (
	"context"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/geocache/geocache/crdt"
)

// Multi-key and blocking pops: ZMPOP, BZPOPMIN, BZPOPMAX, BZMPOP. A pop is an ordinary
// observed-remove write of the popped members, so two regions popping the same sorted set
// concurrently may both return its minimum (a cache, not a queue: see docs/api.md).

func addZPopCommands(add func(name string, arity, flags int, fn handler) *command) {
	add("zmpop", -4, flagWrite, cmdZMPop)
	add("bzmpop", -5, flagWrite, cmdZMPop)
	add("bzpopmin", -3, flagWrite, cmdBZPop)
	add("bzpopmax", -3, flagWrite, cmdBZPop)
}

// blockPoll is how often a blocked BZPOP* looks at its keys again. Blocking pops are rare in a
// cache; polling keeps them off the write path (no per-key waiter lists to maintain), and
// blockedPops keeps their order.
const blockPoll = 10 * time.Millisecond

// popFirst pops up to count members (lowest, or highest with top) from the first of keys that
// holds a non-empty sorted set. It returns the key ("" when every key is empty or absent) and
// the members, or WRONGTYPE for the first key met that holds another type.
// zpop removes up to n members of z from the lowest score up (the highest down with top) and
// returns them and the delta, or nil and nil for an empty z. It stamps only when it removes.
func zpop(z *crdt.ZSet, stamp func() crdt.Version, top bool, n int) ([]zms, *crdt.ZSet) {
	if z.Len() == 0 || n <= 0 {
		return nil, nil
	}
	from := 0
	if top {
		from = z.Len() - 1
	}
	var popped []zms
	z.Walk(from, top, func(m string, sc float64) bool {
		popped = append(popped, zms{m, sc})
		return len(popped) < n
	})
	names := make([]string, len(popped))
	for i := range popped {
		names[i] = popped[i].m
	}
	stamp()
	_, d := z.Rem(names...)
	return popped, d
}

func popFirst(ctx context.Context, b Backend, keys []string, top bool, count int) (string, []zms, error) {
	for _, k := range keys {
		var popped []zms
		_, err := b.UpdateZSet(ctx, k, false, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
			var d *crdt.ZSet
			popped, d = zpop(z, stamp, top, count)
			return d
		})
		if err != nil {
			return "", nil, err
		}
		if len(popped) > 0 {
			return k, popped, nil
		}
	}
	return "", nil, nil
}

// parseBlockTimeout parses a timeout in seconds (a float) as Redis does; 0 is forever.
func parseBlockTimeout(c *client, b []byte) (time.Duration, bool) {
	v, ok := parseFloatArg(b)
	if !ok {
		c.out = appendError(c.out, "ERR timeout is not a float or out of range")
		return 0, false
	}
	ms := v * 1000
	if ms < 0 || math.IsInf(v, -1) {
		c.out = appendError(c.out, "ERR timeout is negative")
		return 0, false
	}
	if ms >= float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, true // longer than any process lives: forever
	}
	return time.Duration(ms) * time.Millisecond, true
}

// blockingPop replies with pop's result at once when it has one; otherwise it blocks, off
// the event loop, until a key has members or timeout (0: forever) passes, then replies with
// reply, or with a null array on timeout.
func blockingPop(ctx context.Context, s *Server, c *client, timeout time.Duration,
	pop func(ctx context.Context) (string, []zms, error), reply func(key string, ms []zms)) {
	// Clients blocked before this one are served first (they would have been, in Redis, when
	// the write that fills their keys ran).
	s.bpops.serve()
	key, ms, err := pop(ctx)
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
		return
	case key != "":
		reply(key, ms)
		return
	}
	run := func(ctx context.Context) {
		var deadline <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		tick := time.NewTicker(blockPoll)
		defer tick.Stop()
		w := &blockedPop{ctx: ctx, pop: pop, done: make(chan struct{})}
		s.bpops.add(w)
		finish := func() {
			switch {
			case w.err != nil && ctx.Err() != nil:
				c.out = appendNullArray(c.out, c.proto)
			case w.err != nil:
				c.out = appendError(c.out, backendError(w.err))
			default:
				reply(w.key, w.ms)
			}
		}
		for {
			var end bool
			select {
			case <-w.done:
				finish()
				return
			case <-ctx.Done():
				end = true
			case <-deadline:
				end = true
			case <-tick.C:
				s.bpops.serve()
			}
			if end {
				if s.bpops.leave(w) {
					c.out = appendNullArray(c.out, c.proto)
				} else {
					finish() // served meanwhile: its members are popped, so they are the reply
				}
				return
			}
		}
	}
	req := &waitRequest{run: run, blocking: true}
	if c.loop != nil {
		c.wait = req // an event loop must not block: as WAIT does
		return
	}
	s.runWait(ctx, c, req)
}

// blockedPops serves blocked pops in the order they blocked, as Redis does: each poll tick of
// any of them tries them all, oldest first, so the first client to block is served first
// whatever the phase of its own tick (BZMPOP with several blocked clients).
type blockedPops struct {
	mu sync.Mutex
	q  []*blockedPop
}

// blockedPop is one blocked client's pop; its result is set, and done closed, when served.
type blockedPop struct {
	ctx  context.Context
	pop  func(ctx context.Context) (string, []zms, error)
	done chan struct{}
	key  string
	ms   []zms
	err  error
}

func (b *blockedPops) add(w *blockedPop) {
	b.mu.Lock()
	b.q = append(b.q, w)
	b.mu.Unlock()
}

// serve tries every queued pop, oldest first; those that popped members (or failed) leave the
// queue. The pops run under mu, so two ticks never serve out of order.
func (b *blockedPops) serve() {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.q[:0]
	for _, w := range b.q {
		key, ms, err := w.pop(w.ctx)
		if err != nil || key != "" {
			w.key, w.ms, w.err = key, ms, err
			close(w.done)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.q[len(kept):])
	b.q = kept
}

// leave removes w from the queue; false means it was served meanwhile (done is closed).
func (b *blockedPops) leave(w *blockedPop) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(b.q, w)
	if i < 0 {
		return false
	}
	b.q = slices.Delete(b.q, i, i+1)
	return true
}

// cmdBZPop serves BZPOPMIN and BZPOPMAX key [key ...] timeout: [key, member, score].
func cmdBZPop(ctx context.Context, s *Server, c *client, argv [][]byte) {
	timeout, ok := parseBlockTimeout(c, argv[len(argv)-1])
	if !ok {
		return
	}
	keys := strs(argv[1 : len(argv)-1])
	top := equalFold(argv[0], "bzpopmax")
	blockingPop(ctx, s, c, timeout,
		func(ctx context.Context) (string, []zms, error) { return popFirst(ctx, c.be(), keys, top, 1) },
		func(key string, ms []zms) {
			c.out = appendArrayLen(c.out, 3)
			c.out = appendBulkString(c.out, key)
			c.out = appendBulkString(c.out, ms[0].m)
			c.out = appendScore(c.out, ms[0].s, c.proto)
		})
}

// cmdZMPop serves ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] and BZMPOP timeout numkeys
// key [key ...] MIN|MAX [COUNT count]: [key, [[member, score], ...]].
func cmdZMPop(ctx context.Context, s *Server, c *client, argv [][]byte) {
	block := equalFold(argv[0], "bzmpop")
	nkAt := 1
	var timeout time.Duration
	if block {
		var ok bool
		if timeout, ok = parseBlockTimeout(c, argv[1]); !ok {
			return
		}
		nkAt = 2
	}
	nk, err := strconv.ParseInt(string(argv[nkAt]), 10, 64)
	if err != nil || nk < 1 {
		c.out = appendError(c.out, "ERR numkeys should be greater than 0")
		return
	}
	whereAt := int64(nkAt) + nk + 1
	if whereAt >= int64(len(argv)) {
		c.out = appendError(c.out, errSyntax)
		return
	}
	var top bool
	switch {
	case equalFold(argv[whereAt], "min"):
	case equalFold(argv[whereAt], "max"):
		top = true
	default:
		c.out = appendError(c.out, errSyntax)
		return
	}
	count := int64(-1)
	for j := int(whereAt) + 1; j < len(argv); j++ {
		if count == -1 && equalFold(argv[j], "count") && j+1 < len(argv) {
			j++
			n, err := strconv.ParseInt(string(argv[j]), 10, 64)
			if err != nil || n < 1 {
				c.out = appendError(c.out, "ERR count should be greater than 0")
				return
			}
			count = n
			continue
		}
		c.out = appendError(c.out, errSyntax)
		return
	}
	count = max(count, 1)
	keys := strs(argv[nkAt+1 : whereAt])
	n := int(min(count, math.MaxInt32))
	pop := func(ctx context.Context) (string, []zms, error) { return popFirst(ctx, c.be(), keys, top, n) }
	reply := func(key string, ms []zms) {
		c.out = appendArrayLen(c.out, 2)
		c.out = appendBulkString(c.out, key)
		c.out = appendArrayLen(c.out, len(ms))
		for _, x := range ms {
			c.out = appendArrayLen(c.out, 2)
			c.out = appendBulkString(c.out, x.m)
			c.out = appendScore(c.out, x.s, c.proto)
		}
	}
	if !block {
		key, ms, err := pop(ctx)
		switch {
		case err != nil:
			c.out = appendError(c.out, backendError(err))
		case key == "":
			c.out = appendNullArray(c.out, c.proto)
		default:
			reply(key, ms)
		}
		return
	}
	blockingPop(ctx, s, c, timeout, pop, reply)
}
