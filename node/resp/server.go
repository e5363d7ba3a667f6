package resp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves the Redis protocol for a Backend. Create it with New, hand it listeners with
// Serve, stop it with Shutdown or Close.
type Server struct {
	b       Backend
	cfg     Config
	repl    Replicator    // nil if the backend does not replicate
	rt      ReadThrougher // nil if the backend cannot read through to other regions
	warm    Warmer        // nil if the backend cannot warm keys (warm.go)
	cluster Cluster       // nil if the backend has no cluster view
	tr      Transactor    // nil if the backend cannot run transactions
	passer  WritePasser   // nil if the backend does not defer work to the end of a pass
	scripts scriptCache
	funcs   functionLibs // FUNCTION LOAD's libraries (function.go)
	// busyTime is how long a script runs before others get BUSY, in nanoseconds:
	// Config.ScriptBusyTime, changed by CONFIG SET busy-reply-threshold (lua-time-limit).
	busyTime atomic.Int64
	// scriptMu lets one script run at a time; script is the one running, for the busy gate
	// and SCRIPT KILL.
	scriptMu sync.Mutex
	script   atomic.Pointer[scriptRun]
	// gate is held shared by every command while it runs and exclusively by a running script:
	// a command that cannot take it waits for the script without holding a store lock, so an
	// event loop never blocks behind a script.
	gate    sync.RWMutex
	persist Persister // nil if the backend does not save to disk
	// oom is mem's OutOfMemory as of the last CONFIG SET maxmemory (oom.go): dispatch loads it
	// for every command, a plain load rather than a call through an interface.
	oom     atomic.Bool
	mem     MemoryBounder // nil if the backend's memory bound is fixed
	memMu   sync.Mutex    // serialises CONFIG SET maxmemory
	cmds    map[string]*command
	authOn  bool
	started time.Time

	encoding encodingParams // CONFIG SET of encoding thresholds (cmd_config.go)
	bpops    blockedPops    // blocked BZPOP*/BZMPOP clients, in the order they blocked
	mon      monitorSet     // MONITOR's connections (monitor.go)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	clients   map[*client]struct{}
	closed    bool          // Close or Shutdown called
	stopSweep chan struct{} // closed by Close/Shutdown; stops the sweeper
	sweepOnce sync.Once

	shutting atomic.Bool
	connWG   sync.WaitGroup // clients not yet closed
	bgWG     sync.WaitGroup // the sweeper
	loopWG   sync.WaitGroup // event loops
	loops    []*loop        // set once, by the first Serve
	nextLoop atomic.Uint64

	nextID       atomic.Uint64
	connsTotal   atomic.Uint64
	rejected     atomic.Uint64
	closedCmds   atomic.Uint64 // commands processed by connections already closed
	protoErrors  atomic.Uint64
	connected    atomic.Int64
	blockedConns atomic.Int64
	tcpPort      atomic.Int64
}

// New returns a Server for b. It validates cfg (errors are prefixed "resp:") and never modifies
// it.
func New(b Backend, cfg Config) (*Server, error) {
	if b == nil {
		return nil, errors.New("resp: nil Backend")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		b:         b,
		cfg:       c,
		cmds:      commandTable(),
		authOn:    c.Password != "" || len(c.Users) > 0,
		started:   time.Now(),
		listeners: make(map[net.Listener]struct{}),
		clients:   make(map[*client]struct{}),
		stopSweep: make(chan struct{}),
	}
	s.busyTime.Store(int64(c.ScriptBusyTime))
	s.repl, _ = b.(Replicator)
	s.rt, _ = b.(ReadThrougher)
	s.warm, _ = b.(Warmer)
	s.cluster, _ = b.(Cluster)
	s.tr, _ = b.(Transactor)
	s.passer, _ = b.(WritePasser)
	if s.mem, _ = b.(MemoryBounder); s.mem != nil {
		s.oom.Store(s.mem.OutOfMemory())
	}
	if p, ok := b.(Persister); ok && p.PersistenceStats().Enabled {
		s.persist = p
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown or Close, serving each on its own goroutine,
// and then returns ErrServerClosed. With Config.TLS set, connections speak TLS. Serve may be
// called for several listeners. The listener is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		s.tcpPort.CompareAndSwap(0, int64(a.Port))
	}
	s.sweepOnce.Do(s.startBackground)
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: back off rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn("resp: accept failed; retrying", "err", err, "backoff", backoff)
				select {
				case <-time.After(backoff):
				case <-s.stopSweep:
				}
				continue
			}
			return err
		}
		backoff = 0
		s.accept(conn)
	}
}

