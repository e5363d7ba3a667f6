package httpapi

import (
	"context"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

// Backend is the cache the API serves: the subset of *node.Node it calls. It is called
// concurrently and must be safe for that.
type Backend interface {
	Get(ctx context.Context, key string) (node.Item, bool, error)
	Set(ctx context.Context, key string, value []byte, opt node.SetOptions) (node.SetResult, error)
	Delete(ctx context.Context, keys ...string) (int, error)
	Stats() node.Stats
	Now() time.Time
	ReplicaID() crdt.ReplicaID
	Region() string
}

// Replicator is implemented by a Backend that replicates to other regions. PUT and DELETE with
// ?replicas=N use it to wait until N other regions have applied the write. On ctx expiry it
// returns the count reached so far with ctx.Err().
type Replicator interface {
	WaitReplicated(ctx context.Context, v crdt.Version, replicas int) (int, error)
}

// LastWriter optionally reports the version of the backend's latest local write, used to wait
// for a DELETE's replication.
type LastWriter interface {
	LastWrite() crdt.Version
}

// Readiness is implemented by a Backend that needs warming before it serves well (a node that
// joined a cluster and is catching up). /readyz answers 503 until Ready returns true; without
// it the node is ready at once.
type Readiness interface {
	Ready() bool
}

// MemberLister supplies the cluster view of /v1/members and the per-peer metrics. It is taken
// from Config.Members, or from the Backend when it implements MemberLister itself. It must not
// block on the network.
type MemberLister interface {
	Members() []Member
}

// Member is one cluster member as this node sees it.
type Member struct {
	ID     string  `json:"id"`
	Region string  `json:"region"`
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	// RESP and HTTP are the member's public client addresses, when it published them.
	RESP string `json:"resp,omitempty"`
	HTTP string `json:"http,omitempty"`
	// State is "self", "connected" or "disconnected".
	State string `json:"state"`
	// RTT is the smoothed round-trip time; Lag the replication lag from this node to the
	// member (age of the oldest write it has not acknowledged). Zero when unknown.
	RTT time.Duration `json:"-"`
	Lag time.Duration `json:"-"`
	// Counters about replication with this member, when the backend tracks them: deltas
	// received from it and rejected (clock too far ahead, malformed) or dropped (older than
	// what this node holds), and anti-entropy sync sessions run with it.
	DeltasRejected uint64 `json:"deltas_rejected"`
	DeltasDropped  uint64 `json:"deltas_dropped"`
	SyncSessions   uint64 `json:"sync_sessions"`
}
