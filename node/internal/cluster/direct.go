package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Data messages (Publish, OnMessage) travel over one long-lived libp2p stream per connected
// member and direction, not over gossipsub. With NoRelay every member is sent each message by
// its publisher only, so gossipsub added nothing but cost: protobuf framing, a seen-IDs cache,
// a published-message cache and three goroutine hops between the caller and the socket on each
// side. A cluster node spent 10–18 % of its CPU there under a write flood, and the hops were
// most of the replication lag at low rates. The catalog still uses gossipsub.
//
// Frames are a uvarint length and the message. The stream's peer is the publisher: the
// connection it rides on was authenticated (TLS or Noise) and admitted by the gater, so no envelope
// is needed.

// dataProto is the direct data protocol, relative to the cluster namespace.
const dataProto = "data/1"

// directBuffer is the size of a data stream's read buffer.
const directBuffer = 64 << 10

// directWriteTimeout bounds one write to a member: a member that reads nothing for this long
// has its stream reset and reopened, and loses what was queued for it (anti-entropy repairs).
// The deadline is moved only once half of it has passed (writeDirect), so a write that blocks
// fails after half to all of this.
const directWriteTimeout = 10 * time.Second

// directRetry is the least time between two attempts to open a data stream to a member.
const directRetry = time.Second

// directChunk is the size of the buffers a data link queues frames in: each is handed to the
// stream in one write, which yamux sends as one message (at most 64 KiB with its 12-byte
// header). One growing buffer per link instead cost a writer 4× the CPU per message under a
// burst (BenchmarkGossipThroughput at 16 KiB): every take left the queue to regrow, copying,
// from empty to megabytes. Written chunks go back to a pool shared by the links.
const directChunk = 64<<10 - 64

// directQueueBytes bounds the frames a data link's queue holds, beside Config.OutboundQueue's
// count of messages (a message over it is still queued alone): with frames of up to ~32 KiB
// the count alone let a member's queue reach 16 MiB.
const directQueueBytes = 4 << 20

// directPeer is the outbound half of the data link to one connected member: the frames
// published for it and not yet taken by its writer, and the goroutine that writes them to the
// member's stream. Publish appends each message's frame (uvarint length, message) to the last
// of q's chunks, once per member; the writer takes all of q at once and writes it chunk by
// chunk, so whatever was published while the previous write was under way goes out together.
// There was a channel of shared message copies here, drained into a bufio.Writer: a copy of
// every batch more, and a channel operation per message and member.
type directPeer struct {
	id   peer.ID
	wake chan struct{} // (capacity 1) q went from empty to holding a message
	done chan struct{} // closed when the member disconnects
	open atomic.Bool   // a stream is open: messages queued now are written to it

	mu     sync.Mutex
	q      [][]byte   // chunks of frames waiting for the writer, in publish order
	bytes  int        // in q
	queued int        // messages in q
	max    int        // most messages q holds (Config.OutboundQueue; directQueueBytes); more are dropped
	pool   *sync.Pool // *[]byte: emptied chunks of directChunk capacity, shared by the links
	// room, made by a publisher that waits for room in the full queue, is closed by the
	// writer's next take. stalled is set when such a wait ran out (the member read nothing
	// for Config.PublishWait): publishers then drop at once until the next take.
	room    chan struct{}
	stalled bool
	// written counts the chunks the writer handed to the stream: a publisher waiting for room
	// goes on waiting while it moves. The writer takes the queue whole (up to 4 MiB), so a
	// member that reads steadily but slower than we write frees room only every few hundred
	// milliseconds, one chunk written after another.
	written atomic.Uint64
}

func newDirectPeer(p peer.ID, max int, pool *sync.Pool) *directPeer {
	return &directPeer{id: p, wake: make(chan struct{}, 1), done: make(chan struct{}), max: max, pool: pool}
}

// enqueue appends msg's frame to the queue and wakes the writer if it was empty. It reports
// false, changing nothing, when the queue already holds its most messages or bytes.
func (dp *directPeer) enqueue(msg []byte) bool {
	ok, _ := dp.enqueueOr(msg, false)
	return ok
}

