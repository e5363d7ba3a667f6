package cluster

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/multiformats/go-multiaddr"
)

// kickDialer wakes the dial loop without blocking.
func (c *Cluster) kickDialer() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// dialLoop keeps us connected to every known member: it redials members
// that are not connected, with per-peer exponential backoff and jitter,
// and registers members as gossipsub direct peers. It wakes every
// ReconnectMin and whenever the catalog, a connection or Unblock changes
// something.
func (c *Cluster) dialLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.ReconnectMin)
	defer t.Stop()
	for {
		dial, direct := c.table.dueDials(time.Now(), c.cfg.ReconnectMin, c.cfg.ReconnectMax, c.mayDial)
		if c.cfg.NoRelay {
			direct = nil
		}
		for _, p := range direct {
			// Direct peers get every message forwarded outside the mesh;
			// with a handful of trusted members that is what we want.
			// Blocks on the gossipsub event loop, hence not in the table.
			if err := c.ps.AddDirectPeer(peer.AddrInfo{ID: p}); err != nil && ctx.Err() == nil {
				c.log.Warn("add direct peer", "peer", p, "err", err)
			}
		}
		for _, p := range dial {
			if !c.goFn(func() { c.dial(ctx, p) }) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
	}
}

// mayDial filters dial candidates: never ourselves, never peers our own
// gater would refuse.
func (c *Cluster) mayDial(p peer.ID) bool {
	return p != c.id && c.gater.Allowed(p) && !c.gater.Blocked(p)
}

// dial makes one connection attempt to p using the addresses in the
// peerstore (from Join, the catalog and identify). When another peer
// answers at p's address (p restarted with a new identity, or p is a
// placeholder for a join address without an id), that peer is adopted.
// A join URL is resolved to the member's id and addresses first.
func (c *Cluster) dial(ctx context.Context, p peer.ID) {
	defer c.table.dialDone(p, time.Now())
	if u, ok := c.urls.Load(p); ok {
		c.c.dials.Add(1)
		id, addrs, err := c.resolveURL(ctx, u.(string))
		if err != nil {
			if ctx.Err() == nil {
				c.dialFailed(p, err)
			}
			return
		}
		c.adopt(ctx, p, id, addrs)
		return
	}
	c.connect(ctx, p)
}

// connect makes one connection attempt to p; it reports success.
func (c *Cluster) connect(ctx context.Context, p peer.ID) bool {
	c.c.dials.Add(1)
	// Our own backoff paces redials, so bypass the swarm's (which would
	// otherwise delay reconnection after a healed partition by 5s+).
	dctx := network.WithForceDirectDial(ctx, "cluster member")
	dctx = network.WithDialPeerTimeout(dctx, c.cfg.DialTimeout)
	dctx, cancel := context.WithTimeout(dctx, c.cfg.DialTimeout)
	err := c.host.Connect(dctx, peer.AddrInfo{ID: p})
	cancel()
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	if actual, addr, ok := mismatch(err); ok && actual != p {
		addrs := []multiaddr.Multiaddr{addr}
		if addr == nil {
			addrs = c.host.Peerstore().Addrs(p)
		}
		return c.adopt(ctx, p, actual, addrs)
	}
	if errors.Is(err, swarm.ErrDialToSelf) || strings.Contains(err.Error(), "dial to self attempted") {
		// A join list shared by every member names us too.
		return c.adopt(ctx, p, c.id, c.host.Peerstore().Addrs(p))
	}
	c.dialFailed(p, err)
	return false
}

// learnAddrs adds a member's advertised addresses to the peerstore. They
// are kept permanently: a member cut off for hours must still be redialled.
func (c *Cluster) learnAddrs(p peer.ID, addrs []string) {
	var mas []multiaddr.Multiaddr
	for _, s := range addrs {
		m, err := multiaddr.NewMultiaddr(s)
		if err != nil {
			continue
		}
		// Accept both plain and full (/p2p/<id>) forms.
		if addr, id := peer.SplitAddr(m); addr != nil && (id == "" || id == p) {
			mas = append(mas, addr)
		}
	}
	if len(mas) > 0 {
		c.host.Peerstore().AddAddrs(p, mas, peerstore.PermanentAddrTTL)
	}
}
