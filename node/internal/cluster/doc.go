// Package cluster is the transport and membership layer of geocache
// replication. It moves opaque bytes between cluster members and reports who
// the members are; it knows nothing about cache entries.
//
// # Model
//
// Each member runs one libp2p host with a persistent Ed25519 identity,
// TCP, TLS 1.3 (Noise as the fallback, see host.go) and yamux. Only members may connect: a [Gater] admits the
// peers on the allow-list (or everyone in development mode), and an
// optional 32-byte cluster key turns the host into a libp2p private network
// so strangers cannot even complete a handshake.
//
// Data ([Cluster.Publish], [Cluster.OnMessage]) travels over one long-lived stream per
// connected member and direction, "/<cluster>/data/1": length-prefixed messages, written by one
// goroutine per member from a bounded queue (overflow is dropped and counted in [Stats]), read
// by one goroutine per inbound stream. The stream's peer is the publisher (the connection is
// authenticated and admitted by the gater), and nothing is relayed: a member cut off from the
// publisher catches up through the caller's anti-entropy. An earlier version used a gossipsub
// topic; with relaying off it added protobuf framing, a seen-IDs cache, a message cache and
// three goroutine hops on each side for nothing (direct.go). [Cluster.Publish] is best effort.
//
// Membership lives in a catalog: a go-ds-crdt Merkle-CRDT replicated over
// an ipfs-lite DAG service (bitswap) on the same host and a broadcaster on
// the same gossipsub ("<cluster>/catalog/1"). Each member writes only its
// own [Record] under /members/<peer id> ([Cluster.UpdateSelf]); the catalog
// is persisted in LevelDB when a data directory is set. Records say where a
// member is and how to reach it, not whether it is alive: liveness comes
// from connections. When a record arrives, the member is dialled and made
// a gossipsub direct peer, so joining through any one member is enough to
// find all of them: every member announces its DAG heads to each peer that
// connects and whenever they change, so records spread hop by hop even
// without gossip relays. Members that are not connected are redialled with
// per-peer exponential backoff and never given up, which also heals
// partitions. Connected peers are pinged every PingInterval; [Member.RTT] is
// the smoothed result.
//
// Restarts (rejoin.go, conns.go). A dial that finds another peer id at a
// member's address (a restart without the data directory) adopts that peer
// if the gater admits it; join addresses without a peer id and join URLs are
// dialled the same way under placeholder ids. A peer with a second
// connection gets its older ones probed, and a dead one (a restart behind a
// network cut) closes all of them so gossipsub starts afresh; a member that
// answers no ping for 5 s, or that gossipsub holds no stream to, is hung up
// and redialled. Every failure is logged, rate-limited per peer (loud.go),
// and counted in [Stats].
//
// A member that left (MarkLeft, or a record with StateLeft) is listed as left
// and no longer dialled; Forget, or ForgetAfter without a connection, deletes
// a member's record from the catalog for everyone (forget.go).
//
// Stream protocols for request/response work (anti-entropy, read-through)
// are registered with [Cluster.HandleStream] and opened with
// [Cluster.OpenStream], under "/<cluster>/".
//
// # Concurrency
//
// All exported methods are safe for concurrent use. The cluster owns its
// goroutines (connection watcher, notifier, dialer, duplicate-connection
// checker, pinger, record refresher, catalog head announcer, data stream
// writers and readers); [Cluster.Close]
// stops them and waits for them, then closes the catalog, gossipsub, the
// host and the datastore. Close is idempotent.
//
// Callbacks never run under a lock of this package. The [Cluster.OnMessage]
// handler runs on one goroutine per sending member, one message at a time
// for each; while it runs, that member's messages wait in its bounded send
// queue and overflow is dropped and counted. The message it is given is
// valid only until it returns: the reader reuses the buffer.
// [Cluster.Notify] callbacks run on another single goroutine; changes are
// coalesced per peer while they run, so nothing upstream ever blocks on
// them. Neither kind is called after Close returns.
package cluster
