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

// directBuffer is the size of a data stream's read and write buffers: queued messages are
// coalesced into writes of up to this many bytes.
const directBuffer = 64 << 10

// directWriteTimeout bounds one write to a member: a member that reads nothing for this long
// has its stream reset and reopened, and loses what was queued for it (anti-entropy repairs).
// The deadline is moved only once half of it has passed (writeDirect), so a write that blocks
// fails after half to all of this.
const directWriteTimeout = 10 * time.Second

// directRetry is the least time between two attempts to open a data stream to a member.
const directRetry = time.Second

// directPoolMax is the largest message buffer returned to the pool for reuse: larger ones
// (big values) are left to the collector rather than kept alive.
const directPoolMax = directBuffer

// directMsg is one published message, shared read-only by the queues of every member it was
// queued for. The last writer to copy it into its stream's buffer returns it to the pool: a
// write flood otherwise allocated a copy of every batch (half of a writer's allocations).
type directMsg struct {
	b    []byte
	refs atomic.Int32 // queues still holding it
}

// release drops one queue's reference and recycles m after the last one. A message that is
// never released (its member disconnected with it queued) is simply collected.
func (c *Cluster) releaseMsg(m *directMsg) {
	if m.refs.Add(-1) == 0 && cap(m.b) <= directPoolMax {
		m.b = m.b[:0]
		c.msgPool.Put(m)
	}
}

// directPeer is the outbound half of the data link to one connected member: a bounded queue
// and the goroutine that writes it to the member's stream.
type directPeer struct {
	id   peer.ID
	q    chan *directMsg
	done chan struct{} // closed when the member disconnects
	open atomic.Bool   // a stream is open: messages queued now are written to it
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
		dp = &directPeer{id: p, q: make(chan *directMsg, c.cfg.OutboundQueue), done: make(chan struct{})}
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
// effort: a member that is disconnected, or whose queue is full (Stats.DroppedOutbound), misses
// it, and anti-entropy must repair that. Publish copies data, so the caller may reuse it; it
// never blocks on the network. It returns ErrTooLarge when data exceeds MaxMessageSize.
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
	m, _ := c.msgPool.Get().(*directMsg)
	if m == nil {
		m = &directMsg{}
	}
	m.b = append(m.b[:0], data...)
	// One reference for Publish itself while it queues, so that a writer done with m before
	// the loop ends cannot recycle it under the loop.
	m.refs.Store(1)
	d := &c.direct
	d.mu.RLock()
	for _, dp := range d.peers {
		m.refs.Add(1)
		select {
		case dp.q <- m:
		default:
			m.refs.Add(-1)
			c.c.droppedOutbound.Add(1)
		}
	}
	d.mu.RUnlock()
	c.releaseMsg(m)
	c.c.published.Add(1)
	return nil
}

// writeDirect writes dp's queue to its member until the member disconnects or the cluster
// closes. Messages queued together go out in one write.
func (c *Cluster) writeDirect(dp *directPeer) {
	var (
		s        network.Stream
		w        *bufio.Writer
		stop     func() bool
		lastOpen time.Time
		deadline time.Time // the stream's write deadline
		hdr      [binary.MaxVarintLen64]byte
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
		s, w, deadline = ns, bufio.NewWriterSize(ns, directBuffer), time.Time{}
		stop = context.AfterFunc(c.ctx, func() { _ = ns.Reset() })
		dp.open.Store(true)
	}
	open()
	for {
		var msg *directMsg
		select {
		case <-c.ctx.Done():
			return
		case <-dp.done:
			return
		case msg = <-dp.q:
		}
		// No stream (it failed, or could not be opened yet): the message waits while the
		// stream is reopened, at most every directRetry, and what queues behind it meanwhile
		// waits in the queue (Publish drops and counts once that is full). Dropping here cost
		// every message sent in the second after a reconnect on a starved machine.
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
		// yamux arms a new timer for every deadline set: set per flush, that was a writer's
		// largest source of garbage under a write flood after the delta log (5 MB of timers in
		// a 1M-key load, resident until the next collection). Moving it only once half of it
		// has passed sets it at most every directWriteTimeout/2.
		if now := time.Now(); deadline.Sub(now) < directWriteTimeout/2 {
			deadline = now.Add(directWriteTimeout)
			_ = s.SetWriteDeadline(deadline)
		}
		n, err := 1, writeFrame(w, hdr[:], msg.b)
		c.releaseMsg(msg)
		for err == nil && w.Buffered() < directBuffer {
			select {
			case msg = <-dp.q:
				n++
				err = writeFrame(w, hdr[:], msg.b)
				c.releaseMsg(msg)
				continue
			default:
			}
			break
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			// What the buffer held is lost with the stream: count it all as dropped.
			c.c.droppedOutbound.Add(uint64(n))
			if c.ctx.Err() == nil {
				c.log.Debug("data stream write failed: reopening", "remote", dp.id, "err", err)
			}
			drop()
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

func writeFrame(w *bufio.Writer, hdr, msg []byte) error {
	if _, err := w.Write(hdr[:binary.PutUvarint(hdr, uint64(len(msg)))]); err != nil {
		return err
	}
	_, err := w.Write(msg)
	return err
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
