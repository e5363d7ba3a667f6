package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	msmux "github.com/multiformats/go-multistream"
)

// Stale connections. A member killed while cut off leaves its peers with a
// connection that looks open (no FIN or RST got through). When it comes
// back with the same peer id it dials us on a new connection, and libp2p
// then holds two: gossipsub keeps writing into the dead one, whose stream
// it opened first, and since the peer stays "connected" it never opens
// another. So whenever a peer has more than one connection we ping each
// on its own stream. If an older one does not answer while the newest does,
// we close every
// connection to the peer and redial it at once: closing only the dead one
// is not enough, since gossipsub then forgets the peer's subscriptions
// (which the peer sent once, on its live stream) and would never send to it
// again. A full disconnect resets gossipsub's state on both sides.

// dupChecker is the set of peers whose connections must be checked, fed
// from the connection watcher and drained by dupLoop.
type dupChecker struct {
	mu      sync.Mutex
	pending map[peer.ID]struct{}
	wake    chan struct{}
}

func newDupChecker() *dupChecker {
	return &dupChecker{pending: make(map[peer.ID]struct{}), wake: make(chan struct{}, 1)}
}

// dupConn queues p for a check of its connections. Never blocks.
func (c *Cluster) dupConn(p peer.ID) {
	d := c.dups
	d.mu.Lock()
	d.pending[p] = struct{}{}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// onConnOpened is the network notifiee: a new connection to a peer we are
// already connected to produces no connectedness event, so it is watched
// here. Runs on libp2p goroutines; must not block.
func (c *Cluster) onConnOpened(_ network.Network, conn network.Conn) {
	c.dupConn(conn.RemotePeer())
}

// dupLoop checks queued peers until ctx is done, one peer at a time (each
// check is bounded by the probe timeout).
func (c *Cluster) dupLoop(ctx context.Context) {
	d := c.dups
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			var p peer.ID
			for q := range d.pending {
				p = q
				break
			}
			delete(d.pending, p)
			d.mu.Unlock()
			if p == "" {
				break
			}
			c.closeStaleConns(ctx, p)
		}
	}
}

// probeTimeout bounds the liveness probe of one connection: a loopback or
// WAN round trip is far below it, a dead connection never answers. It was one
// second: on a starved machine (the race-enabled suite on two cores) a live
// duplicate connection from a simultaneous dial missed it now and then, and
// closing every connection to the peer failed the requests and dropped the
// messages in flight on them (seen as flaky loader-lease and delivery tests).
// A dead connection after a restart is now found in 3 s instead of 1 s.
func (c *Cluster) probeTimeout() time.Duration { return max(3*c.cfg.PingInterval, 3*time.Second) }

// closeStaleConns probes every connection to p but the newest and closes
// the ones that do not answer.
func (c *Cluster) closeStaleConns(ctx context.Context, p peer.ID) {
	conns := c.host.Network().ConnsToPeer(p)
	if len(conns) < 2 {
		return
	}
	newest := conns[0]
	for _, cn := range conns[1:] {
		if cn.Stat().Opened.After(newest.Stat().Opened) {
			newest = cn
		}
	}
	// The newest connection is probed too, as a control: when it does not
	// answer either, the peer (or this process) is merely slow, not dead
	// behind one connection.
	var wg sync.WaitGroup
	res := make([]probeResult, len(conns))
	errs := make([]error, len(conns))
	for i, cn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = c.probeConnRetry(ctx, cn)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	var dead []network.Conn
	for i, cn := range conns {
		if cn == newest {
			if res[i] != probeAlive {
				return
			}
			continue
		}
		if res[i] == probeDead {
			dead = append(dead, cn)
			c.log.Info("a connection no longer answers (peer restarted?): reconnecting", "remote", p,
				"addr", cn.RemoteMultiaddr(), "opened", cn.Stat().Opened.Format(time.RFC3339), "err", errs[i])
		}
	}
	if len(dead) == 0 {
		return
	}
	c.c.staleConns.Add(uint64(len(dead)))
	_ = c.host.Network().ClosePeer(p)
	c.table.resetDial(p)
	c.kickDialer()
}

// probeResult is what a liveness probe proved about a connection.
type probeResult int

