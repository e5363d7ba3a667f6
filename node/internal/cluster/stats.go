package cluster

import (
	"sync"
	"sync/atomic"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Stats are cumulative counters since New. Published, Received and Rejected count data
// messages (direct.go) only; catalog traffic is excluded so the numbers describe the cache.
type Stats struct {
	Published uint64 // messages accepted by Publish
	Received  uint64 // messages handed to the OnMessage handler

	DroppedOutbound uint64 // data messages not sent to a member (its queue was full, its stream could not be opened or failed), and catalog RPCs gossipsub dropped
	Rejected        uint64 // data frames over MaxMessageSize (the stream is reset)

	Refused uint64 // connections refused: peer not on the allow-list
	Blocked uint64 // connections refused by Gater.Block

	Connects    uint64 // peer connected transitions
	Disconnects uint64 // peer disconnected transitions

	CatalogUpdates uint64 // member records applied from the catalog (local writes included)
	Dials          uint64 // dial attempts to known members and join addresses
	DialFailures   uint64 // failed dial attempts (each logged, rate-limited per peer)
	Forgotten      uint64 // members forgotten (Forget, ForgetAfter, or deleted by another member)

	HandshakeFailures uint64 // dials whose security handshake failed (different cluster key, not a geocache node)
	MembersLost       uint64 // connections to known members lost without a goodbye
	MembersRegained   uint64 // lost members connected again
	IdentityChanges   uint64 // a new peer id found at a member's address (restart without data dir), adopted
	StaleConnsClosed  uint64 // connections of a peer's previous incarnation that no longer answered, closed
	GossipResets      uint64 // peers disconnected because gossip had no stream to them while connected
}

// counters are the live, atomically updated source of Stats.
type counters struct {
	published, received                             atomic.Uint64
	droppedOutbound                                 atomic.Uint64
	rejected                                        atomic.Uint64
	connects, disconnects                           atomic.Uint64
	catalogUpdates, dials, dialFailures             atomic.Uint64
	forgotten                                       atomic.Uint64
	handshakeFailures, membersLost, membersRegained atomic.Uint64
	identityChanges, staleConns, gossipResets       atomic.Uint64
}

// tracer counts gossipsub drops. gossipsub calls it from its event loop, so
// every method is a counter increment at most.
type tracer struct {
	c *counters
	// newStream is called (from the gossipsub loop, so it must not block)
	// when our outbound gossip stream to a peer opens: from then on
	// publications can reach that peer.
	newStream func()

	mu      sync.Mutex
	streams map[peer.ID]struct{} // peers we hold an outbound gossip stream to
}

// hasStream reports whether gossipsub holds an outbound stream to p.
func (t *tracer) hasStream(p peer.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.streams[p]
	return ok
}

var _ pubsub.RawTracer = (*tracer)(nil)

func (t *tracer) OnClosedOutboundStream(p peer.ID) {
	t.mu.Lock()
	delete(t.streams, p)
	t.mu.Unlock()
}
func (t *tracer) Join(string)                          {}
func (t *tracer) Leave(string)                         {}
func (t *tracer) Graft(peer.ID, string)                {}
func (t *tracer) Prune(peer.ID, string)                {}
func (t *tracer) ValidateMessage(*pubsub.Message)      {}
func (t *tracer) DeliverMessage(*pubsub.Message)       {}
func (t *tracer) DuplicateMessage(*pubsub.Message)     {}
func (t *tracer) ThrottlePeer(peer.ID)                 {}
func (t *tracer) RecvRPC(*pubsub.RPC)                  {}
func (t *tracer) SendRPC(*pubsub.RPC, peer.ID)         {}
func (t *tracer) DropRPC(*pubsub.RPC, peer.ID)         { t.c.droppedOutbound.Add(1) }
func (t *tracer) UndeliverableMessage(*pubsub.Message) {}

func (t *tracer) RejectMessage(*pubsub.Message, string) {}

func (t *tracer) OnNewOutboundStream(p peer.ID, _ protocol.ID) {
	t.mu.Lock()
	if t.streams == nil {
		t.streams = make(map[peer.ID]struct{})
	}
	t.streams[p] = struct{}{}
	t.mu.Unlock()
	if t.newStream != nil {
		t.newStream()
	}
}
