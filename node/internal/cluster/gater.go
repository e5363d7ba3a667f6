package cluster

import (
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"
)

// Gater is the connection gater of a Cluster's host. It admits only peers
// on the allow-list (all peers when the list is empty) and lets tests cut
// links with Block and Unblock to emulate partitions.
//
// All methods are safe for concurrent use. The Intercept* methods are called
// by libp2p on its own goroutines and never block.
type Gater struct {
	allow map[peer.ID]struct{} // immutable after construction; nil = allow all

	mu      sync.RWMutex
	blocked map[peer.ID]struct{}
	probes  map[peer.ID]struct{} // placeholder ids dialled to learn who listens at an address

	refused     atomic.Uint64
	blockedHits atomic.Uint64

	// Set once by the Cluster after the host exists.
	closePeer func(peer.ID)
	unblocked func(peer.ID)
	// stranger is told (without blocking) about every refused handshake of
	// a peer not on the allow-list.
	stranger func(dir network.Direction, p peer.ID, addr multiaddr.Multiaddr)
}

// addProbe admits dials to a placeholder id: nobody holds its key, so the
// handshake always fails and names the peer that answered, which is then
// judged like any other.
func (g *Gater) addProbe(p peer.ID) {
	g.mu.Lock()
	g.probes[p] = struct{}{}
	g.mu.Unlock()
}

func (g *Gater) isProbe(p peer.ID) bool {
	g.mu.RLock()
	_, ok := g.probes[p]
	g.mu.RUnlock()
	return ok
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

func newGater(allow []peer.ID) *Gater {
	g := &Gater{blocked: make(map[peer.ID]struct{}), probes: make(map[peer.ID]struct{})}
	if len(allow) > 0 {
		g.allow = make(map[peer.ID]struct{}, len(allow))
		for _, p := range allow {
			g.allow[p] = struct{}{}
		}
	}
	return g
}

// Block refuses every dial to and connection from p and closes the existing
// connections, emulating a network partition between us and p. Messages may
// still reach p through other members (gossip relays).
func (g *Gater) Block(p peer.ID) {
	g.mu.Lock()
	g.blocked[p] = struct{}{}
	g.mu.Unlock()
	if g.closePeer != nil {
		g.closePeer(p)
	}
}

// Unblock lifts Block; the cluster redials p at once if it is a known member.
func (g *Gater) Unblock(p peer.ID) {
	g.mu.Lock()
	delete(g.blocked, p)
	g.mu.Unlock()
	if g.unblocked != nil {
		g.unblocked(p)
	}
}

// Blocked reports whether p is currently blocked.
func (g *Gater) Blocked(p peer.ID) bool {
	g.mu.RLock()
	_, ok := g.blocked[p]
	g.mu.RUnlock()
	return ok
}

// Allowed reports whether p is on the allow-list (true for all peers when
// the list is empty). Blocking does not change it.
func (g *Gater) Allowed(p peer.ID) bool {
	if g.allow == nil {
		return true
	}
	_, ok := g.allow[p]
	return ok
}

// Refused returns how many connections from or to peers not on the
// allow-list were refused.
func (g *Gater) Refused() uint64 { return g.refused.Load() }

func (g *Gater) admit(p peer.ID) bool {
	if g.Blocked(p) {
		g.blockedHits.Add(1)
		return false
	}
	if !g.Allowed(p) {
		g.refused.Add(1)
		return false
	}
	return true
}

// InterceptPeerDial implements connmgr.ConnectionGater.
func (g *Gater) InterceptPeerDial(p peer.ID) bool { return g.isProbe(p) || g.admit(p) }

// InterceptAddrDial implements connmgr.ConnectionGater; InterceptPeerDial
// already decided.
func (g *Gater) InterceptAddrDial(peer.ID, multiaddr.Multiaddr) bool { return true }

// InterceptAccept implements connmgr.ConnectionGater: the peer is not known
// before the handshake, so everything is accepted here and judged in
// InterceptSecured.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured implements connmgr.ConnectionGater: the security
// handshake (TLS or Noise) has authenticated p.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, cm network.ConnMultiaddrs) bool {
	if g.admit(p) {
		return true
	}
	if g.stranger != nil && !g.Allowed(p) {
		g.stranger(dir, p, cm.RemoteMultiaddr())
	}
	return false
}

// InterceptUpgraded implements connmgr.ConnectionGater. It re-checks Block
// to close the window between the handshake and a concurrent Block call.
func (g *Gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	if g.Blocked(c.RemotePeer()) {
		g.blockedHits.Add(1)
		return false, 0
	}
	return true, 0
}
