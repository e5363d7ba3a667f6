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

// Replicator is implemented by a Backend that replicates to other regions (as *node.Node
// does). PUT and DELETE with ?replicas=N use it to wait until N other nodes have applied the
// write. It returns the count reached also when ctx expires.
type Replicator interface {
	WaitReplicated(ctx context.Context, replicas int) (int, error)
}

// Readiness is implemented by a Backend that needs warming before it serves well (a node that
// joined a cluster and is catching up). /readyz answers 503 until Ready returns true; without
// it the node is ready at once.
type Readiness interface {
	Ready() bool
}

// ReadyReasoner is implemented by a Backend that can say why it is not ready (as *node.Node
// does); /readyz puts the reason in its body.
type ReadyReasoner interface {
	ReadyReason() (ready bool, reason string)
}

// Forgetter is implemented by a Backend that can forget a cluster member (as *node.Node does);
// it feeds DELETE /v1/members/{peer}.
type Forgetter interface {
	Forget(ctx context.Context, peerID string) error
}

// Cluster is implemented by a Backend that knows its cluster (as *node.Node does): it feeds
// /v1/members, the status page and the replication metrics. Its methods must not block on the
// network.
type Cluster interface {
	Members() []node.Member
	ReplicationStats() node.ReplicationStats
}

// Dumper is implemented by a Backend that can list every register it holds, delete tombstones
// included (as *node.Node does); it feeds GET /v1/dump, used by convergence checkers.
type Dumper interface {
	Dump(ctx context.Context, fn func(node.DumpEntry) bool) error
}

// Locator is implemented by a Backend that knows where its cluster's members are (as
// *node.Node does); it feeds GET /v1/nearest.
type Locator interface {
	Nearest(lat, lon float64, count int) []node.Member
}

// Collections is implemented by a Backend that holds hashes, sets and sorted sets (as
// *node.Node does): GET /v1/keys/{key} answers such a key as JSON (a hash as an object, a set
// as an array, a sorted set as an array of {member, score}) instead of a wrong-type error.
type Collections interface {
	Collection(ctx context.Context, key string) (node.CollectionView, bool, error)
}
