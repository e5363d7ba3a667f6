package testnet

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Relay tuning. A chunk is what one read returned; a direction holds at most queueChunks of them,
// so at most queueChunks*chunkSize bytes are in flight per direction. When the queue is full the
// relay stops reading and TCP flow control pushes back on the sender, as a full pipe would.
const (
	chunkSize   = 16 << 10
	queueChunks = 256
)

// chunk is a piece of the byte stream on its way through a delay queue.
type chunk struct {
	data  []byte
	due   time.Time
	end   bool // the sender closed its side: deliver a FIN (or a reset when reset is set)
	reset bool
}

// relayConn is one relayed TCP connection: the client side (the dialling node) and the server
// side (the target node), with a delay queue per direction.
type relayConn struct {
	src, dst string // node names: who dialled whom
	client   *net.TCPConn
	server   *net.TCPConn

	closeOnce sync.Once
	closed    chan struct{} // closed when the connection is torn down
}

func newRelayConn(src, dst string, client, server *net.TCPConn) *relayConn {
	return &relayConn{src: src, dst: dst, client: client, server: server, closed: make(chan struct{})}
}

// reset tears both sides down with a TCP reset, as a cut cable followed by a timeout would look
// to both ends, only sooner.
func (rc *relayConn) reset() {
	rc.closeOnce.Do(func() {
		close(rc.closed)
		resetConn(rc.client)
		resetConn(rc.server)
	})
}

// finish closes both sides normally once both directions have delivered their FIN.
func (rc *relayConn) finish() {
	rc.closeOnce.Do(func() {
		close(rc.closed)
		rc.client.Close()
		rc.server.Close()
	})
}

// resetConn closes c with a RST instead of a FIN.
func resetConn(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// run relays both directions and returns when both are done.
func (rc *relayConn) run(fwd, back *link) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rc.direction(fwd, rc.client, rc.server) }()
	go func() { defer wg.Done(); rc.direction(back, rc.server, rc.client) }()
	wg.Wait()
	rc.finish()
}

// direction carries bytes from src to dst through l's delay queue: a reader stamps each chunk
// with its release time, a writer sleeps until then and writes it. Both keep the stream's order.
func (rc *relayConn) direction(l *link, src, dst *net.TCPConn) {
	q := make(chan chunk, queueChunks)
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); rc.read(l, src, q) }()
	rc.write(l, dst, q)
	// The writer stops early only after a reset, which also ends the reader's Read.
	<-readerDone
}

func (rc *relayConn) read(l *link, src *net.TCPConn, q chan<- chunk) {
	defer close(q)
	var prev time.Time
	buf := make([]byte, chunkSize)
	for {
		n, err := src.Read(buf)
		now := time.Now()
		if n > 0 {
			c := chunk{data: append([]byte(nil), buf[:n]...), due: l.due(now, prev)}
			prev = c.due
			select {
			case q <- c:
			case <-rc.closed:
				return
			}
		}
		if err != nil {
			c := chunk{end: true, reset: !errors.Is(err, io.EOF), due: l.due(now, prev)}
			select {
			case q <- c:
			case <-rc.closed:
			}
			return
		}
	}
}

func (rc *relayConn) write(l *link, dst *net.TCPConn, q <-chan chunk) {
	timer := newPreciseTimer()
	defer timer.Close()
	for c := range q {
		// A writer still busy with earlier chunks at this one's due time was held up by the
		// receiver (TCP flow control: the node did not read) or by the machine; a writer that
		// had to sleep measures the emulator's own wake-up error.
		busy := time.Now().After(c.due)
		timer.sleepUntil(c.due)
		waited, ok := l.waitUnstalled(rc.closed)
		if !ok {
			return
		}
		switch {
		case waited:
			// Held data arrives one delay after the stall is lifted, like a retransmission.
			l.held.Add(1)
			timer.sleepUntil(time.Now().Add(time.Duration(l.delay.Load())))
		case busy:
			l.backlog.Add(time.Since(c.due))
		default:
			l.late.Add(time.Since(c.due))
		}
		if c.end {
			if c.reset {
				rc.reset()
				return
			}
			dst.CloseWrite()
			// Keep draining (nothing more will come) so the reader can exit.
			continue
		}
		if _, err := dst.Write(c.data); err != nil {
			rc.reset()
			return
		}
		l.bytes.Add(uint64(len(c.data)))
		l.chunks.Add(1)
	}
}
