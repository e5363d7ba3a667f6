package resp

import (
	"context"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/node"
)

// bytesSetter is a Backend whose SetBytesAt is Set with a key it does not keep (node.Node),
// at a time the caller read: SET passes its argument's bytes, which the connection reuses,
// instead of a string made of them, and the time a run of commands reads once (getNowMs).
type bytesSetter interface {
	SetBytesAt(ctx context.Context, key []byte, value []byte, opt node.SetOptions, nowMs int64) (node.SetResult, error)
}

var _ bytesSetter = (*node.Node)(nil)

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
	// Flush removes every key written before it, in every region (FLUSHALL).
	Flush(ctx context.Context) (int, error)
	Rename(ctx context.Context, src, dst string, nx bool) (bool, error)
	Copy(ctx context.Context, src, dst string, replace bool) (bool, error)
	RandomKey(ctx context.Context) (string, bool, error)
	IncrBy(ctx context.Context, key string, delta int64) (int64, error)
	Modify(ctx context.Context, key string, fn func(cur []byte, live bool) ([]byte, bool, error)) ([]byte, error)
	Len() int
	Scan(ctx context.Context, cursor uint64, match string, count int) ([]string, uint64, error)
	Stats() node.Stats
	Now() time.Time

	// Collections (node/collections.go): TYPE, and read / read-modify-write access to a key's
	// hash, set or sorted set. Wrong-type keys are node.ErrWrongType.
	KeyType(ctx context.Context, key string) (string, error)
	MemoryUsage(ctx context.Context, key string) (int64, bool, error)
	ReadHash(ctx context.Context, key string, fn func(h *crdt.Hash)) (bool, error)
	UpdateHash(ctx context.Context, key string, create bool, fn func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash) (bool, error)
	ReadSet(ctx context.Context, key string, fn func(s *crdt.Set)) (bool, error)
	UpdateSet(ctx context.Context, key string, create bool, fn func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set) (bool, error)
	ReadZSet(ctx context.Context, key string, fn func(z *crdt.ZSet)) (bool, error)
	UpdateZSet(ctx context.Context, key string, create bool, fn func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet) (bool, error)
}

// Replicator is implemented by a Backend that replicates to other regions (as *node.Node
// does); WAIT uses it. A Backend without it answers WAIT with 0 at once.
type Replicator interface {
	// WaitReplicated blocks until replicas other nodes have applied every write the backend
	// issued before the call, or ctx is done, and returns how many have (also on ctx expiry,
	// as Redis's WAIT does). It may block; it is called concurrently.
	WaitReplicated(ctx context.Context, replicas int) (int, error)
}

// WritePasser is implemented by a Backend that can defer the per-write work of a run of
// commands to its end (as *node.Node does: it replicates the run's writes as one batch, from
// the caller's goroutine, instead of waking its replication goroutine for each). An event loop
// wraps each pass over its ready connections in BeginWrites and EndWrites. BeginWrites may
// wait, before the pass reads a request, while the backend's peers read more slowly than it
// writes (back-pressure); EndWrites must not block. EndWrites reports whether it made
// goroutines runnable, which the loop then lets run before it blocks in epoll_wait.
//
// WithinWritePass returns the context for the commands of a connection the loops serve: its
// writes are paced by the passes, and the backend must not make them wait again inside one.
type WritePasser interface {
	BeginWrites()
	EndWrites() bool
	WithinWritePass(ctx context.Context) context.Context
}

var _ WritePasser = (*node.Node)(nil)

// Cluster is implemented by a Backend that knows its cluster (as *node.Node does); INFO shows
// it in its replication section. Its methods must not block on the network.
type Cluster interface {
	Members() []node.Member
	ReplicationStats() node.ReplicationStats
}

// ReadThrougher is implemented by a Backend that can fill a local miss from other regions or an
// origin (as *node.Node does: read-through to peers, then Config.Loader). GET answers from
// GetLocalAt and, when FillCandidate (which must not block) says a miss is worth it, runs Fill
// off the event loop, since it can wait for a WAN round trip or the origin. A *node.LoadError
// from Fill is answered "-ERR " followed by the loader's message. GetLocalAt takes the time
// (unix ms, from Backend.Now) so that a run of pipelined GETs reads the clock once. Neither
// GetLocalAt nor FillCandidate may keep key after it returns: GET passes the bytes of its
// request (no copy per read).
type ReadThrougher interface {
	GetLocalAt(ctx context.Context, key string, nowMs int64) (node.Item, bool, error)
	FillCandidate(key string) bool
	Fill(ctx context.Context, key string) (node.Item, bool, error)
}
