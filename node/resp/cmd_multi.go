package resp

import (
	"context"
	"strings"

	"github.com/geocache/geocache/node"
)

// Transactions: MULTI queues commands, EXEC runs them as one atomic unit on the node (the
// Transactor holds the store locks of every key the queued commands and the WATCHed keys name,
// or of the whole store when a command reads the keyspace), and WATCH makes EXEC fail when a
// watched key changed between WATCH and EXEC — by a write of any client or a replicated write
// applied here. The replies are Redis 7.0's.

// Transactor is implemented by a Backend that runs transactions atomically, as *node.Node does.
// Without it MULTI, EXEC and WATCH answer an error.
type Transactor interface {
	// Atomic runs fn with the store locks of keys held; AtomicAll with the whole store's.
	Atomic(ctx context.Context, keys []string, fn func(tx *node.Tx) error) error
	AtomicAll(ctx context.Context, fn func(tx *node.Tx) error) error
	// KeyState is a key's state as WATCH records it; it must not block.
	KeyState(key string) node.KeyState
}

var (
	_ Transactor = (*node.Node)(nil)
	_ Backend    = (*node.Tx)(nil) // EXEC runs the queued commands against the transaction
)

// Bounds of one client's transaction state: MULTI queues at most maxQueuedBytes of arguments
// (a command past it is refused and aborts the transaction, as a queueing error does in
// Redis), and WATCH holds at most maxWatched keys.
const (
	maxQueuedBytes = 64 << 20
	maxWatched     = 1 << 16
)

const (
	errNoTx      = "ERR transactions are not supported by this backend"
	errExecAbort = "EXECABORT Transaction discarded because of previous errors."
)

// multiState is a client's open MULTI.
type multiState struct {
	cmds  []*command
	argv  [][][]byte // copies: the input buffer is reused
	bytes int
	dirty bool // a command failed to queue: EXEC answers EXECABORT
	// execArgv is EXEC's own argument bytes while EXEC runs the commands, which CLIENT INFO
	// among them reports as Redis does (argv-mem, with flags=x and the queue's multi-mem).
	execArgv int
}

// watchedKey is a key under WATCH and its state when watched.
type watchedKey struct {
	key string
	st  node.KeyState
}

// be is the backend a command works on: the transaction inside EXEC, else the server's.
func (c *client) be() Backend {
	if c.tx != nil {
		return c.tx
	}
	return c.s.b
}

// flagTransaction marks an open MULTI as failed (Redis's flagTransaction).
func (c *client) flagTransaction() {
	if c.multi != nil {
		c.multi.dirty = true
	}
}

// reject answers a command refused before it runs, as Redis's rejectCommand: it fails an open
// MULTI, and a refused EXEC discards the transaction and says why.
func (c *client) reject(cmd *command, msg string) {
	c.flagTransaction()
	if cmd.name == "exec" {
		c.multi, c.watched = nil, nil
		msg = "EXECABORT Transaction discarded because of: " + strings.TrimPrefix(msg, "ERR ")
		if c.s.mon.n.Load() != 0 {
			// Redis's execCommandAbort: monitors saw MULTI, now they see the end of it.
			// lookupCached kept the name as the client spelt it.
			c.s.feedMonitors(c.addr, cmd, [][]byte{c.lastName.name[:c.lastName.n]})
		}
	}
	c.out = appendError(c.out, msg)
}

// queue adds a command to the open MULTI and answers +QUEUED.
func (c *client) queue(cmd *command, argv [][]byte) {
	m := c.multi
	size := 0
	for _, a := range argv {
		size += len(a)
	}
	if m.bytes+size > maxQueuedBytes {
		m.dirty = true
		c.out = appendError(c.out, "ERR MULTI queue is over its limit of 64 MiB of arguments")
		return
	}
	buf := make([]byte, 0, size)
	cp := make([][]byte, len(argv))
	for i, a := range argv {
		buf = append(buf, a...)
		cp[i] = buf[len(buf)-len(a):]
	}
	m.cmds = append(m.cmds, cmd)
	m.argv = append(m.argv, cp)
	m.bytes += size
	c.out = append(c.out, "+QUEUED\r\n"...)
}

