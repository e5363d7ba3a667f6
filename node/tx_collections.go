package node

import (
	"context"

	"github.com/geocache/geocache/crdt"
)

// Collections inside a transaction: the same reads and read-modify-writes as on the node, under
// the transaction's locks, their writes in its unit.

// KeyType is Node.KeyType inside the transaction.
func (tx *Tx) KeyType(_ context.Context, key string) (string, error) {
	if err := tx.holds(key); err != nil {
		return "", err
	}
	v, _, ok := tx.l.Peek(key, tx.nowMs)
	if !ok || v.tombstone() {
		return "none", nil
	}
	return typeName(&v), nil
}

// MemoryUsage is Node.MemoryUsage inside the transaction.
func (tx *Tx) MemoryUsage(_ context.Context, key string) (int64, bool, error) {
	if err := tx.holds(key); err != nil {
		return 0, false, err
	}
	v, _, ok := tx.l.Peek(key, tx.nowMs)
	if !ok || v.tombstone() {
		return 0, false, nil
	}
	return int64(v.charge(key)), true, nil
}

func (tx *Tx) readColl(key string, typ crdt.Type, fn func(c *coll)) (bool, error) {
	if err := tx.holds(key); err != nil {
		return false, err
	}
	return tx.n.readCollVia(txWriter{tx}, tx.nowMs, key, typ, fn)
}

func (tx *Tx) updateColl(key string, typ crdt.Type, create bool, fn collFn) (bool, error) {
	if err := tx.writable(key); err != nil {
		return false, err
	}
	if err := tx.room(key, 0); err != nil {
		return false, err
	}
	return tx.n.updateCollVia(txWriter{tx}, tx.nowMs, key, typ, create, fn)
}

// ReadHash is Node.ReadHash inside the transaction.
func (tx *Tx) ReadHash(_ context.Context, key string, fn func(h *crdt.Hash)) (bool, error) {
	return tx.readColl(key, crdt.TypeHash, func(c *coll) { fn(c.hash) })
}

// UpdateHash is Node.UpdateHash inside the transaction.
func (tx *Tx) UpdateHash(_ context.Context, key string, create bool, fn func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash) (bool, error) {
	return tx.updateColl(key, crdt.TypeHash, create, hashDelta(fn))
}

// ReadSet is Node.ReadSet inside the transaction.
func (tx *Tx) ReadSet(_ context.Context, key string, fn func(s *crdt.Set)) (bool, error) {
	return tx.readColl(key, crdt.TypeSet, func(c *coll) { fn(c.set) })
}

// UpdateSet is Node.UpdateSet inside the transaction.
func (tx *Tx) UpdateSet(_ context.Context, key string, create bool, fn func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set) (bool, error) {
	return tx.updateColl(key, crdt.TypeSet, create, setDelta(fn))
}

// ReadZSet is Node.ReadZSet inside the transaction.
func (tx *Tx) ReadZSet(_ context.Context, key string, fn func(z *crdt.ZSet)) (bool, error) {
	return tx.readColl(key, crdt.TypeZSet, func(c *coll) { fn(c.zset) })
}

// UpdateZSet is Node.UpdateZSet inside the transaction.
func (tx *Tx) UpdateZSet(_ context.Context, key string, create bool, fn func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet) (bool, error) {
	return tx.updateColl(key, crdt.TypeZSet, create, zsetDelta(fn))
}
