package node

import (
	"context"
	"errors"
	"math/rand/v2"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// ErrNoSuchKey is returned by Rename when the source key is not live.
var ErrNoSuchKey = errors.New("node: no such key")

// Multi-key writes (RENAME, COPY) are ordinary per-key writes with fresh versions: the copy of
// the value under the new key is a last-writer-wins write of that key, the removal of the old
// key a delete tombstone. Each key then resolves by its own rule in every region; see
// docs/api.md for what that means when regions write the same keys concurrently.

// Rename moves src's value and expiry to dst, replacing dst, and deletes src. With nx it does
// nothing when dst is live and reports false. A src that is not live is ErrNoSuchKey. Renaming a
// key to itself changes nothing (true, or false with nx).
func (n *Node) Rename(ctx context.Context, src, dst string, nx bool) (bool, error) {
	if err := n.checkKeys(ctx, src, dst); err != nil {
		return false, err
	}
	nowMs := n.nowMs()
	v, exp, ok := n.store.Peek(src, nowMs)
	if !ok || v.tombstone() {
		return false, ErrNoSuchKey
	}
	if src == dst {
		return !nx, nil
	}
	if v.obj != nil {
		if !n.writeCollCopy(dst, v.obj, nx) {
			return false, nil
		}
	} else if !n.writeCopy(dst, v.data, v.flags, exp, nx) {
		return false, nil
	}
	n.remove(src, false, false)
	return true, nil
}

// Copy writes src's value and expiry under dst and reports whether it did: not when src is not
// live, nor when dst is live and replace is false.
func (n *Node) Copy(ctx context.Context, src, dst string, replace bool) (bool, error) {
	if err := n.checkKeys(ctx, src, dst); err != nil {
		return false, err
	}
	nowMs := n.nowMs()
	v, exp, ok := n.store.Peek(src, nowMs)
	if !ok || v.tombstone() || src == dst {
		return false, nil
	}
	if v.obj != nil {
		return n.writeCollCopy(dst, v.obj, !replace), nil
	}
	return n.writeCopy(dst, v.data, v.flags, exp, !replace), nil
}

func (n *Node) checkKeys(ctx context.Context, keys ...string) error {
	if err := n.check(ctx); err != nil {
		return err
	}
	for _, k := range keys {
		if err := n.checkKey(k); err != nil {
			return err
		}
	}
	return nil
}

// writeCopy writes data (already encoded, with its flags) under key with exactly the given
// expiry as a fresh local write; with nx only when key is not live. It reports whether it wrote.
func (n *Node) writeCopy(key string, data []byte, flags crdt.Flags, expiry int64, nx bool) bool {
	nowMs := n.nowMs()
	var out crdt.Entry
	wrote := false
	n.store.Apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		if nx && cur.Exists && !cur.Value.tombstone() {
			return lru.Update[value]{Action: lru.Keep}
		}
		v := n.newValue(nowMs, &cur, data, flags)
		out, wrote = v.entry(expiry), true
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: expiry}
	})
	if wrote {
		n.sets.Add(1)
		n.emit(key, out)
	}
	return wrote
}

// RandomKey returns a live key chosen at random (not uniformly: a random shard, then the first
// live keys met from there), or false when the node holds none.
func (n *Node) RandomKey(ctx context.Context) (string, bool, error) {
	if err := n.check(ctx); err != nil {
		return "", false, err
	}
	nowMs := n.nowMs()
	start := rand.Uint64N(uint64(n.store.Shards())) << 32
	cursor, wrapped := start, false
	for {
		var keys []string
		next := n.store.Scan(cursor, 16, nowMs, func(k string, v value, _ int64) {
			if !v.tombstone() {
				keys = append(keys, k)
			}
		})
		if len(keys) > 0 {
			return keys[rand.IntN(len(keys))], true, nil
		}
		if next == 0 {
			if wrapped || start == 0 {
				return "", false, nil
			}
			wrapped = true
		}
		if wrapped && next >= start {
			return "", false, nil
		}
		cursor = next
	}
}
