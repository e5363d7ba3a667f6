package resp

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MONITOR streams every command the server runs to the connections that asked, one line each,
// as Redis 7.0's replicationFeedMonitors formats it:
//
//	+1700000000.123456 [0 127.0.0.1:50000] "set" "foo" "bar"
//
// A command is fed after it ran (commands queued by MULTI when EXEC runs them, between the
// "multi" and "exec" lines), except that EVAL, EVALSHA and FCALL feed themselves before the
// commands their script calls, which show "lua" as their source. Commands Redis flags admin or
// skip_monitor (CONFIG, CLIENT KILL, CLIENT LIST, MONITOR itself, ...) are not fed, nor commands
// rejected before they ran (unknown, wrong arity, NOAUTH), and passwords of AUTH and
// HELLO ... AUTH are shown as "(redacted)".
//
// Cost when nobody monitors: dispatch loads one atomic counter per command (monitorSet.n) and
// branches on it; nothing else runs and nothing is allocated.
//
// A monitoring connection leaves its event loop for a goroutine of its own (net.Conn writes
// may then come from two goroutines: its replies and the feed), and a second goroutine writes
// the feed. Feeders append to the monitor's buffer under its mutex and never block: a monitor
// that falls more than monitorMaxPending bytes behind is disconnected, as Redis disconnects a
// client over its output buffer limit (Redis's default limit for normal clients, the class
// MONITOR belongs to, is none; geocache bounds it like Redis's pubsub class, 32 MiB).

// monitorMaxPending is how many bytes of feed may wait for a slow monitor before it is
// disconnected.
const monitorMaxPending = 32 << 20

// monitorSet is the server's monitoring connections.
type monitorSet struct {
	n       atomic.Int32 // len(list): the one load dispatch pays when nobody monitors
	mu      sync.Mutex
	list    []*monitorSink
	dropped atomic.Uint64 // monitors disconnected for falling behind
	limit   int           // monitorMaxPending; tests lower it
}

// monitorSink is the feed of one monitoring connection.
type monitorSink struct {
	c       *client
	mu      sync.Mutex
	buf     []byte // feed not yet handed to the writer
	overrun bool   // buf reached monitorMaxPending: the connection is being closed
	wake    chan struct{}
	done    chan struct{} // closed when the connection's reader stops
}

// cmdMonitor serves MONITOR. The +OK is the first thing the feed writer writes, after the
// replies buffered before it, so that no feed line precedes it.
func cmdMonitor(_ context.Context, s *Server, c *client, _ [][]byte) {
	if c.tx != nil {
		// Redis refuses MONITOR in EXEC (its clients there deny blocking).
		c.out = appendError(c.out, "ERR MONITOR isn't allowed for DENY BLOCKING client")
		return
	}
	if c.monitoring.Load() {
		return // already monitoring: Redis ignores it, without a reply
	}
	ok := c.reply&(replyOff|replySkip) == 0
	if c.loop != nil {
		// The loop hands the connection to a goroutine, as for WAIT, and it stays there.
		c.wait = &waitRequest{run: func(context.Context) { s.monitorOffLoop(c, ok) }}
		return
	}
	if !c.flush() {
		c.closeAfterReply = true
		return
	}
	s.startMonitor(c, ok)
}

// monitorOffLoop takes a connection an event loop handed over (cmdMonitor) off the loop for
// good: its socket becomes a net.Conn served by this goroutine until it closes.
func (s *Server) monitorOffLoop(c *client, ok bool) {
	c.wait = nil // the loop's hand-over request, done with here
	s.mu.Lock()
	f := os.NewFile(uintptr(c.fd), "monitor")
	conn, err := net.FileConn(f) // a duplicate of the socket, in Go's netpoller
	f.Close()
	// Switched under s.mu: kill reads these to close the connection.
	c.fd, c.loop = -1, nil
	if err == nil {
		c.conn = conn
		// The loop's write passes no longer pace this connection's writes.
		old := c.cancel
		c.ctx, c.cancel = context.WithCancel(context.Background())
		old()
	}
	s.mu.Unlock()
	if err != nil {
		s.cfg.Logger.Warn("resp: closing a MONITOR connection that could not leave its event loop", "client", c.addr, "err", err)
		c.cancel()
		s.removeClient(c)
		return
	}
	// The replies before MONITOR's (flush also counts the batch, as the loop would have).
	c.out, c.wpos, c.outBlocked = c.out[c.wpos:], 0, false
	if !c.flush() {
		conn.Close()
		s.removeClient(c)
		return
	}
	s.startMonitor(c, ok)
	if c.r < c.w { // requests pipelined after MONITOR
		if c.process(c.ctx) != procOK {
			c.closeAfterReply = true
		}
	}
	if c.closeAfterReply || !c.makeRoom() {
		c.cancel()
		conn.Close()
		s.removeClient(c)
		return
	}
	s.serveClient(c)
}

