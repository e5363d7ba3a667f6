package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The send half of a data link (direct.go). A message is written to the member's stream by
// the publisher itself when nothing is being written to that stream: a stream write only
// copies the frame into yamux's send queue, so the publisher (an event loop, at the end of its
// pass) pays no more than a goroutine hand-off would cost it, and the wake-up of the link's
// writer goroutine, one of the hops whose tails added up in the replication lag, is gone. The
// writer goroutine takes over when a write is under way (a publisher queues behind it, in
// order), when no stream is open, and when a publisher's write did not finish quickly: a yamux
// stream write blocks when the member's receive window is used up or the connection's send
// queue is full, so a publisher writes under a short deadline (directInlineTimeout) and leaves
// what it could not write to the writer, which finishes it under the long one.

// directInlineTimeout bounds a publisher's own write to a member's stream; the writer goroutine
// finishes a write that takes longer.
const directInlineTimeout = time.Millisecond

// dataStream is what a member link writes to: a libp2p stream, or a fake in tests.
type dataStream interface {
	Write(b []byte) (int, error)
	SetWriteDeadline(t time.Time) error
	Reset() error
}

// directMsg is one published message, shared read-only by the queues of every member it was
// queued for. The last writer to copy it into its stream's buffer returns it to the pool: a
// write flood otherwise allocated a copy of every batch (half of a writer's allocations).
type directMsg struct {
	b    []byte
	refs atomic.Int32 // queues still holding it
}

// memberLink is the outbound half of the data link to one connected member: the stream, the
// bounded queue of messages waiting for it and the writer goroutine (run).
type memberLink struct {
	id       peer.ID
	queueCap int
	// open opens a data stream to the member; it may block up to the dial timeout.
	open func(ctx context.Context) (dataStream, error)
	// release drops a queue's reference to a message; dropped counts lost messages.
	release func(m *directMsg)
	dropped func(n int)
	log     *slog.Logger

	done   chan struct{} // closed when the member disconnects
	kick   chan struct{} // wakes the writer goroutine
	isOpen atomic.Bool   // a stream is open (hasDataStream)

	mu sync.Mutex
	// busy says someone (the writer goroutine or a publisher) is writing to s: what arrives
	// meanwhile waits in q. The holder of busy owns out, outMsgs and dl.
	busy    bool
	q       []*directMsg
	s       dataStream // nil while no stream is open; changed by the writer goroutine, under mu
	broken  bool       // a publisher's write failed: the writer resets s
	stopped bool       // the writer goroutine has ended: nothing more is written

	out     []byte    // bytes not yet written to s (whole frames, or the rest of one)
	outMsgs int       // messages whose bytes are in out, to count as dropped if s fails
	dl      time.Time // s's write deadline
	spare   []*directMsg
}

func newMemberLink(id peer.ID, queueCap int, log *slog.Logger) *memberLink {
	return &memberLink{id: id, queueCap: queueCap, log: log,
		done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// tryWrite writes b to the stream at once if nothing else is being written to it and nothing
// waits, and reports whether it took b (a write that failed or did not finish in time still
// took it: the writer goroutine finishes or counts it). Otherwise the caller queues b.
func (l *memberLink) tryWrite(b []byte) bool {
	l.mu.Lock()
	if l.busy || l.s == nil || l.broken || l.stopped || len(l.q) > 0 || len(l.out) > 0 {
		l.mu.Unlock()
		return false
	}
	l.busy = true
	s := l.s
	l.mu.Unlock()
	if now := time.Now(); l.dl.Sub(now) < directInlineTimeout/2 || l.dl.Sub(now) > directInlineTimeout {
		// Reused while it is at least half of its span away: setting one costs a timer.
		l.dl = now.Add(directInlineTimeout)
		_ = s.SetWriteDeadline(l.dl)
	}
	l.out = appendFrame(l.out, b)
	l.outMsgs = 1
	n, err := s.Write(l.out)
	l.consumed(n)
	l.mu.Lock()
	l.busy = false
	if err != nil && !isTimeout(err) {
		l.broken = true
	}
	wake := len(l.q) > 0 || len(l.out) > 0 || l.broken
	l.mu.Unlock()
	if wake {
		l.wake()
	}
	return true
}

// enqueue queues m for the writer goroutine, taking a reference, and reports false (taking
// none) when the queue is full.
func (l *memberLink) enqueue(m *directMsg) bool {
	l.mu.Lock()
	if len(l.q) >= l.queueCap || l.stopped {
		l.mu.Unlock()
		return false
	}
	m.refs.Add(1)
	l.q = append(l.q, m)
	wake := !l.busy
	l.mu.Unlock()
	if wake {
		l.wake()
	}
	return true
}

func (l *memberLink) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// consumed drops the first n bytes of out, which were written; the messages count only once
// out is empty.
func (l *memberLink) consumed(n int) {
	l.out = l.out[:copy(l.out, l.out[n:])]
	if len(l.out) == 0 {
		l.outMsgs = 0
		if cap(l.out) > 4*directBuffer {
			l.out = nil // a large message's buffer is not kept
		}
	}
}

// run is the writer goroutine: it opens the stream, writes what publishers queued or left
// unfinished, and reopens the stream after a failure, until ctx ends or the member
// disconnects.
func (l *memberLink) run(ctx context.Context) {
	// Closing the cluster resets the stream, which ends a write under way at once.
	defer context.AfterFunc(ctx, l.stop)()
	defer l.stop()
	var lastOpen time.Time
	l.reopen(ctx, &lastOpen)
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.done:
			return
		case <-l.kick:
		}
		if !l.drain(ctx, &lastOpen) {
			return
		}
	}
}

