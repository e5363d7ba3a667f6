package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
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
// connection it rides on was authenticated (Noise) and admitted by the gater, so no envelope
// is needed.

// dataProto is the direct data protocol, relative to the cluster namespace.
const dataProto = "data/1"

// directBuffer is the size of a data stream's read and write buffers: queued messages are
// coalesced into writes of up to this many bytes (one Noise frame each).
const directBuffer = 64 << 10

// directWriteTimeout bounds one write to a member: a member that reads nothing for this long
// has its stream reset and reopened, and loses what was queued for it (anti-entropy repairs).
const directWriteTimeout = 10 * time.Second

// directRetry is the least time between two attempts to open a data stream to a member.
const directRetry = time.Second

// directPoolMax is the largest message buffer returned to the pool for reuse: larger ones
// (big values) are left to the collector rather than kept alive.
const directPoolMax = directBuffer

// releaseMsg drops one queue's reference and recycles m after the last one. A message that is
// never released (its member disconnected with it queued) is simply collected.
func (c *Cluster) releaseMsg(m *directMsg) {
	if m.refs.Add(-1) == 0 && cap(m.b) <= directPoolMax {
		m.b = m.b[:0]
		c.msgPool.Put(m)
	}
}

// directOut holds the outbound data links, one per connected member.
type directOut struct {
	mu    sync.RWMutex
	peers map[peer.ID]*memberLink
}

// onDirectPeer (a notifier callback) starts the data link to a member that connected and
// stops it when the member disconnects.
func (c *Cluster) onDirectPeer(p peer.ID, up bool) {
	d := &c.direct
	d.mu.Lock()
	old := d.peers[p]
	delete(d.peers, p)
	var l *memberLink
	if up {
		l = newMemberLink(p, c.cfg.OutboundQueue, c.log)
		l.open = c.streamOpener(p)
		l.release = c.releaseMsg
		l.dropped = func(n int) { c.c.droppedOutbound.Add(uint64(n)) }
		if d.peers == nil {
			d.peers = map[peer.ID]*memberLink{}
		}
		d.peers[p] = l
	}
	d.mu.Unlock()
	if old != nil {
		close(old.done)
	}
	if l != nil && !c.goFn(func() { l.run(c.ctx) }) {
		d.mu.Lock()
		if d.peers[p] == l {
			delete(d.peers, p)
		}
		d.mu.Unlock()
	}
}

// Publish sends data to every connected member and returns once it is written to their
// streams or queued. Delivery is best effort: a member that is disconnected, or whose queue is
// full (Stats.DroppedOutbound), misses it, and anti-entropy must repair that. The caller may
// reuse data when Publish returns. Publish never waits on the network for long: a member's
// stream is written here only when nothing else is being written to it, and for at most
// directInlineTimeout (direct_send.go). It returns ErrTooLarge when data exceeds
// MaxMessageSize.
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
	var m *directMsg // the copy shared by the members' queues, made once one needs it
	d := &c.direct
	d.mu.RLock()
	for _, l := range d.peers {
		if l.tryWrite(data) {
			continue
		}
		if m == nil {
			m, _ = c.msgPool.Get().(*directMsg)
			if m == nil {
				m = &directMsg{}
			}
			m.b = append(m.b[:0], data...)
			// One reference for Publish itself while it queues, so that a writer done with
			// m before the loop ends cannot recycle it under the loop.
			m.refs.Store(1)
		}
		if !l.enqueue(m) {
			c.c.droppedOutbound.Add(1)
		}
	}
	d.mu.RUnlock()
	if m != nil {
		c.releaseMsg(m)
	}
	c.c.published.Add(1)
	return nil
}

// hasDataStream reports whether an outbound data stream to p is open.
func (c *Cluster) hasDataStream(p peer.ID) bool {
	c.direct.mu.RLock()
	defer c.direct.mu.RUnlock()
	l := c.direct.peers[p]
	return l != nil && l.isOpen.Load()
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
	var buf []byte // reused for frames up to directBuffer: the handler does not keep data
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
		var data []byte
		if n <= directBuffer {
			if cap(buf) < int(n) {
				buf = make([]byte, directBuffer)
			}
			data = buf[:n]
		} else {
			data = make([]byte, n)
		}
		if _, err := io.ReadFull(r, data); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && c.ctx.Err() == nil {
				c.log.Debug("data stream read", "remote", from, "err", err)
			}
			return
		}
		c.c.received.Add(1)
		(*c.handler.Load())(from, data)
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