func cmdMulti(_ context.Context, s *Server, c *client, _ [][]byte) {
	if c.multi != nil {
		c.out = appendError(c.out, "ERR MULTI calls can not be nested")
		return
	}
	if s.tr == nil {
		c.out = appendError(c.out, errNoTx)
		return
	}
	c.multi = &multiState{}
	c.out = append(c.out, "+OK\r\n"...)
}

func cmdDiscard(_ context.Context, _ *Server, c *client, _ [][]byte) {
	if c.multi == nil {
		c.out = appendError(c.out, "ERR DISCARD without MULTI")
		return
	}
	c.multi, c.watched = nil, nil
	c.out = append(c.out, "+OK\r\n"...)
}

func cmdWatch(_ context.Context, s *Server, c *client, argv [][]byte) {
	if c.multi != nil {
		c.out = appendError(c.out, "ERR WATCH inside MULTI is not allowed")
		return
	}
	if s.tr == nil {
		c.out = appendError(c.out, errNoTx)
		return
	}
	for _, k := range argv[1:] {
		key := string(k)
		if watching(c.watched, key) {
			continue
		}
		if len(c.watched) >= maxWatched {
			c.out = appendError(c.out, "ERR WATCH holds at most 65536 keys per connection")
			return
		}
		c.watched = append(c.watched, watchedKey{key: key, st: s.tr.KeyState(key)})
	}
	c.out = append(c.out, "+OK\r\n"...)
}

func watching(ws []watchedKey, key string) bool {
	for i := range ws {
		if ws[i].key == key {
			return true
		}
	}
	return false
}

func cmdUnwatch(_ context.Context, _ *Server, c *client, _ [][]byte) {
	c.watched = nil
	c.out = append(c.out, "+OK\r\n"...)
}

// cmdExec runs the queued commands atomically. The reply array's header is written before the
// commands run, so a HELLO among them switches the protocol of the replies after it only, as
// in Redis.
func cmdExec(ctx context.Context, s *Server, c *client, argv [][]byte) {
	m, watched := c.multi, c.watched
	if m == nil {
		c.out = appendError(c.out, "ERR EXEC without MULTI")
		return
	}
	c.multi, c.watched = nil, nil // EXEC always ends the transaction and unwatches
	if m.dirty {
		c.out = appendError(c.out, errExecAbort)
		return
	}
	all := false
	var keys []string
	for i, cmd := range m.cmds {
		if cmd.flags&flagKeyspace != 0 {
			all = true
			break
		}
		keys = cmd.appendKeys(keys, m.argv[i])
	}
	for _, w := range watched {
		keys = append(keys, w.key)
	}
	aborted := false
	run := func(tx *node.Tx) error {
		for _, w := range watched {
			now, err := tx.KeyState(w.key)
			if err != nil || w.st.Changed(now) {
				aborted = true
				return nil
			}
		}
		c.out = appendArrayLen(c.out, len(m.cmds))
		c.tx, c.execing = tx, m
		m.execArgv = argvSize(argv)
		defer func() { c.tx, c.execing = nil, nil }()
		for i, cmd := range m.cmds {
			cmd.fn(ctx, s, c, m.argv[i])
			if s.mon.n.Load() != 0 && cmd.flags&flagNoMonitor == 0 {
				s.feedMonitors(c.addr, cmd, m.argv[i])
			}
		}
		return nil
	}
	var err error
	if all {
		err = s.tr.AtomicAll(ctx, run)
	} else {
		err = s.tr.Atomic(ctx, keys, run)
	}
	switch {
	case err != nil:
		c.out = appendError(c.out, backendError(err))
	case aborted:
		c.out = appendNullArray(c.out, c.proto)
	}
}

// appendKeys appends the keys argv names according to the command's key spec.
func (cmd *command) appendKeys(keys []string, argv [][]byte) []string {
	if cmd.firstKey == 0 {
		return keys
	}
	last := cmd.lastKey
	if last < 0 {
		last += len(argv)
	}
	for i := cmd.firstKey; i <= last && i < len(argv); i += cmd.keyStep {
		keys = append(keys, string(argv[i]))
	}
	return keys
}
