package resp

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// An event loop serves many plain TCP connections from one goroutine with epoll, as Redis does:
// per batch of requests one read and one write, with no goroutine wake-up and no read that
// only finds the socket empty (which Go's netpoller needs before it can park a goroutine). It
// owns its connections' sockets and buffers; other goroutines reach a connection only through
// the loop (wake, the incoming queue) or through shutdownSocket while holding Server.mu.

const loopsSupported = true

type loop struct {
	s     *Server
	epfd  int
	wakeR int // read end of the wake-up pipe, registered with epoll
	wakeW int
	conns []*client // by socket number; touched by the loop goroutine only
	waits int       // connections handed to a goroutine for WAIT
	// mu guards queue and released. wake writes to wakeW under it and release closes the
	// descriptors under it, so that no wake-up outlives the pipe.
	mu       sync.Mutex
	queue    []*client // new connections and connections back from WAIT
	released bool      // the descriptors are closed: their numbers may be anyone's now
	events   []syscall.EpollEvent
	// now is the time of the current pass (unix ns), read once after epoll_wait returns and
	// used as the connections' lastActive (which only the idle and write timeouts read, in
	// whole seconds): one clock reading per pass, not two per connection. Atomic because a
	// connection handed to a goroutine (WAIT, a read-through) flushes from there.
	now atomic.Int64
	// yielded is when the loop last yielded its processor (runtime.Gosched), unix ns.
	yielded int64
	// spin is whether the next wait polls before it blocks: the last blocking wait was
	// shorter than spinFor (Config.LoopSpin, 0 if negative). Touched by the loop goroutine only.
	spin    bool
	spinFor time.Duration
	started time.Time // the origin of clock
	spun    int       // waits a spin answered, for tests
}

// yieldEvery is how often a busy loop yields its processor. A goroutine that the runtime has
// not rescheduled for 10 ms is preempted by the scheduler monitor (a signal, and its processor
// handed off if it is in a system call), which then polls every 20 µs for a millisecond and
// more: under a steady read load, where nothing else makes the loop yield, that was some 2,000
// wake-ups of the monitor a second and ~1 µs of CPU per request at -P 1. Yielding first keeps
// the monitor asleep.
const yieldEvery = 5 * time.Millisecond

func newLoop(s *Server) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	l := &loop{s: s, epfd: epfd, wakeR: p[0], wakeW: p[1], events: make([]syscall.EpollEvent, 256)}
	l.spinFor = max(s.cfg.LoopSpin, 0)
	l.started = time.Now()
	if err := l.ctl(syscall.EPOLL_CTL_ADD, l.wakeR, syscall.EPOLLIN); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// release closes the loop's descriptors, once.
func (l *loop) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	syscall.Close(l.epfd)
	syscall.Close(l.wakeR)
	syscall.Close(l.wakeW)
}

func (l *loop) ctl(op, fd int, events uint32) error {
	return syscall.EpollCtl(l.epfd, op, fd, &syscall.EpollEvent{Events: events, Fd: int32(fd)})
}

// wake makes the loop look at its queue and at the server's state. Safe from any goroutine,
// also after the loop has stopped: Close and removeClient wake every loop of the server while
// the loops are leaving, and a write to a released wakeW wrote a NUL byte to whatever had
// reused its number, such as another server's connection (TestWakeAfterReleaseWritesNothing).
func (l *loop) wake() {
	l.mu.Lock()
	l.wakeLocked()
	l.mu.Unlock()
}

// wakeLocked is wake with l.mu held.
func (l *loop) wakeLocked() {
	if l.released {
		return // nothing left to wake
	}
	var b [1]byte
	syscall.Write(l.wakeW, b[:]) // non-blocking; a full pipe already means "wake up"
}

// enqueue hands a connection to the loop.
func (l *loop) enqueue(c *client) {
	l.mu.Lock()
	l.queue = append(l.queue, c)
	l.wakeLocked()
	l.mu.Unlock()
}

// takeConn turns an accepted TCP connection into a socket the loop owns, closing conn. It
// returns -1 if that is not possible (the caller then serves conn on a goroutine).
func takeConn(conn net.Conn) int {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return -1
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	rc.Control(func(s uintptr) {
		if nfd, err := syscall.Dup(int(s)); err == nil {
			fd = nfd
		}
	})
	if fd < 0 {
		return -1
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1
	}
	conn.Close() // the duplicate keeps the connection open
	return fd
}

