package node

import (
	"context"
	"errors"
)

// ErrFlushInTx is returned by a FLUSHALL inside a transaction or a script: a flush clears every
// shard under its own lock, which the transaction already holds.
var ErrFlushInTx = errors.New("node: FLUSHALL cannot run inside a transaction or a script")

// IncrBy is Node.IncrBy inside the transaction.
func (tx *Tx) IncrBy(_ context.Context, key string, delta int64) (int64, error) {
	if err := tx.writable(key); err != nil {
		return 0, err
	}
	if err := tx.room(key, 0); err != nil {
		return 0, err
	}
	return tx.n.incrBy(txWriter{tx}, tx.nowMs, key, delta)
}

// Modify is Node.Modify inside the transaction.
func (tx *Tx) Modify(_ context.Context, key string, fn func(cur []byte, live bool) ([]byte, bool, error)) ([]byte, error) {
	if err := tx.writable(key); err != nil {
		return nil, err
	}
	room := func(cur []byte, live bool) ([]byte, bool, error) {
		next, write, err := fn(cur, live)
		if err == nil && write {
			err = tx.room(key, len(next))
		}
		return next, write, err
	}
	return tx.n.modify(txWriter{tx}, tx.nowMs, key, room)
}

// Rename is Node.Rename inside the transaction.
func (tx *Tx) Rename(_ context.Context, src, dst string, nx bool) (bool, error) {
	if err := tx.writable(src); err != nil {
		return false, err
	}
	if err := tx.writable(dst); err != nil {
		return false, err
	}
	if err := tx.room(dst, 0); err != nil {
		return false, err
	}
	if err := tx.room(src, 0); err != nil {
		return false, err
	}
	return tx.n.rename(txWriter{tx}, tx.nowMs, src, dst, nx, func(k string) { tx.remove(k, false, false) })
}

// Copy is Node.Copy inside the transaction.
func (tx *Tx) Copy(_ context.Context, src, dst string, replace bool) (bool, error) {
	if err := tx.holds(src); err != nil {
		return false, err
	}
	if err := tx.writable(dst); err != nil {
		return false, err
	}
	if err := tx.room(dst, 0); err != nil {
		return false, err
	}
	return tx.n.copyKey(txWriter{tx}, tx.nowMs, src, dst, replace), nil
}

// RandomKey is Node.RandomKey; the transaction must hold the whole store (AtomicAll).
func (tx *Tx) RandomKey(_ context.Context) (string, bool, error) {
	if !tx.all {
		return "", false, ErrNotLocked
	}
	k, ok := randomKey(tx.l.Scan, tx.n.store.Shards(), tx.nowMs)
	return k, ok, nil
}

// Flush is refused inside a transaction (ErrFlushInTx).
func (tx *Tx) Flush(context.Context) (int, error) { return 0, ErrFlushInTx }
