// Package geo is geocache's locality core: coordinates and great-circle
// distance, a table of well-known cloud regions, a round-trip-time tracker
// that is robust to outliers, and the ranking that answers "which nodes are
// closest to (lat, lon)" ([Nearest]) and "which nodes are closest to me"
// ([Rank]).
//
// # Model
//
// Measured round trips beat geography: [Rank] orders candidates by their
// measured, smoothed RTT and falls back to an RTT estimated from great-circle
// distance ([EstimateRTT]) only for candidates never measured. Healthy
// candidates always come before unhealthy ones, and every tie is broken by
// candidate id, so a ranking is a deterministic total order: the same
// candidates in any input order give the same output.
//
// [Tracker] turns raw RTT samples into a smoothed estimate: each sample goes
// through a median filter over the last few samples before it reaches an
// exponentially weighted moving average, so isolated spikes (a retransmit,
// a GC pause, a busy peer) never move the estimate while a sustained change
// of route shows up after about half a window. Samples older than a maximum
// age are stale: a target not measured recently reports no RTT rather than
// an old one, and its next sample starts afresh.
//
// # Concurrency and purity
//
// The package does no I/O, starts no goroutines and never reads the wall
// clock: the current time is passed in, so tests drive minutes of ageing
// instantly. A [Tracker] is not safe for concurrent use; its owner guards it.
// Everything else is an immutable value or a pure function. There is no
// package-level mutable state: the region table is read-only and handed out
// as copies.
package geo
