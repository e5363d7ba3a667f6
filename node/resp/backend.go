package resp

import (
	"context"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

// Backend is the cache a Server serves: the subset of *node.Node the RESP front end calls. It is
// called concurrently from every connection's goroutine and must be safe for that.
type Backend interface {
	Get(ctx context.Context, key string) (node.Item, bool, error)
	Peek(ctx context.Context, key string) (node.Item, bool, error)
	Set(ctx context.Context, key string, value []byte, opt node.SetOptions) (node.SetResult, error)
	MSet(ctx context.Context, kv map[string][]byte) error
	Delete(ctx context.Context, keys ...string) (int, error)
	GetDel(ctx context.Context, key string) (node.Item, bool, error)
	Exists(ctx context.Context, keys ...string) (int, error)
	Touch(ctx context.Context, keys ...string) (int, error)
	Expire(ctx context.Context, key string, at time.Time) (bool, error)
	Persist(ctx context.Context, key string) (bool, error)
	Len() int
	Scan(ctx context.Context, cursor uint64, match string, count int) ([]string, uint64, error)
	Stats() node.Stats
	Now() time.Time
}

// Replicator is implemented by a Backend that replicates to other regions; WAIT uses it. A
// Backend without it answers WAIT with 0 at once, as a Redis master without replicas does.
type Replicator interface {
	// WaitReplicated blocks until replicas other regions have applied the local write v (or
	// everything this node wrote up to it), or ctx is done, and returns how many have. On ctx
	// expiry it returns the count reached so far together with ctx.Err(). It may block; it is
	// called concurrently.
	WaitReplicated(ctx context.Context, v crdt.Version, replicas int) (int, error)
}

// LastWriter is optionally implemented by a Backend to report the version of its most recent
// local write. WAIT after a write that returns no version (DEL, EXPIRE, MSET, ...) then waits
// for that version, which covers the connection's own write.
type LastWriter interface {
	LastWrite() crdt.Version
}

// ClusterView is the replication state INFO shows. It is taken from Config.Cluster, or from the
// Backend when it implements ClusterView itself. It is called from INFO only and may take locks;
// it must not block on the network.
type ClusterView interface {
	ClusterStatus() ClusterStatus
}

// ClusterStatus is a snapshot of this node's place in the cluster.
type ClusterStatus struct {
	// Region and ReplicaID name this node.
	Region    string
	ReplicaID string
	// Peers are the other known members.
	Peers []PeerStatus
}

// PeerStatus describes one peer as seen from this node.
type PeerStatus struct {
	ID        string
	Region    string
	Addr      string
	Connected bool
	// Lag is the replication lag from this node to the peer (age of the oldest write the peer
	// has not acknowledged), RTT the smoothed round-trip time. Zero when unknown.
	Lag time.Duration
	RTT time.Duration
}
