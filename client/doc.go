// Package client is the Go helper for applications that use a geocache
// cluster over the Redis protocol: it finds the cluster, measures which node
// is nearest, sends commands there with go-redis, fails over to the next
// nearest node when that one stops answering, and fails back when it
// recovers.
//
// # Model
//
// [New] asks the seeds (HTTP base URLs of any nodes) for the member list
// (GET /v1/members) and learns every node's RESP address, region,
// coordinates and state from it. A background loop then PINGs every node
// each ProbeInterval over a dedicated connection and feeds the round trips
// to a [geo.Tracker] (median filter then moving average, so one slow PING
// does not move a node), and refetches the member list each
// RefreshInterval.
//
// Calls go to the current node: the first of [geo.Rank] over the nodes
// that answer probes, healthy ones first. A node is healthy when it
// answers our probes and the member list says it is serving and reachable;
// a node that answers but is listed as joining, leaving or disconnected is
// used only when no healthy node is left. The failover policy:
//
//   - A call that fails with a connection error (refused, reset, timeout;
//     not a reply from the server) marks the node down, and the same call
//     is retried on the next nearest node, up to MaxAttempts nodes. So a
//     dead node costs the first call that finds it one failed attempt, and
//     later calls go straight to the next node.
//   - A node whose probe fails is down too; the client leaves it at the end
//     of that probe round even if no call noticed.
//   - A down node is used again after RecoverProbes probes in a row
//     succeed; if it is the nearest, the client fails back to it then. If
//     the last member list showed it not serving, the list is fetched
//     again at once rather than after RefreshInterval.
//   - Between healthy nodes the client moves only when another node's RTT
//     is below SwitchRatio × the current one's, so two nodes at similar
//     distance do not make it flap.
//
// Writes go to one node and replicate asynchronously, as with any geocache
// client; after a failover, reads see the new node's state, which may lag
// the failed node's latest writes by the replication delay.
//
// # Concurrency
//
// A [Client] is safe for concurrent use. It owns one goroutine (the probe
// and refresh loop), which starts short-lived probe goroutines and waits
// for them; [Client.Close] stops it and waits. Per node it holds one probe
// connection and one go-redis client (a connection pool). Config hooks
// (RedisOptions, Dialer, the Logger's handler) are never called with the
// client's lock held.
package client