// enqueueOr is enqueue that, when the queue is full, wait is set and the member is not
// stalled, also returns a channel closed when the writer next takes the queue.
func (dp *directPeer) enqueueOr(msg []byte, wait bool) (ok bool, room <-chan struct{}) {
	need := uvarintLen(uint64(len(msg))) + len(msg)
	dp.mu.Lock()
	if dp.queued >= dp.max || (dp.queued > 0 && dp.bytes+need > directQueueBytes) {
		if wait && !dp.stalled {
			if dp.room == nil {
				dp.room = make(chan struct{})
			}
			room = dp.room
		}
		dp.mu.Unlock()
		return false, room
	}
	last := len(dp.q) - 1
	if last < 0 || len(dp.q[last])+need > cap(dp.q[last]) {
		var c []byte
		if need > directChunk {
			c = make([]byte, 0, need) // alone in a chunk of its own, not pooled
		} else if p, _ := dp.pool.Get().(*[]byte); p != nil {
			c = (*p)[:0]
		} else {
			c = make([]byte, 0, directChunk)
		}
		dp.q = append(dp.q, c)
		last++
	}
	c := binary.AppendUvarint(dp.q[last], uint64(len(msg)))
	dp.q[last] = append(c, msg...)
	dp.bytes += need
	dp.queued++
	first := dp.queued == 1
	dp.mu.Unlock()
	if first {
		select {
		case dp.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return true, nil
}

// awaitRoom queues msg once the writer has taken the full queue whose room (enqueueOr) it
// got, waiting up to wait (Config.PublishWait) for a take, longer while the writer keeps
// writing chunks; a wait that runs out marks the member stalled.
func (dp *directPeer) awaitRoom(ctx context.Context, msg []byte, room <-chan struct{}, wait time.Duration) bool {
	var ok bool
	t := time.NewTimer(wait)
	defer t.Stop()
	moved := dp.written.Load()
	for room != nil {
		select {
		case <-room:
		case <-t.C:
			if w := dp.written.Load(); w != moved {
				moved = w // it reads, slowly: wait on
				t.Reset(wait)
				continue
			}
			dp.mu.Lock()
			dp.stalled = true
			dp.mu.Unlock()
			ok, _ = dp.enqueueOr(msg, false)
			return ok
		case <-dp.done:
			return false
		case <-ctx.Done():
			return false
		}
		ok, room = dp.enqueueOr(msg, true)
	}
	return ok
}

// take hands the writer every queued chunk, in publish order, and how many messages they hold,
// leaving spare (emptied) as the new list: the link's two lists alternate between the two.
func (dp *directPeer) take(spare [][]byte) ([][]byte, int) {
	dp.mu.Lock()
	q, n := dp.q, dp.queued
	dp.q, dp.bytes, dp.queued = spare[:0], 0, 0
	dp.stalled = false
	if dp.room != nil {
		close(dp.room)
		dp.room = nil
	}
	dp.mu.Unlock()
	return q, n
}

// recycle returns written chunks of the usual size to the pool (a burst's chunks are reused by
// the next, and collected once bursts stop) and clears q's references to them.
func (dp *directPeer) recycle(q [][]byte) {
	for i, c := range q {
		if cap(c) == directChunk {
			c = c[:0]
			dp.pool.Put(&c)
		}
		q[i] = nil
	}
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// directOut holds the outbound data links, one per connected member.
type directOut struct {
	mu    sync.RWMutex
	peers map[peer.ID]*directPeer
}

// onPeer (a notifier callback) starts the data link to a member that connected and stops it
// when the member disconnects.
func (c *Cluster) onDirectPeer(p peer.ID, up bool) {
	d := &c.direct
	d.mu.Lock()
	old := d.peers[p]
	delete(d.peers, p)
	var dp *directPeer
	if up {
		dp = newDirectPeer(p, c.cfg.OutboundQueue, &c.chunkPool)
		if d.peers == nil {
			d.peers = map[peer.ID]*directPeer{}
		}
		d.peers[p] = dp
	}
	d.mu.Unlock()
	if old != nil {
		close(old.done)
	}
	if dp != nil && !c.goFn(func() { c.writeDirect(dp) }) {
		d.mu.Lock()
		if d.peers[p] == dp {
			delete(d.peers, p)
		}
		d.mu.Unlock()
	}
}

// Publish sends data to every connected member and returns once it is queued. Delivery is best
// effort: a member that is disconnected, or whose queue stayed full for Config.PublishWait
// (Stats.DroppedOutbound), misses it, and anti-entropy must repair that. Publish copies data,
// so the caller may reuse it; it never blocks on the network, but waits for a member that
// reads more slowly than we write (back-pressure). It returns ErrTooLarge when data exceeds MaxMessageSize.
func (c *Cluster) Publish(ctx context.Context, data []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(data) > c.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	d := &c.direct
	type waiting struct {
		dp   *directPeer
		room <-chan struct{}
	}
	var fullArr [4]waiting
	full := fullArr[:0]
	d.mu.RLock()
	for _, dp := range d.peers {
		if ok, room := dp.enqueueOr(data, c.cfg.PublishWait > 0); !ok {
			if room != nil {
				full = append(full, waiting{dp, room})
			} else {
				c.c.droppedOutbound.Add(1)
			}
		}
	}
	d.mu.RUnlock()
	// Members whose queue was full: wait for room outside the lock (a member connecting or
	// leaving takes it), one after the other; a member that left meanwhile drops it.
	for _, w := range full {
		if !w.dp.awaitRoom(ctx, data, w.room, c.cfg.PublishWait) {
			c.c.droppedOutbound.Add(1)
		}
	}
	c.c.published.Add(1)
	return nil
}

// writeDirect writes dp's queue to its member until the member disconnects or the cluster
// closes. Each write hands the stream everything queued when it starts: nothing waits for more
// while the link is idle, and what is published during a write goes out in the next one.
func (c *Cluster) writeDirect(dp *directPeer) {
	var (
		s        network.Stream
		stop     func() bool
		lastOpen time.Time
		deadline time.Time // the stream's write deadline
		q        [][]byte  // the writer's half of the link's two chunk lists
	)
	drop := func() {
		if s != nil {
			stop()
			_ = s.Reset()
			s = nil
			dp.open.Store(false)
		}
	}
	defer drop()
	open := func() {
		lastOpen = time.Now()
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
		defer cancel()
		ns, err := c.host.NewStream(network.WithNoDial(ctx, "data stream"), dp.id, c.protocolID(dataProto))
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Debug("open data stream", "remote", dp.id, "err", err)
			}
			return
		}
		s, deadline = ns, time.Time{}
		stop = context.AfterFunc(c.ctx, func() { _ = ns.Reset() })
		dp.open.Store(true)
	}
	open()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-dp.done:
			return
		case <-dp.wake:
		}
		for {
			// No stream (it failed, or could not be opened yet): what is queued waits while
			// the stream is reopened, at most every directRetry, and what is published
			// meanwhile queues behind it (Publish drops and counts once the queue is full).
			// Dropping here cost every message sent in the second after a reconnect on a
			// starved machine.
			for s == nil {
				if wait := directRetry - time.Since(lastOpen); wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-c.ctx.Done():
						t.Stop()
						return
					case <-dp.done:
						t.Stop()
						return
					case <-t.C:
					}
				}
				open()
			}
			var n int
			if q, n = dp.take(q); n == 0 {
				break
			}
			// yamux arms a new timer for every deadline set: set per write, that was a
			// writer's largest source of garbage under a write flood after the delta log (5 MB
			// of timers in a 1M-key load, resident until the next collection). Moving it only
			// once half of it has passed sets it at most every directWriteTimeout/2.
			if now := time.Now(); deadline.Sub(now) < directWriteTimeout/2 {
				deadline = now.Add(directWriteTimeout)
				_ = s.SetWriteDeadline(deadline)
			}
			var err error
			for _, c := range q {
				if _, err = s.Write(c); err != nil {
					break
				}
				dp.written.Add(1)
			}
			dp.recycle(q)
			if err != nil {
				// What the write held is lost with the stream: count it all as dropped.
				c.c.droppedOutbound.Add(uint64(n))
				if c.ctx.Err() == nil {
					c.log.Debug("data stream write failed: reopening", "remote", dp.id, "err", err)
				}
				drop()
			}
		}
	}
}

