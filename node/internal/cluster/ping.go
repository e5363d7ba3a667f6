package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// pingLoop measures the RTT to every connected peer each PingInterval with
// the libp2p ping protocol. Peers are pinged concurrently; a round waits
// for all of them (each bounded by the interval) before the next starts, so
// at most one ping per peer is in flight.
func (c *Cluster) pingLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, p := range c.table.connected() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rtt, err := c.pingOnce(ctx, p)
				if fails := c.table.recordPing(p, rtt, err == nil, time.Now()); fails == c.deadAfterPings() && ctx.Err() == nil {
					c.closeSilent(p, fails)
				}
			}()
		}
		wg.Wait()
		c.checkGossipStreams(time.Now())
	}
}

// pingOnce sends one ping over the existing connection (never dials).
func (c *Cluster) pingOnce(ctx context.Context, p peer.ID) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, max(c.cfg.PingInterval, time.Second))
	ctx = network.WithNoDial(ctx, "ping")
	results := ping.Ping(ctx, c.host, p)
	res, ok := <-results
	cancel()
	for range results {
		// Drain so ping's goroutine has exited when we return.
	}
	if !ok {
		return 0, context.Canceled
	}
	return res.RTT, res.Error
}

// deadAfterPings is how many consecutive failed pings make a connection
// dead: 5 s worth at the default interval (at least 3). The heartbeat
// timeout (3 s) has then marked the peer unreachable already.
func (c *Cluster) deadAfterPings() int {
	return max(3, int(5*time.Second/max(c.cfg.PingInterval, time.Second)))
}

// closeSilent closes every connection to a peer that has stopped answering
// pings, and redials it. A peer killed behind a network cut leaves a
// connection that looks open, and nothing else would ever close it (TCP
// and yamux keep-alives take a minute or more): we would keep writing
// into it, never redial, and never find the peer again when it comes back
// with a new identity and nobody to dial.
func (c *Cluster) closeSilent(p peer.ID, fails int) {
	c.c.staleConns.Add(1)
	c.log.Info("member does not answer pings: closing its connection and redialling", "remote", p, "failed_pings", fails)
	_ = c.host.Network().ClosePeer(p)
	c.table.resetDial(p)
	c.kickDialer()
}
