package node

import (
	"context"

	"github.com/geocache/geocache/crdt"
)

// ReadHashAt, ReadSetAt and ReadZSetAt are ReadHash, ReadSet and ReadZSet at time nowMs (unix
// ms, the node's clock as Now gives it), as GetLocalAt is Get: the RESP front end passes the
// time a run of pipelined reads read once and a key that aliases its input buffer, which these
// do not keep. Through the Backend interface the key string and the time cost a pipelined
// ZRANGE an allocation and a clock read each (time.Now was 4 % of a node serving ZRANGE).

// ReadHashAt is ReadHash at nowMs (see above).
func (n *Node) ReadHashAt(ctx context.Context, key string, nowMs int64, fn func(h *crdt.Hash)) (bool, error) {
	if err := n.check(ctx); err != nil {
		return false, err
	}
	return n.readCollVia(nodeWriter{n}, nowMs, key, crdt.TypeHash, func(c *coll) { fn(c.hash) })
}

// ReadSetAt is ReadSet at nowMs (see above).
func (n *Node) ReadSetAt(ctx context.Context, key string, nowMs int64, fn func(s *crdt.Set)) (bool, error) {
	if err := n.check(ctx); err != nil {
		return false, err
	}
	return n.readCollVia(nodeWriter{n}, nowMs, key, crdt.TypeSet, func(c *coll) { fn(c.set) })
}

// ReadZSetAt is ReadZSet at nowMs (see above).
func (n *Node) ReadZSetAt(ctx context.Context, key string, nowMs int64, fn func(z *crdt.ZSet)) (bool, error) {
	if err := n.check(ctx); err != nil {
		return false, err
	}
	return n.readCollVia(nodeWriter{n}, nowMs, key, crdt.TypeZSet, func(c *coll) { fn(c.zset) })
}