// drain writes everything queued, and what a publisher left unwritten, unless a publisher
// is writing (it wakes the writer when done). It reports false when the link must stop.
func (l *memberLink) drain(ctx context.Context, lastOpen *time.Time) bool {
	l.mu.Lock()
	if l.busy {
		l.mu.Unlock()
		return true
	}
	l.busy = true
	for {
		if l.broken {
			l.dropStream()
		}
		if len(l.q) == 0 && len(l.out) == 0 {
			l.busy = false
			l.mu.Unlock()
			return true
		}
		q := l.q // double buffered: spare is the other half, nil while q is out
		l.q, l.spare = l.spare[:0], nil
		l.mu.Unlock()
		// No stream (it failed, or could not be opened yet): the messages wait while the
		// stream is reopened, at most every directRetry, and what queues behind them waits
		// in the queue (Publish drops and counts once that is full). Dropping here cost
		// every message sent in the second after a reconnect on a starved machine.
		s := l.stream()
		for s == nil {
			if wait := directRetry - time.Since(*lastOpen); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return false
				case <-l.done:
					t.Stop()
					return false
				case <-t.C:
				}
			}
			l.reopen(ctx, lastOpen)
			s = l.stream()
		}
		l.dl = time.Now().Add(directWriteTimeout)
		_ = s.SetWriteDeadline(l.dl)
		var err error
		i := 0
		for err == nil && (i < len(q) || len(l.out) > 0) {
			// Coalesce queued messages into writes of about directBuffer bytes.
			for ; i < len(q) && len(l.out) < directBuffer; i++ {
				l.out = appendFrame(l.out, q[i].b)
				l.outMsgs++
				l.release(q[i])
				q[i] = nil
			}
			var n int
			n, err = s.Write(l.out)
			l.consumed(n)
		}
		for ; i < len(q); i++ { // lost with the stream
			l.outMsgs++
			l.release(q[i])
			q[i] = nil
		}
		l.mu.Lock()
		l.spare = q[:0]
		if err != nil {
			// What the buffer held is lost with the stream: count it all as dropped.
			if ctx.Err() == nil {
				l.log.Debug("data stream write failed: reopening", "remote", l.id, "err", err)
			}
			l.dropStream()
		}
	}
}

func (l *memberLink) stream() dataStream {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s
}

// dropStream resets the stream and counts what was not written as dropped. Needs l.mu and busy.
func (l *memberLink) dropStream() {
	if l.outMsgs > 0 {
		l.dropped(l.outMsgs)
	}
	l.out, l.outMsgs = l.out[:0], 0
	l.broken = false
	if l.s != nil {
		_ = l.s.Reset()
		l.s = nil
		l.isOpen.Store(false)
	}
}

// reopen opens a stream, if it can, and records when it tried. Called by the holder of busy
// or before any publisher can see the link's stream.
func (l *memberLink) reopen(ctx context.Context, lastOpen *time.Time) {
	*lastOpen = time.Now()
	s, err := l.open(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Debug("open data stream", "remote", l.id, "err", err)
		}
		return
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		_ = s.Reset()
		return
	}
	l.s = s
	l.isOpen.Store(true)
	l.mu.Unlock()
}

// stop ends the link: no publisher writes to it any more and its stream is reset (a
// publisher's write under way fails). What was queued is lost (and collected).
func (l *memberLink) stop() {
	l.mu.Lock()
	l.stopped = true
	s := l.s
	l.s = nil
	l.isOpen.Store(false)
	l.q = nil
	l.mu.Unlock()
	if s != nil {
		_ = s.Reset()
	}
}

func appendFrame(dst, msg []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(msg)))
	return append(dst, msg...)
}

// isTimeout reports whether err is a write deadline passing (yamux's ErrTimeout,
// os.ErrDeadlineExceeded): the stream is still usable.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// streamOpener returns the open function of a link to p: a data stream on the connection
// already there (no dial), reset when the cluster closes.
func (c *Cluster) streamOpener(p peer.ID) func(ctx context.Context) (dataStream, error) {
	return func(ctx context.Context) (dataStream, error) {
		ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
		defer cancel()
		s, err := c.host.NewStream(network.WithNoDial(ctx, "data stream"), p, c.protocolID(dataProto))
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
