package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/geocache/geocache/node/internal/cluster"
)

// Errors returned by Forget.
var (
	ErrForgetSelf      = errors.New("node: cannot forget this node itself")
	ErrMemberConnected = errors.New("node: member is connected; only unreachable members can be forgotten")
	ErrUnknownMember   = errors.New("node: no such member")
)

// Forget removes an unreachable member from the cluster now, as Config.ForgetAfter does when
// its horizon passes: from the catalog of every member (a catalog delete), from this node's
// peer table, metrics and member lists, and from causal stability (its replica no longer holds
// back tombstone collection). Writes of the member already applied are kept. It refuses this
// node (ErrForgetSelf), a connected member (ErrMemberConnected) and a peer id no member has
// (ErrUnknownMember). A forgotten member that comes back is a new member (docs/design.md).
func (n *Node) Forget(ctx context.Context, peerID string) error {
	if err := n.check(ctx); err != nil {
		return err
	}
	if n.cluster == nil {
		return fmt.Errorf("%w: %q (this node does not replicate)", ErrUnknownMember, peerID)
	}
	id, err := peer.Decode(peerID)
	if err != nil {
		return fmt.Errorf("%w: %q is not a peer id", ErrUnknownMember, peerID)
	}
	err = n.cluster.Forget(ctx, id)
	switch {
	case errors.Is(err, cluster.ErrForgetSelf):
		return ErrForgetSelf
	case errors.Is(err, cluster.ErrMemberConnected):
		return fmt.Errorf("%w: %s", ErrMemberConnected, peerID)
	case errors.Is(err, cluster.ErrUnknownMember):
		return fmt.Errorf("%w: %s", ErrUnknownMember, peerID)
	case err != nil:
		return fmt.Errorf("node: forget %s: %w", peerID, err)
	}
	return nil
}

// forget drops what replication knows of a forgotten peer: its replica binding (so a new
// incarnation may bind) and its heartbeat state, so it stops holding back causal stability —
// at once if we hold every write it announced (or never heard from it), else once we do or
// its last heartbeat is older than the grace horizon, as for any silent peer: a dead member's
// writes may still reach us through a third member, and a tombstone collected before they
// arrive would let an older value back. The writes it made stay in the store and the vector.
func (r *replicator) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[id]
	if p == nil {
		return
	}
	if p.connected {
		r.peersUp.Add(-1)
		p.connected = false
	}
	for rep, owner := range r.byRepl {
		if owner == id {
			delete(r.byRepl, rep)
		}
	}
	p.forgotten = true
	if p.replica == 0 || p.lastHB.IsZero() || r.leftComplete(p) {
		delete(r.peers, id)
	}
}