func shutdownSocket(fd int) { syscall.Shutdown(fd, syscall.SHUT_RDWR) }

func closeSocket(fd int) { syscall.Close(fd) }

// writeSocket writes without blocking; it returns how much the socket took. A full socket is
// not an error.
func writeSocket(fd int, b []byte) (int, error) {
	total := 0
	for total < len(b) {
		n, err := rawWrite(fd, b[total:])
		if n > 0 {
			total += n
		}
		switch {
		case err == nil:
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			return total, nil
		default:
			return total, err
		}
	}
	return total, nil
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket without telling the
// Go scheduler about a system call (syscall.RawSyscall): they never block, and the entry and
// exit bookkeeping of syscall.Read and Write was a few percent of the loop's CPU at -P 1, where
// every request costs one of each.
func rawRead(fd int, b []byte) (int, error)  { return rawIO(syscall.SYS_READ, fd, b) }
func rawWrite(fd int, b []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, b) }

// rawIO is the system call trap (read or write) on fd and b without the scheduler's bookkeeping.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// run serves until the server stops and every connection of the loop is closed.
func (l *loop) run() {
	defer l.s.loopWG.Done()
	defer l.release()
	for {
		n, err := l.poll()
		if err != nil && !errors.Is(err, syscall.EINTR) {
			l.s.cfg.Logger.Error("resp: epoll failed; closing the loop's connections", "err", err)
			for _, c := range l.conns {
				if c != nil {
					l.close(c)
				}
			}
			return
		}
		now := time.Now().UnixNano()
		l.now.Store(now)
		// One write pass per wake-up: the writes of every ready connection are replicated
		// together when the pass ends, not one wake-up of the replication goroutine each.
		if l.s.passer != nil {
			l.s.passer.BeginWrites()
		}
		for i := 0; i < n; i++ {
			ev := l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakeR {
				l.drainWake()
				continue
			}
			if fd >= len(l.conns) || l.conns[fd] == nil {
				continue
			}
			c := l.conns[fd]
			if c.outBlocked && ev.Events&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
				if !c.flush() {
					l.close(c)
					continue
				}
				if c.outBlocked {
					continue
				}
				l.ctl(syscall.EPOLL_CTL_MOD, fd, syscall.EPOLLIN|syscall.EPOLLRDHUP)
				c.state.Store(stateReading)
				// Requests that arrived while the replies were stuck are waiting in the buffer.
				if !l.after(c, c.process(c.ctx)) {
					continue
				}
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 && !c.outBlocked {
				l.readable(c)
			}
		}
		if l.s.passer != nil && l.s.passer.EndWrites() {
			// The goroutines the pass's writes woke (the members' stream writers) were put on
			// this goroutine's processor. Blocked in epoll_wait, it keeps them there until
			// another thread steals them or the runtime takes the processor back (the
			// scheduler monitor sleeps up to 10 ms when idle): let them run first.
			runtime.Gosched()
			l.yielded = now
		} else if now-l.yielded >= int64(yieldEvery) {
			runtime.Gosched()
			l.yielded = now
		}
		if l.s.shutting.Load() && l.stopping() {
			return
		}
	}
}

