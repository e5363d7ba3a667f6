package resp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Connection states, for the sweeper.
const (
	stateReading int32 = iota // waiting for input: subject to IdleTimeout
	stateRunning              // executing commands
	stateWriting              // writing replies: subject to WriteTimeout
	stateBlocked              // blocked in WAIT: neither
)

const (
	initialInBuf = 8 << 10
	shrinkInBuf  = 64 << 10 // an empty input buffer larger than this is given back
	flushOutBuf  = 64 << 10 // replies are written out once this many bytes are buffered
	keepOutBuf   = 1 << 20  // a larger reply buffer is given back after writing
)

// client is one connection. Its fields are owned by its goroutine except where noted.
type client struct {
	s     *Server
	conn  net.Conn // nil when an event loop serves the connection
	fd    int      // the socket, when an event loop serves the connection; else -1
	loop  *loop
	id    uint64
	addr  string
	laddr string
	born  time.Time
	// ctx lives as long as the connection and is cancelled by kill. It is kept here, unlike a
	// request-scoped context, because an event loop serves many connections and needs each
	// one's context when it runs its commands.
	ctx    context.Context
	cancel context.CancelFunc

	in   []byte // input buffer; in[r:w] is unparsed
	r, w int
	need int // bytes the incomplete request at in[r:] needs, when known
	out  []byte
	wpos int // bytes of out already written (event loops write without blocking)
	p    parser

	pw       parser   // parses ahead for warmPipeline (warm.go)
	lastName struct { // lookupCached's cache: the last command name looked up, as sent
		name [16]byte
		n    int
		cmd  *command
	}
	nowMs     int64         // getNowMs's time for a run of GETs and SETs; 0: read the clock
	gotNow    bool          // the command just dispatched used nowMs
	warmKeys  []string      // warmPipeline's scratch
	ops       cmdOps        // reusable updates of collections (SADD, HSET, ZADD)
	zr        *zrangeRead   // reusable ZRANGE read (collread.go)
	er        *elemRead     // reusable HGET and SISMEMBER read (collread.go)
	warmElems []string      // warmPipeline's scratch
	ahead     []parsedAhead // the commands warmPipeline parsed, in order (warm.go)
	aheadArgv [][]byte      // their arguments, aliasing in
	aheadAt   int           // the next of ahead to run
	aheadAuth bool          // ahead was parsed with the limits of an unauthenticated client

	outBlocked bool         // the socket took only part of out; wait until writable
	wait       *waitRequest // a WAIT handed to a goroutine by an event loop

	multi   *multiState  // an open MULTI, else nil
	execing *multiState  // the transaction EXEC is running, else nil (for CLIENT INFO)
	watched []watchedKey // WATCHed keys
	tx      Backend      // the transaction while EXEC runs the queued commands, else nil
	offLoop bool         // running on a goroutine an event loop handed the connection to
	gated   bool         // holds the server's script gate (shared) for the current batch

	authed          bool
	closeAfterReply bool
	pending         int // replies buffered since the last write-out

	// mu guards the fields CLIENT LIST reads from other goroutines. The owner reads them
	// without the lock and writes them with it.
	mu    sync.Mutex
	proto int    // 2 or 3
	name  string // CLIENT SETNAME
	user  string

	lastActive atomic.Int64            // unix ns of the last read or write-out
	cur        *command                // the command being run (owner only), for CLIENT LIST's cmd=
	lastCmd    atomic.Pointer[command] // the last command of the last batch, for other connections' CLIENT LIST
	state      atomic.Int32
	cmds       atomic.Uint64 // commands processed

	reply      uint8        // CLIENT REPLY's replyOff, replySkip, replySkipNext
	mon        *monitorSink // the connection's MONITOR feed, else nil (monitor.go)
	monitoring atomic.Bool  // mon != nil, for CLIENT LIST and the sweeper
	killed     bool         // by CLIENT KILL, closing: no longer listed or counted (guarded by s.mu)
}

// CLIENT REPLY's states, as Redis's client flags: while replyOff or replySkip is set the
// replies of the command that runs are dropped; replySkipNext (set by CLIENT REPLY SKIP)
// becomes replySkip for the next command.
const (
	replyOff uint8 = 1 << iota
	replySkip
	replySkipNext
)