const (
	probeAlive  probeResult = iota // the peer answered on it (a pong, or a refusal)
	probeDead                      // nothing came back within the probe timeout
	probeUnsure                    // refused here, or the connection is closing: proves nothing
)

// probeRetries is how often an unsure probe is repeated, probeRetryPause apart: a refusal
// by this node's own resource manager passes once the other probes and pings of the peer end.
const (
	probeRetries    = 3
	probeRetryPause = 100 * time.Millisecond
)

// probeConnRetry probes conn until the answer is sure, or probeRetries times.
func (c *Cluster) probeConnRetry(ctx context.Context, conn network.Conn) (probeResult, error) {
	var err error
	for try := 0; ; try++ {
		err = probeConn(ctx, conn, c.probeTimeout())
		r := probeVerdict(err)
		if r != probeUnsure || try+1 == probeRetries || conn.IsClosed() {
			return r, err
		}
		select {
		case <-ctx.Done():
			return probeUnsure, ctx.Err()
		case <-time.After(probeRetryPause):
		}
	}
}

// probeVerdict classifies a probe's error. Only silence proves a connection dead: a peer that
// resets the ping stream answered on it. libp2p's resource manager does that to a ping
// stream beyond its per-peer limit, which probing two connections at once next to the
// periodic ping reaches: counted as dead, a healthy peer was disconnected right after a
// simultaneous dial (in 5 and 7 of 90 clusters: two runs of -count=15 of node's TestP2PLoader*),
// failing the requests in flight to it and changing members' views (a second origin load in
// TestP2PLoaderOncePerCluster). A refusal by our own resource manager proves nothing.
func probeVerdict(err error) probeResult {
	var se *network.StreamError
	var ne net.Error
	switch {
	case err == nil:
		return probeAlive
	case errors.As(err, &se) && se.Remote:
		return probeAlive
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return probeDead
	}
	return probeUnsure
}

// probeConn runs one libp2p ping exchange on a new stream of conn itself
// (host.NewStream would pick whichever connection it prefers).
func probeConn(ctx context.Context, conn network.Conn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := conn.NewStream(ctx)
	if err != nil {
		return err
	}
	defer s.Reset()
	_ = s.SetDeadline(time.Now().Add(timeout))
	if err := s.SetProtocol(ping.ID); err != nil {
		return err
	}
	if err := msmux.SelectProtoOrFail(ping.ID, s); err != nil {
		return err
	}
	buf := make([]byte, ping.PingSize)
	_, _ = rand.Read(buf)
	if _, err := s.Write(buf); err != nil {
		return err
	}
	got := make([]byte, ping.PingSize)
	if _, err := io.ReadFull(s, got); err != nil {
		return err
	}
	if !bytes.Equal(buf, got) {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// gossipGrace is how long a connected member may stay without an outbound
// gossip stream before we reconnect it. gossipsub opens the stream within
// a round trip of connecting; it gives up on a peer whose streams died four
// times while it stayed connected, and then never sends to it again.
func (c *Cluster) gossipGrace() time.Duration { return max(5*c.cfg.PingInterval, time.Second) }

// checkGossipStreams is the safety net behind closeStaleConns: a connected
// member that gossipsub has held no outbound stream to for gossipGrace is
// disconnected and redialled, which resets gossipsub's state for it on
// both sides.
func (c *Cluster) checkGossipStreams(now time.Time) {
	var reset []peer.ID
	c.table.mu.Lock()
	for p, st := range c.table.peers {
		switch {
		case !st.connected || !st.known || c.tr.hasStream(p):
			st.noStream = time.Time{}
		case st.noStream.IsZero():
			st.noStream = now
		case now.Sub(st.noStream) >= c.gossipGrace():
			st.noStream = time.Time{}
			reset = append(reset, p)
		}
	}
	c.table.mu.Unlock()
	for _, p := range reset {
		c.c.gossipResets.Add(1)
		c.log.Warn("gossip has no stream to a connected member: reconnecting", "remote", p, "after", c.gossipGrace())
		_ = c.host.Network().ClosePeer(p)
		c.table.resetDial(p)
		c.kickDialer()
	}
}