// startBackground starts the sweeper and the event loops, unless the server is already closing:
// Serve may run it while Shutdown waits on the wait groups, and an Add racing that Wait is
// a data race (the race detector caught it in cmd/geocache's tests). Both happen under s.mu.
func (s *Server) startBackground() {
	var loops []*loop
	if loopsSupported && s.cfg.EventLoops > 0 && s.cfg.TLS == nil {
		for range s.cfg.EventLoops {
			l, err := newLoop(s)
			if err != nil {
				s.cfg.Logger.Warn("resp: no event loops; serving each connection on its own goroutine", "err", err)
				for _, l := range loops {
					l.release()
				}
				loops = nil
				break
			}
			loops = append(loops, l)
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		for _, l := range loops {
			l.release()
		}
		return
	}
	s.loops = loops
	s.bgWG.Add(1)
	s.loopWG.Add(len(loops))
	s.mu.Unlock()
	go s.sweeper()
	for _, l := range loops {
		go l.run()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// rejectMsg is what Redis writes to a connection over maxclients.
const rejectMsg = "-ERR max number of clients reached\r\n"

func (s *Server) accept(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	addr, laddr := conn.RemoteAddr().String(), conn.LocalAddr().String()
	s.mu.Lock()
	loops := s.loops
	s.mu.Unlock()
	fd := -1
	if len(loops) > 0 {
		fd = takeConn(conn) // closes conn when it succeeds
	}
	s.mu.Lock()
	if s.closed || len(s.clients) >= s.cfg.MaxClients {
		closed := s.closed
		s.mu.Unlock()
		if !closed {
			s.rejected.Add(1)
			// Best effort, as in Redis: the client may not read it.
			if fd >= 0 {
				writeSocket(fd, []byte(rejectMsg))
			} else {
				conn.SetWriteDeadline(time.Now().Add(time.Second))
				conn.Write([]byte(rejectMsg))
			}
		}
		if fd >= 0 {
			closeSocket(fd)
		} else {
			conn.Close()
		}
		return
	}
	c := newClient(s, conn, addr, laddr)
	if fd >= 0 {
		c.conn, c.fd = nil, fd
		c.loop = loops[s.nextLoop.Add(1)%uint64(len(loops))]
		if s.passer != nil {
			// The loop's passes pace this connection's writes (node.BeginWrites): the node
			// must not make them wait again, inside a pass.
			c.ctx = s.passer.WithinWritePass(c.ctx)
		}
	}
	s.clients[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	s.connsTotal.Add(1)
	s.connected.Add(1)
	if c.loop != nil {
		c.loop.enqueue(c)
	} else {
		go s.serveClient(c)
	}
}

// Shutdown stops the server gracefully: it stops accepting, lets every connection finish the
// requests it has received, writes their replies, and closes the connections. WAIT calls in
// progress return at once with the acknowledgements they have. If ctx ends first, the
// remaining connections are closed and ctx.Err() is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	s.mu.Lock()
	for c := range s.clients {
		c.interrupt()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.wakeLoops()
		s.loopWG.Wait()
		s.bgWG.Wait()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes every listener and connection at once and waits for the server's goroutines.
// It is idempotent.
func (s *Server) Close() error {
	s.beginClose()
	s.mu.Lock()
	for c := range s.clients {
		c.kill()
	}
	s.mu.Unlock()
	s.wakeLoops()
	s.connWG.Wait()
	s.wakeLoops()
	s.loopWG.Wait()
	s.bgWG.Wait()
	return nil
}

// wakeLoops makes every event loop look at the server's state.
func (s *Server) wakeLoops() {
	s.mu.Lock()
	loops := s.loops
	s.mu.Unlock()
	for _, l := range loops {
		l.wake()
	}
}

// beginClose marks the server closed, closes its listeners and stops the sweeper.
func (s *Server) beginClose() {
	s.shutting.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	close(s.stopSweep)
}

func (s *Server) removeClient(c *client) {
	s.stopMonitor(c)
	s.mu.Lock()
	killed := c.killed // CLIENT KILL counted it out already
	delete(s.clients, c)
	s.mu.Unlock()
	s.closedCmds.Add(c.cmds.Load())
	if !killed {
		s.connected.Add(-1)
	}
	s.connWG.Done()
	if s.shutting.Load() {
		s.wakeLoops() // a loop may be waiting for the last connection to go
	}
}

// sweeper closes idle connections and connections stuck writing to a client that does not read.
// Doing this from one goroutine keeps deadline updates off the per-request path.
func (s *Server) sweeper() {
	defer s.bgWG.Done()
	period := 250 * time.Millisecond
	for _, d := range []time.Duration{s.cfg.IdleTimeout, s.cfg.WriteTimeout} {
		if d > 0 && d/4 < period {
			period = max(d/4, 10*time.Millisecond)
		}
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case now := <-t.C:
			s.sweep(now)
		}
	}
}

// sweep closes connections idle or stuck for too long. Activity is stamped with the wall clock
// per read event (a vDSO call, ~20 ns beside a ~1 µs read); an earlier coarse clock kept by
// this goroutine could lag by a whole late tick on a loaded machine and closed connections
// before their timeout (TestIdleTimeout).
func (s *Server) sweep(now time.Time) {
	nowNs := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		since := time.Duration(nowNs - c.lastActive.Load())
		switch c.state.Load() {
		case stateReading:
			// Monitors only read, and Redis exempts them (as replicas) from its timeout.
			if s.cfg.IdleTimeout > 0 && since > s.cfg.IdleTimeout && !c.monitoring.Load() {
				c.kill()
			}
		case stateWriting:
			if s.cfg.WriteTimeout > 0 && since > s.cfg.WriteTimeout {
				c.kill()
			}
		}
	}
}

// Stats are counters of a Server, for metrics.
type Stats struct {
	ConnectionsTotal    uint64 // connections accepted
	ConnectionsRejected uint64 // connections refused at MaxClients
	Connected           int64  // open connections
	Blocked             int64  // connections blocked in WAIT
	Commands            uint64 // commands processed
	ProtocolErrors      uint64 // connections closed for malformed input or oversized requests
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		ConnectionsTotal:    s.connsTotal.Load(),
		ConnectionsRejected: s.rejected.Load(),
		Connected:           s.connected.Load(),
		Blocked:             s.blockedConns.Load(),
		Commands:            s.closedCmds.Load(),
		ProtocolErrors:      s.protoErrors.Load(),
	}
	s.mu.Lock()
	for c := range s.clients {
		st.Commands += c.cmds.Load()
	}
	s.mu.Unlock()
	return st
}
