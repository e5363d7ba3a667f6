// Command geocache runs one geocache node: a geo-distributed, multi-master LRU cache that
// speaks the Redis protocol and HTTP/JSON and replicates to the nodes of other regions.
//
// With no arguments it starts a single node in memory on this machine only (RESP on
// 127.0.0.1:6379, HTTP on 127.0.0.1:8080) and prints where it listens. Flags, GEOCACHE_*
// environment variables and a YAML file (--config) set everything else; see geocache --help and
// docs/operations.md. It refuses to listen on a non-loopback address without credentials
// unless told to (--allow-insecure-remote).
//
// SIGINT or SIGTERM shut it down gracefully: stop accepting, finish the requests in flight,
// leave the cluster, close the node and exit 0 within --shutdown-timeout.
package main