// dispatchQuiet is dispatch for a connection that sent CLIENT REPLY OFF or SKIP: the reply the
// command appends to c.out is cut off. processBatch calls it only then, so that the others pay
// one byte load per command for CLIENT REPLY.
func (c *client) dispatchQuiet(ctx context.Context, argv [][]byte) {
	if c.reply&replySkipNext != 0 { // Redis turns SKIP_NEXT into SKIP after the SKIP command
		c.reply = c.reply&^replySkipNext | replySkip
	}
	mark := len(c.out)
	c.s.dispatch(ctx, c, argv)
	if c.reply&(replyOff|replySkip) != 0 {
		if c.wait != nil {
			c.wait.quiet = true // the reply comes from a goroutine: runWait drops it
		} else if mark <= len(c.out) {
			c.out = c.out[:mark]
		}
	}
	c.reply &^= replySkip
}

func newClient(s *Server, conn net.Conn, addr, laddr string) *client {
	c := &client{
		s:     s,
		conn:  conn,
		fd:    -1,
		id:    s.nextID.Add(1),
		addr:  addr,
		laddr: laddr,
		born:  time.Now(),
		proto: 2,
		user:  "default",
		in:    make([]byte, initialInBuf),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.p.maxBulk = int64(s.cfg.MaxBulkLen)
	c.pw.maxBulk = c.p.maxBulk
	c.authed = !s.authOn
	c.lastActive.Store(c.born.UnixNano())
	return c
}

// interrupt asks the client's goroutine or loop to finish: a read in progress returns at once, a
// WAIT in progress returns its current count. Safe from any goroutine.
func (c *client) interrupt() {
	if c.state.Load() == stateBlocked {
		c.cancel()
	}
	if c.loop != nil {
		c.loop.wake()
		return
	}
	c.conn.SetReadDeadline(time.Now())
}

// kill closes the connection under the client's goroutine or loop. Safe from any goroutine while
// holding s.mu with c still registered (so that an event loop's socket is still open).
func (c *client) kill() {
	c.cancel()
	if c.loop != nil {
		shutdownSocket(c.fd)
		return
	}
	c.conn.Close()
}

func (c *client) authRequired() bool { return !c.authed }

func (s *Server) serveClient(c *client) {
	ctx := c.ctx
	defer func() {
		c.cancel()
		c.conn.Close()
		s.removeClient(c)
	}()
	if s.shutting.Load() {
		return
	}
	c.state.Store(stateReading)
	for {
		n, err := c.conn.Read(c.in[c.w:])
		c.state.Store(stateRunning)
		if n > 0 {
			c.lastActive.Store(time.Now().UnixNano())
			c.w += n
			if c.process(ctx) != procOK {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
				s.cfg.Logger.Debug("resp: connection read failed", "client", c.addr, "err", err)
			}
			return
		}
		if s.shutting.Load() {
			return
		}
		if !c.makeRoom() {
			s.protoErrors.Add(1)
			s.cfg.Logger.Warn("resp: closing client over the request size limit",
				"client", c.addr, "limit", s.cfg.MaxRequestSize)
			return
		}
		c.state.Store(stateReading)
		if s.shutting.Load() { // Shutdown may have set the read deadline before we got here
			return
		}
	}
}

// Results of process.
const (
	procOK       = iota // all complete requests ran and their replies are written
	procClose           // the connection must close
	procBlocked         // replies wait for the socket to drain (event loops only)
	procDetached        // a WAIT went to a goroutine (event loops only)
)

// process runs every complete request in the input buffer and writes the replies out.
func (c *client) process(ctx context.Context) int {
	// The script gate is taken once for the whole batch of requests, not once per request; a
	// command that may block lets it go first (ungate).
	c.gated = c.s.gate.TryRLock()
	res := c.processBatch(ctx)
	c.ungate()
	return res
}

// ungate releases the script gate taken for the current batch, if held. A command calls it
// before it blocks on the connection's goroutine, so that a script never waits for it.
func (c *client) ungate() {
	if c.gated {
		c.gated = false
		c.s.gate.RUnlock()
	}
}

// getNowMs is the time a GET reads keys at and a SET writes at (unix ms, Backend.Now): read
// once for a run of them in one batch (processBatch clears it after any other command and at
// each batch), since reading the clock was 8 % of a node's CPU under pipelined GETs, 4 % of a
// writing node's under pipelined SETs. Redis reads its clock once per command loop iteration.
func (c *client) getNowMs() int64 {
	if c.nowMs == 0 {
		c.nowMs = c.s.b.Now().UnixMilli()
	}
	c.gotNow = true
	return c.nowMs
}

func (c *client) processBatch(ctx context.Context) int {
	c.nowMs = 0
	c.warmPipeline()
	for c.r < c.w {
		if c.outBlocked {
			return procBlocked
		}
		n, argv, ok := c.nextAhead()
		var need int
		var err error
		if !ok {
			n, argv, need, err = c.p.parse(c.in[c.r:c.w], c.authRequired())
		}
		if err != nil {
			c.s.protoErrors.Add(1)
			c.out = appendError(c.out, "ERR "+err.Error())
			c.flush()
			return procClose
		}
		if n == 0 {
			c.need = need
			break
		}
		c.r += n
		if len(argv) == 0 {
			continue
		}
		if c.reply == 0 {
			c.s.dispatch(ctx, c, argv)
		} else {
			c.dispatchQuiet(ctx, argv) // CLIENT REPLY OFF or SKIP was sent
		}
		if c.gotNow {
			c.gotNow = false // a GET or SET: the next one may use the same time
		} else {
			c.nowMs = 0 // anything else may take time: the next GET reads the clock
		}
		c.pending++
		if c.wait != nil {
			return procDetached
		}
		if c.closeAfterReply {
			c.flush()
			return procClose
		}
		if len(c.out) >= flushOutBuf || c.pending >= c.s.cfg.MaxPipeline {
			if !c.flush() {
				return procClose
			}
		}
	}
	if c.r == c.w {
		c.r, c.w, c.need = 0, 0, 0
	}
	if !c.flush() {
		return procClose
	}
	if c.outBlocked {
		return procBlocked
	}
	return procOK
}

// flush writes the buffered replies. It returns false if the connection failed. On an event
// loop the socket may take only part of them: then outBlocked is set and the rest waits.
func (c *client) flush() bool {
	if c.pending > 0 {
		c.cmds.Add(uint64(c.pending)) // counted per batch: one atomic add, not one per command
		if c.cur != nil {
			c.lastCmd.Store(c.cur)
		}
		c.pending = 0
	}
	if len(c.out) == c.wpos {
		return true
	}
	if c.loop != nil {
		c.lastActive.Store(c.loop.now.Load())
		n, err := writeSocket(c.fd, c.out[c.wpos:])
		c.wpos += n
		if err != nil {
			return false
		}
		if c.wpos < len(c.out) {
			c.outBlocked = true
			c.state.Store(stateWriting)
			return true
		}
		c.outBlocked = false
	} else {
		c.lastActive.Store(time.Now().UnixNano())
		c.state.Store(stateWriting)
		_, err := c.conn.Write(c.out)
		c.state.Store(stateRunning)
		if err != nil {
			return false
		}
	}
	c.wpos = 0
	if cap(c.out) > keepOutBuf {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return true
}

// makeRoom prepares the input buffer for the next read: it moves an incomplete request to the
// front and grows the buffer to what the request needs. It returns false if the request would
// exceed MaxRequestSize.
func (c *client) makeRoom() bool {
	if c.r == c.w {
		c.r, c.w = 0, 0
		if len(c.in) > shrinkInBuf {
			c.in = make([]byte, initialInBuf)
		}
		return true
	}
	if c.r > 0 {
		c.w = copy(c.in, c.in[c.r:c.w])
		c.r = 0
	}
	want := c.w + 1
	if c.need > want {
		want = c.need
	}
	if want <= len(c.in) {
		return true
	}
	if want > c.s.cfg.MaxRequestSize {
		return false
	}
	size := max(2*len(c.in), want)
	size = min(size, c.s.cfg.MaxRequestSize)
	in := make([]byte, size)
	copy(in, c.in[:c.w])
	c.in = in
	return true
}