// startMonitor registers c's feed and starts its writer; ok says whether the feed starts with
// MONITOR's +OK (not under CLIENT REPLY OFF or SKIP).
func (s *Server) startMonitor(c *client, ok bool) {
	m := &monitorSink{c: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if ok {
		m.buf = append(m.buf, "+OK\r\n"...)
		m.wake <- struct{}{}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.connWG.Add(1) // the writer, waited for as a connection
	s.mu.Unlock()
	c.monitoring.Store(true)
	c.mon = m
	s.mon.mu.Lock()
	s.mon.list = append(s.mon.list, m)
	s.mon.n.Store(int32(len(s.mon.list)))
	s.mon.mu.Unlock()
	go s.writeMonitor(m)
}

// stopMonitor ends c's feed (RESET, or the connection closing).
func (s *Server) stopMonitor(c *client) {
	m := c.mon
	if m == nil {
		return
	}
	c.mon = nil
	c.monitoring.Store(false)
	s.mon.mu.Lock()
	for i, o := range s.mon.list {
		if o == m {
			s.mon.list = append(s.mon.list[:i], s.mon.list[i+1:]...)
			break
		}
	}
	s.mon.n.Store(int32(len(s.mon.list)))
	s.mon.mu.Unlock()
	close(m.done)
}

// writeMonitor writes m's feed to its connection until the connection's reader stops or the
// feed overruns.
func (s *Server) writeMonitor(m *monitorSink) {
	defer s.connWG.Done()
	var spare []byte // two buffers take turns: feeders fill one while the other is written
	for {
		select {
		case <-m.wake:
		case <-m.done:
			return
		}
		m.mu.Lock()
		b, overrun := m.buf, m.overrun
		m.buf = spare[:0]
		m.mu.Unlock()
		if overrun {
			return // the feeder closed the connection
		}
		if len(b) > 0 {
			if _, err := m.c.conn.Write(b); err != nil {
				return
			}
		}
		spare = b
		if cap(b) > keepOutBuf {
			spare = nil
		}
	}
}

// feedMonitors sends a command that ran to every monitor. src is the client's address, or
// "lua" for a script's commands. Callers check s.mon.n first.
func (s *Server) feedMonitors(src string, cmd *command, argv [][]byte) {
	now := time.Now()
	line := make([]byte, 0, 64+len(src)+8*len(argv))
	line = append(line, '+')
	line = strconv.AppendInt(line, now.Unix(), 10)
	line = append(line, '.')
	us := now.Nanosecond() / 1000
	for d := 100000; d > 1 && us < d; d /= 10 {
		line = append(line, '0')
	}
	line = strconv.AppendInt(line, int64(us), 10)
	line = append(line, " [0 "...)
	line = append(line, src...)
	line = append(line, "] "...)
	redacted := redactedArgs(cmd, argv)
	for i, a := range argv {
		if i > 0 {
			line = append(line, ' ')
		}
		if redacted != nil && redacted(i) {
			line = append(line, `"(redacted)"`...)
		} else {
			line = appendRepr(line, a)
		}
	}
	line = append(line, '\r', '\n')

	s.mon.mu.Lock()
	for _, m := range s.mon.list {
		m.feed(s, line)
	}
	s.mon.mu.Unlock()
}

// feed queues line for m's writer, or closes m's connection if it has fallen too far behind.
func (m *monitorSink) feed(s *Server, line []byte) {
	m.mu.Lock()
	if m.overrun {
		m.mu.Unlock()
		return
	}
	limit := s.mon.limit
	if limit == 0 {
		limit = monitorMaxPending
	}
	if len(m.buf)+len(line) > limit {
		m.overrun = true
		m.buf = nil
		m.mu.Unlock()
		s.mon.dropped.Add(1)
		s.cfg.Logger.Warn("resp: closing a MONITOR connection over its output limit",
			"client", m.c.addr, "limit", limit)
		m.c.conn.Close() // also ends a write in progress; the reader then stops
		select {
		case m.wake <- struct{}{}:
		default:
		}
		return
	}
	m.buf = append(m.buf, line...)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// redactedArgs says which arguments Redis replaces by "(redacted)" (redactClientCommandArgument):
// AUTH's (in its one- and two-argument forms), those after HELLO's AUTH and MIGRATE's AUTH and
// AUTH2, as far as Redis parses the options before it meets an error. nil: none.
func redactedArgs(cmd *command, argv [][]byte) func(int) bool {
	if cmd == nil {
		return nil
	}
	var red []int
	in := func(i int) bool {
		for _, r := range red {
			if r == i {
				return true
			}
		}
		return false
	}
	switch cmd.name {
	case "migrate":
	migrate:
		for j := 6; j < len(argv); j++ {
			more := len(argv) - 1 - j
			switch {
			case equalFold(argv[j], "copy"), equalFold(argv[j], "replace"):
			case equalFold(argv[j], "auth") && more >= 1:
				red = append(red, j+1)
				j++
			case equalFold(argv[j], "auth2") && more >= 2:
				red = append(red, j+1, j+2)
				j += 2
			default: // KEYS (the rest are keys) or an error
				break migrate
			}
		}
		return in
	case "auth":
		if len(argv) > 3 {
			return nil // a syntax error, before Redis redacts
		}
		return func(i int) bool { return i >= 1 }
	case "hello":
		if len(argv) < 2 {
			break
		}
		if v, ok := string2ll(argv[1]); !ok || v < 2 || v > 3 {
			break // refused before the options are read
		}
	opts:
		for j := 2; j < len(argv); j++ {
			more := len(argv) - 1 - j
			switch {
			case equalFold(argv[j], "auth") && more >= 2:
				red = append(red, j+1, j+2)
				j += 2
			case equalFold(argv[j], "setname") && more >= 1:
				j++
			default:
				break opts
			}
		}
		return in
	}
	return nil
}

// appendRepr appends a quoted as Redis's sdscatrepr does.
func appendRepr(b, a []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range a {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 0x20 && ch < 0x7f { // isprint in the C locale
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(b, '"')
}
