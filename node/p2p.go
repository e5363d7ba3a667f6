package node

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/geocache/geocache/node/internal/cluster"
)

// syncProto is the anti-entropy stream protocol, relative to the cluster namespace.
const syncProto = "sync/1"

// Version is the software version a node announces in the cluster catalog unless
// Config.Version says otherwise.
const Version = "0.1.0"

// clusterTransport adapts the libp2p cluster to the replicator's transport.
type clusterTransport struct{ c *cluster.Cluster }

var _ transport = clusterTransport{}

func (t clusterTransport) Publish(ctx context.Context, data []byte) error {
	return t.c.Publish(ctx, data)
}

func (t clusterTransport) OpenSync(ctx context.Context, p string) (io.ReadWriteCloser, error) {
	id, err := peer.Decode(p)
	if err != nil {
		return nil, err
	}
	return t.c.OpenStream(ctx, id, syncProto)
}

func (t clusterTransport) OpenRPC(ctx context.Context, p string) (io.ReadWriteCloser, error) {
	id, err := peer.Decode(p)
	if err != nil {
		return nil, err
	}
	return t.c.OpenStream(ctx, id, rpcProto)
}

// startCluster starts the libp2p host, gossip and catalog, and wires them to a replicator.
func (n *Node) startCluster() error {
	c := n.cfg
	allow := make([]peer.ID, 0, len(c.AllowPeers))
	for _, s := range c.AllowPeers {
		id, err := peer.Decode(s)
		if err != nil {
			return fmt.Errorf("node: AllowPeers: %q is not a peer id: %w", s, err)
		}
		allow = append(allow, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cluster.New(ctx, cluster.Config{
		ClusterName:   c.ClusterName,
		DataDir:       c.DataDir,
		ListenAddrs:   c.ListenAddrs,
		AnnounceAddrs: c.AnnounceAddrs,
		Join:          c.Join,
		AllowPeers:    allow,
		ClusterKey:    c.ClusterKey,
		Logger:        c.Logger,
		Self:          n.record(cluster.StateJoining),
		ForgetAfter:   c.ForgetAfter,
		// Every member is a direct peer: gossip relaying would deliver each batch N-1 times.
		// A member cut off from a writer gets its writes by anti-entropy through a third node.
		NoRelay:       true,
		OutboundQueue: gossipQueueMessages,
	})
	if err != nil {
		return fmt.Errorf("node: start cluster: %w", err)
	}
	n.cluster = cl
	r := n.enableReplication(clusterTransport{cl}, replConfig{LogBytes: logBytesFor(c.MaxMemory), Members: func() []string {
		var ids []string
		for _, m := range cl.Members() {
			if !m.Self && m.State != cluster.StateLeaving && m.State != cluster.StateLeft {
				ids = append(ids, m.PeerID)
			}
		}
		return ids
	}})
	var names sync.Map // peer.ID -> its string form: base58 per message cost 4 % of a receiver's CPU
	cl.OnMessage(func(from peer.ID, data []byte) {
		name, ok := names.Load(from)
		if !ok {
			name, _ = names.LoadOrStore(from, from.String())
		}
		r.onMessage(name.(string), data)
	})
	cl.HandleStream(syncProto, func(s network.Stream) {
		if !n.goAsync(func() { r.handleSync(s.Conn().RemotePeer().String(), s) }) {
			s.Reset()
		}
	})
	cl.HandleStream(rpcProto, func(s network.Stream) {
		if !n.goAsync(func() { n.serveRPC(s.Conn().RemotePeer().String(), s) }) {
			s.Reset()
		}
	})
	cl.Notify(func(p peer.ID, up bool) {
		if up {
			n.reached.Store(true)
		}
		r.onPeer(p.String(), up)
	})
	cl.OnForget(func(p peer.ID) { r.forget(p.String()) })
	for _, p := range cl.ConnectedPeers() {
		n.reached.Store(true)
		r.onPeer(p.String(), true)
	}
	return nil
}

func (n *Node) record(state string) cluster.Record {
	n.addrMu.Lock()
	resp, http := n.cfg.RESPAddr, n.cfg.HTTPAddr
	n.addrMu.Unlock()
	c := &n.cfg
	return cluster.Record{Region: c.Region, Lat: c.Lat, Lon: c.Lon, RESP: resp, HTTP: http,
		Version: n.cfg.Version, State: state, ReplicaID: uint64(n.replica)}
}

// SetClientAddrs records the public RESP and HTTP addresses of this node in the cluster catalog,
// for nearest-node lookups by clients. Front ends call it once they listen.
func (n *Node) SetClientAddrs(ctx context.Context, resp, http string) error {
	n.addrMu.Lock()
	n.cfg.RESPAddr, n.cfg.HTTPAddr = resp, http
	n.addrMu.Unlock()
	if n.cluster == nil {
		return nil
	}
	return n.cluster.UpdateSelf(ctx, n.record(n.state()))
}

func (n *Node) state() string {
	if n.leaving.Load() {
		return cluster.StateLeaving
	}
	if n.Ready() {
		return cluster.StateServing
	}
	return cluster.StateJoining
}

// PeerID is this node's libp2p identity, or "" on a node that does not replicate.
func (n *Node) PeerID() string {
	if n.cluster == nil {
		return ""
	}
	return n.cluster.ID().String()
}

// P2PAddrs are the full libp2p addresses (with /p2p/) other nodes can --join.
func (n *Node) P2PAddrs() []string {
	if n.cluster == nil {
		return nil
	}
	var out []string
	for _, a := range n.cluster.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// ValidateJoin reports whether s is a valid Config.Join entry and, when it is not, what is
// wrong with it.
func ValidateJoin(s string) error { return cluster.ValidateJoin(s) }

// ClusterStats are the cluster's connection counters, cumulative since start. Every failure
// counted here is also logged (rate-limited per peer).
type ClusterStats struct {
	Dials, DialFailures uint64 // dial attempts to members and join addresses, and the failed ones
	HandshakeFailures   uint64 // dials refused at the handshake (different cluster key, not geocache)
	RefusedPeers        uint64 // handshakes refused: peer not on the allow-list
	MembersLost         uint64 // connections to members lost without a goodbye
	MembersRegained     uint64 // lost members connected again
	IdentityChanges     uint64 // members found again under a new peer id (restart without data dir)
	StaleConnsClosed    uint64 // dead connections of a restarted peer closed
	GossipResets        uint64 // members reconnected because gossip held no stream to them
	// DroppedOutbound counts data messages (frames of replicated writes, heartbeats) a member
	// missed because its send queue was full or its stream failed: anti-entropy repairs them.
	DroppedOutbound uint64
}

// ClusterStats returns the cluster's connection counters (zero without replication).
func (n *Node) ClusterStats() ClusterStats {
	if n.cluster == nil {
		return ClusterStats{}
	}
	s := n.cluster.Stats()
	return ClusterStats{Dials: s.Dials, DialFailures: s.DialFailures, HandshakeFailures: s.HandshakeFailures,
		RefusedPeers: s.Refused, MembersLost: s.MembersLost, MembersRegained: s.MembersRegained,
		IdentityChanges: s.IdentityChanges, StaleConnsClosed: s.StaleConnsClosed, GossipResets: s.GossipResets,
		DroppedOutbound: s.DroppedOutbound}
}

// Member describes one node of the cluster as this node sees it.
type Member struct {
	PeerID    string
	P2P       []string // libp2p addresses it announces (with /p2p/<peer id> for this node)
	Region    string
	Lat, Lon  float64
	RESP      string // client address for the Redis protocol
	HTTP      string // client address for HTTP/JSON
	State     string // joining, serving, leaving or left
	Version   string
	Self      bool
	Connected bool          // a live libp2p connection
	Reachable bool          // heartbeats arrive (false within seconds of a black-holed link)
	RTT       time.Duration // smoothed libp2p ping round trip (0 = not measured)
	LastSeen  time.Time     // last heartbeat
	Lag       time.Duration // smoothed delay from the peer's write to its apply here
	Behind    uint64        // our writes the peer has not acknowledged yet
}

// Members lists the cluster's members, this node first, then by peer id. A node without
// replication lists only itself.
func (n *Node) Members() []Member {
	n.addrMu.Lock()
	self := Member{Region: n.cfg.Region, Lat: n.cfg.Lat, Lon: n.cfg.Lon, RESP: n.cfg.RESPAddr, HTTP: n.cfg.HTTPAddr,
		State: n.state(), Version: n.cfg.Version, Self: true, Connected: true, Reachable: true, LastSeen: n.Now()}
	n.addrMu.Unlock()
	if n.cluster == nil {
		return []Member{self}
	}
	self.PeerID = n.cluster.ID().String()
	self.P2P = n.P2PAddrs()
	infos := map[string]PeerInfo{}
	for _, pi := range n.repl.peerInfos() {
		infos[pi.ID] = pi
	}
	out := []Member{self}
	for _, m := range n.cluster.Members() {
		if m.Self {
			continue
		}
		pi := infos[m.PeerID]
		out = append(out, Member{PeerID: m.PeerID, P2P: m.Addrs, Region: m.Region, Lat: m.Lat, Lon: m.Lon, RESP: m.RESP,
			HTTP: m.HTTP, State: m.State, Version: m.Version, Connected: m.Connected, Reachable: pi.Reachable,
			RTT: m.RTT, LastSeen: pi.LastSeen, Lag: pi.Lag, Behind: pi.Behind})
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].PeerID < out[1+j].PeerID })
	return out
}