// poll waits for the next events. If the loop's last wait was shorter than spinFor, it
// first polls without blocking for up to spinFor, yielding the CPU between polls, and sleeps
// in epoll_wait only if nothing arrives meanwhile.
//
// Why: under a steady load a loop that serves its ready connections faster than the clients
// send finds nothing ready and sleeps once per few requests, and each sleep makes the next
// client write wake it (a cross-CPU wake-up the client pays for, and which the kernel likes
// to place on the writer's own CPU). Staying awake across such short gaps costs at most
// spinFor per gap; a sched_yield between polls gives the CPU to any other runnable thread.
// The spin starts only after a short wait, so an idle or lightly loaded loop never spins.
func (l *loop) poll() (int, error) {
	if l.spin {
		deadline := l.clock() + int64(l.spinFor)
		for {
			n, err := rawEpollWait(l.epfd, l.events)
			if n > 0 || (err != nil && !errors.Is(err, syscall.EINTR)) {
				l.spun++
				return n, err
			}
			if l.clock() >= deadline {
				break
			}
			syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
	if l.spinFor == 0 {
		return syscall.EpollWait(l.epfd, l.events, -1)
	}
	start := l.clock()
	n, err := syscall.EpollWait(l.epfd, l.events, -1)
	l.spin = l.clock()-start < int64(l.spinFor)
	return n, err
}

// rawEpollWait is epoll_pwait with a zero timeout (it never blocks) without telling the
// scheduler about a system call, as rawIO.
func rawEpollWait(epfd int, events []syscall.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// clock is the monotonic time since the loop started, in nanoseconds.
func (l *loop) clock() int64 { return int64(time.Since(l.started)) }

func (l *loop) drainWake() {
	var b [64]byte
	for {
		if n, _ := syscall.Read(l.wakeR, b[:]); n < len(b) {
			break
		}
	}
	l.mu.Lock()
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	for _, c := range q {
		if c.wait != nil { // back from WAIT with its reply
			c.wait = nil
			l.waits--
		}
		l.add(c)
		if err := l.ctl(syscall.EPOLL_CTL_ADD, c.fd, syscall.EPOLLIN|syscall.EPOLLRDHUP); err != nil {
			l.close(c)
			continue
		}
		c.state.Store(stateRunning)
		l.after(c, c.process(c.ctx))
	}
}

// readable reads what the socket has and runs the requests.
func (l *loop) readable(c *client) {
	n, err := rawRead(c.fd, c.in[c.w:])
	if n > 0 {
		c.lastActive.Store(l.now.Load())
		c.w += n
		c.state.Store(stateRunning)
		if !l.after(c, c.process(c.ctx)) {
			return
		}
	}
	switch {
	case n == 0 && err == nil: // EOF
		l.close(c)
	case err == nil:
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
	default:
		l.close(c)
	}
}

// after acts on the result of process. It returns false if the connection is no longer the
// loop's to serve (closed, waiting for the socket, or in WAIT).
func (l *loop) after(c *client, res int) bool {
	switch res {
	case procClose:
		l.close(c)
		return false
	case procBlocked:
		l.ctl(syscall.EPOLL_CTL_MOD, c.fd, syscall.EPOLLOUT)
		return false
	case procDetached:
		l.ctl(syscall.EPOLL_CTL_DEL, c.fd, 0)
		l.remove(c)
		l.waits++
		req := c.wait
		go func() {
			l.s.runWait(c.ctx, c, req)
			if c.loop != l {
				return // MONITOR took the connection off the loop for good (monitor.go)
			}
			l.enqueue(c)
		}()
		return false
	}
	if l.s.shutting.Load() {
		l.close(c)
		return false
	}
	if !c.makeRoom() {
		l.s.protoErrors.Add(1)
		l.s.cfg.Logger.Warn("resp: closing client over the request size limit",
			"client", c.addr, "limit", l.s.cfg.MaxRequestSize)
		l.close(c)
		return false
	}
	c.state.Store(stateReading)
	return true
}

func (l *loop) add(c *client) {
	for c.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*client, max(len(l.conns), 64))...)
	}
	l.conns[c.fd] = c
}

func (l *loop) remove(c *client) {
	if c.fd < len(l.conns) && l.conns[c.fd] == c {
		l.conns[c.fd] = nil
	}
}

func (l *loop) close(c *client) {
	l.remove(c)
	c.cancel()
	// Unregister before closing the socket so that kill, which runs under s.mu, never
	// shuts down a reused descriptor.
	l.s.removeClient(c)
	syscall.Close(c.fd)
}

// stopping closes the connections that have nothing left to write during a shutdown and
// reports whether the loop is done: no connection of the server is left, so none can still be
// handed to this loop.
func (l *loop) stopping() bool {
	for _, c := range l.conns {
		if c != nil && !c.outBlocked {
			l.close(c)
		}
	}
	l.s.mu.Lock()
	left := len(l.s.clients)
	l.s.mu.Unlock()
	return left == 0
}
