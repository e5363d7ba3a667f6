package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node/internal/cluster"
)

// Leaving. A node that closes says goodbye to every peer it is connected to, over the peer RPC
// stream (opLeave), so it knows each one heard it before the host goes: gossip has no delivery
// report and closing the host right after a publish can lose it. The goodbye carries the
// node's replica id, last issued seq and clock, like a final heartbeat. A peer marks it left at
// once (Members, INFO, /v1/members show "left"), stops dialling it, and stops waiting for it in
// causal stability as soon as it holds every write up to that seq. The node then writes its
// catalog record with state "left", for members it was not connected to and for later joiners.

// Bounds of a graceful leave, so that shutdown stays quick whatever the peers do.
const (
	leaveFlushTimeout  = 3 * time.Second        // publishing the writes still queued
	goodbyeTimeout     = 500 * time.Millisecond // every connected peer acknowledging the goodbye
	leaveRecordTimeout = time.Second            // writing the "left" catalog record
)

// leave runs the graceful part of Close: queued writes go out, then the goodbye, then the
// record. Writes are refused from the start (n.leaving), so the goodbye's seq is final.
func (n *Node) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), leaveFlushTimeout)
	n.repl.flush(ctx)
	cancel()

	ctx, cancel = context.WithTimeout(context.Background(), goodbyeTimeout)
	n.sayGoodbye(ctx)
	cancel()

	ctx, cancel = context.WithTimeout(context.Background(), leaveRecordTimeout)
	if err := n.cluster.UpdateSelf(ctx, n.record(cluster.StateLeft)); err != nil {
		n.cfg.Logger.Info("announce leaving in the catalog", "err", err)
	}
	cancel()
}

// sayGoodbye sends the goodbye to every connected peer at once and waits for their
// acknowledgements, or ctx.
func (n *Node) sayGoodbye(ctx context.Context) {
	n.clockMu.Lock()
	g := heartbeat{replica: n.replica, seq: n.seq, hlc: n.clock.Now(n.nowMs())}
	n.clockMu.Unlock()
	req := appendGoodbye(appendRequest(nil, opLeave, ""), &g)
	var wg sync.WaitGroup
	for _, p := range n.cluster.ConnectedPeers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.call(ctx, p.String(), req); err != nil {
				n.cfg.Logger.Debug("goodbye not acknowledged", "peer", p.String(), "err", err)
			}
		}()
	}
	wg.Wait()
}

// appendGoodbye encodes the body of an opLeave request: replica, last seq, clock.
func appendGoodbye(dst []byte, g *heartbeat) []byte {
	dst = binary.AppendUvarint(dst, uint64(g.replica))
	dst = binary.AppendUvarint(dst, g.seq)
	return binary.AppendUvarint(dst, uint64(g.hlc))
}

func decodeGoodbye(b []byte) (heartbeat, error) {
	var vals [3]uint64
	for i := range vals {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return heartbeat{}, fmt.Errorf("%w: truncated goodbye", errBadMessage)
		}
		vals[i], b = v, b[k:]
	}
	if len(b) != 0 {
		return heartbeat{}, fmt.Errorf("%w: trailing bytes after goodbye", errBadMessage)
	}
	return heartbeat{replica: crdt.ReplicaID(vals[0]), seq: vals[1], hlc: crdt.Timestamp(vals[2])}, nil
}

// serveGoodbye handles a peer's goodbye (opLeave): it reports whether it was well formed.
func (n *Node) serveGoodbye(from string, body []byte) bool {
	g, err := decodeGoodbye(body)
	if err != nil || n.repl.onLeave(from, &g) != nil {
		return false
	}
	if n.cluster != nil {
		if id, err := peer.Decode(from); err == nil {
			n.cluster.MarkLeft(id, g.hlc.Millis())
		}
	}
	n.cfg.Logger.Info("member left", "member", from)
	return true
}

// onLeave records a peer's goodbye: its final seq and clock, as a last heartbeat, and that
// this write stream has ended.
func (r *replicator) onLeave(from string, g *heartbeat) error {
	if err := r.bind(from, g.replica); err != nil {
		return err
	}
	r.mu.Lock()
	p := r.peerLocked(from)
	p.left = g.replica
	p.seq = max(p.seq, g.seq)
	p.hlc = max(p.hlc, g.hlc)
	p.lastHB = time.Now()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// leftComplete reports whether p has left (or was forgotten) and every write it issued, as far
// as we heard, is held here: nothing older than what we hold can come from it any more, so it
// stops counting in causal stability. Caller holds r.mu.
func (r *replicator) leftComplete(p *peerState) bool {
	if !p.forgotten && (p.left == 0 || p.left != p.replica) {
		return false // not left, or back under a new replica id
	}
	seq, _ := r.vec.Prefix(p.replica)
	return seq >= p.seq
}
