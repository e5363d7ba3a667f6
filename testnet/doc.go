// Package testnet runs real geocache processes on one machine as a multi-region network and
// checks them.
//
// The model: every node is a separate geocache process with its own loopback address. Nodes
// reach each other only through the Emulator, a userspace WAN: one relay front per node, which
// attributes each incoming connection to the node process that opened it and relays it through
// an order-preserving delay queue per direction (the one-way delay of the directed link, with
// optional jitter). Links can be cut (reset and refused), stalled (bytes held) and healed while
// traffic flows. A Cluster starts the processes (identities written up front, so peer ids and
// join addresses are known), injects process faults (kill -9, SIGTERM, SIGSTOP/SIGCONT,
// restart, clock skew) and network faults, and records them in an EventLog.
//
// Instruments: a Workload of per-node RESP clients records a History; a LagProber measures
// replication lag per directed pair; a Sampler records a convergence timeline. After heal and
// quiescence, Check verifies agreement, last-writer-wins among acknowledged writes, no
// resurrected deletes, expiry, read-your-writes and monotonic reads, with evidence for every
// violation. Scenarios are scripts (ParseScript); RunScenario runs one on a fresh network,
// RunRandom runs seeded random fault schedules on one network, WriteReport writes Markdown with
// SVG charts.
//
// Concurrency: Emulator, Cluster, EventLog, Workload, LagProber, Sampler and Samples are safe for
// concurrent use; each owns the goroutines it starts and its Close or Stop waits for them. No
// package-level mutable state: several networks can run in one process (each in its own
// 127.X.0.0/16 block). Linux only: it reads /proc and uses timerfds.
package testnet
