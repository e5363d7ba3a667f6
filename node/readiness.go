package node

import (
	"fmt"
	"strings"

	"github.com/geocache/geocache/node/internal/cluster"
)

// Readiness. A node is ready when a load balancer may send it traffic expecting the cluster's
// data: at once when it does not replicate or starts a new cluster (no Join, and no other
// member that has not left in its persisted catalog); otherwise only after its first completed
// anti-entropy session with a member, whichever member that is (a Join address that is down
// does not matter once another known member was reached). There is no timeout: a node told to
// join that never reaches anyone stays not ready, and says so. A closing node is not ready.

// ReadyReason reports whether the node is ready and, when it is not, why, in words for an
// operator (the body of /readyz).
func (n *Node) ReadyReason() (bool, string) {
	switch {
	case n.leaving.Load():
		return false, "shutting down"
	case n.ready.Load():
		return true, ""
	case !n.reached.Load() && len(n.cfg.Join) > 0:
		return false, fmt.Sprintf("never reached a member of --join (%s)", strings.Join(n.cfg.Join, ", "))
	case !n.reached.Load():
		return false, fmt.Sprintf("the catalog lists %d other members and none was reached yet", len(n.liveMembers()))
	default:
		return false, "reached a member; the first anti-entropy sync has not finished"
	}
}

// liveMembers returns the peer ids of the other members in the catalog that have not left.
func (n *Node) liveMembers() []string {
	if n.cluster == nil {
		return nil
	}
	var ids []string
	for _, m := range n.cluster.Members() {
		if !m.Self && m.Known && m.State != cluster.StateLeaving && m.State != cluster.StateLeft {
			ids = append(ids, m.PeerID)
		}
	}
	return ids
}