// hasDataStream reports whether an outbound data stream to p is open.
func (c *Cluster) hasDataStream(p peer.ID) bool {
	c.direct.mu.RLock()
	defer c.direct.mu.RUnlock()
	dp := c.direct.peers[p]
	return dp != nil && dp.open.Load()
}

// readDirect delivers the messages of one inbound data stream to the OnMessage handler, in
// order, until the stream ends or the cluster closes. A frame over MaxMessageSize resets the
// stream (the sender reopens it) and is counted as rejected.
func (c *Cluster) readDirect(s network.Stream) {
	stop := context.AfterFunc(c.ctx, func() { _ = s.Reset() })
	defer stop()
	defer s.Reset()
	from := s.Conn().RemotePeer()
	select {
	case <-c.handlerSet:
	case <-c.ctx.Done():
		return
	}
	r := bufio.NewReaderSize(s, directBuffer)
	for {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return
		}
		if n > uint64(c.cfg.MaxMessageSize) {
			c.c.rejected.Add(1)
			c.log.Warn("data frame over the message size limit: stream reset", "remote", from, "bytes", n)
			return
		}
		// A frame that fits the reader's buffer is handed over in place (the handler does not
		// keep data, and the buffer is next written by the read after it returns): copying it
		// out first was a second copy of every byte received, through a frame buffer of its own.
		var data []byte
		if n <= directBuffer {
			data, err = r.Peek(int(n))
		} else {
			data = make([]byte, n)
			_, err = io.ReadFull(r, data)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && c.ctx.Err() == nil {
				c.log.Debug("data stream read", "remote", from, "err", err)
			}
			return
		}
		c.c.received.Add(1)
		(*c.handler.Load())(from, data)
		if n <= directBuffer {
			_, _ = r.Discard(int(n)) // buffered: cannot fail
		}
	}
}

// OnMessage sets the handler for messages published by other members and starts delivery:
// until the first call, inbound data streams wait (their senders' queues fill and then drop,
// counted). The handler is called from one goroutine per sending member, one message at a
// time and in publish order for that member, so calls for different members run concurrently;
// any message may be lost. from is the publisher. data is valid only until the handler
// returns (the stream's reader reuses it for the next message): a handler that keeps any of
// it must copy it. The handler
// should return promptly: while it runs, that member's messages queue up. A later call
// replaces the handler. Never called after Close returns; Close
// waits for a running handler to return.
func (c *Cluster) OnMessage(h func(from peer.ID, data []byte)) {
	c.handler.Store(&h)
	c.deliverOnce.Do(func() { close(c.handlerSet) })
}

// handleDirect is the stream handler of dataProto.
func (c *Cluster) handleDirect(s network.Stream) {
	if !c.goFn(func() { c.readDirect(s) }) {
		_ = s.Reset()
	}
}
