// Package rdb reads and writes the payloads of Redis's DUMP and RESTORE (Redis 7.0, RDB version
// 10): one RDB object (a type byte and the encoded value) followed by the RDB version (2 bytes,
// little-endian) and the CRC-64 (Jones) of everything before it (8 bytes, little-endian).
//
// Decode reads the strings, hashes, sets and sorted sets of every encoding redis-server 7.0
// writes (raw, integer and LZF strings; plain, ziplist and listpack hashes; plain and intset
// sets; zset2, ziplist and listpack sorted sets) and validates them as deeply as Redis does with
// sanitize-dump-payload yes: a payload that is truncated, inconsistent or holds duplicates is an
// error, never a panic. The Append functions write the plain encodings (string 0, set 2, hash 4,
// zset2 5), which every Redis since 4.0 reads.
//
// The package is pure: no I/O, no state; every function is safe for concurrent use.
package rdb
