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
				c.table.recordPing(p, rtt, err == nil, time.Now())
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
