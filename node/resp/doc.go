// Package resp serves a node over the Redis protocol (RESP2, and RESP3 after HELLO 3), so that
// any Redis client and redis-cli work unchanged.
//
// # Model
//
// A Server runs commands against a Backend (a *node.Node). For the commands it implements —
// strings, keys, expiry, WAIT, connection and server commands — replies are those of Redis
// 7.0 byte for byte, errors included; the package's differential test runs the same sessions
// against redis-server and compares the bytes. Request parsing follows Redis's own, including
// its protocol errors and inline (telnet) commands. COMMAND replies are Redis's metadata,
// captured from redis-server by internal/gencommands (go generate).
//
// # Why not a RESP server library
//
// tidwall/redcon, the best-kept Go RESP server library, was evaluated and not used: it copies
// every request (two or three allocations per command), grows its input buffer without bound
// (no request size limit), words protocol errors differently from Redis ("ERR expected '$', got
// ':'" without the "Protocol error:" prefix, no unauthenticated limits), parses inline commands
// differently (no \xHH escapes), and offers only a goroutine per
// connection. Exact error bytes, bounded buffers and the event loops below needed control of
// the read path, which is a few hundred lines here.
//
// # Connections and concurrency
//
// On Linux, plain TCP connections are served by a few epoll event loops (Config.EventLoops,
// default half the CPUs): a loop reads what a socket has, runs the complete requests, and writes
// the replies with one write, as Redis does, saving the empty read and the goroutine switch
// Go's netpoller needs per batch. TLS connections and other platforms get a goroutine per
// connection. Either way the commands of one connection run in order, and the Backend is
// called concurrently from many connections. A WAIT that must block moves its connection to a
// goroutine until it is answered, so a loop never blocks. A loop wraps each pass over its ready
// connections in the Backend's optional WritePasser (BeginWrites, EndWrites): a replicating
// node publishes the pass's writes as one batch when it ends, from the loop's goroutine.
// With Config.LoopSpin a loop whose last wait was short polls for up to that long before it
// sleeps in epoll_wait (off by default).
//
// Everything is bounded: connections (MaxClients), a request's size (MaxBulkLen,
// MaxRequestSize), replies buffered before they are written (MaxPipeline, 64 KiB), idle time
// (IdleTimeout) and time stuck writing to a client that does not read (WriteTimeout). Malformed
// input gets Redis's protocol error and the connection closes; the server never crashes on
// input (FuzzRESP).
//
// MULTI/EXEC queue a connection's commands and run them through the Backend's optional
// Transactor (node.Atomic): the queued commands run against a *node.Tx holding the store locks
// of the keys they name, so other connections see none or all of the transaction. Inside EXEC
// nothing blocks or leaves the node (GET does not read through, WAIT answers at once).
//
// WAIT and the replication section of INFO use the Backend's optional Replicator and Cluster
// methods, which *node.Node has.
//
// Shutdown stops accepting, lets every connection finish the requests it has received and
// closes it; blocked WAITs return the count they have. Close cuts everything at once. Both
// wait for every goroutine the server started.
package resp
