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
// the value under the new key is a last-writer-wins write of that key (a counter's current
// value), the removal of the old key a delete tombstone. Each key then resolves by its own rule in every region; see
// docs/api.md for what that means when regions write the same keys concurrently.

// Rename moves src's value and expiry to dst, replacing dst, and deletes src. With nx it does
// nothing when dst is live and reports false. A src that is not live is ErrNoSuchKey. Renaming a
// key to itself changes nothing (true, or false with nx).
func (n *Node) Rename(ctx context.Context, src, dst string, nx bool) (bool, error) {
	if err := n.checkKeys(ctx, src, dst); err != nil {
		return false, err
	}
	return n.rename(nodeWriter{n}, n.nowMs(), src, dst, nx, func(k string) { n.remove(k, false, false) })
}

// rename is Rename through w; del deletes a key through the same writer.
func (n *Node) rename(w writer, nowMs int64, src, dst string, nx bool, del func(string)) (bool, error) {
	v, exp, ok := w.peek(src, nowMs)
	if !ok || v.tombstone() {
		return false, ErrNoSuchKey
	}
	if src == dst {
		return !nx, nil
	}
	if v.obj() != nil {
		if !n.writeCollCopy(w, nowMs, dst, v.obj(), nx) {
			return false, nil
		}
	} else if data, flags := registerData(n.reps, &v, exp); !n.writeCopy(w, nowMs, dst, data, flags, exp, nx) {
		return false, nil
	}
	del(src)
	return true, nil
}

// Copy writes src's value and expiry under dst and reports whether it did: not when src is not
// live, nor when dst is live and replace is false.
func (n *Node) Copy(ctx context.Context, src, dst string, replace bool) (bool, error) {
	if err := n.checkKeys(ctx, src, dst); err != nil {
		return false, err
	}
	return n.copyKey(nodeWriter{n}, n.nowMs(), src, dst, replace), nil
}

// copyKey is Copy through w.
func (n *Node) copyKey(w writer, nowMs int64, src, dst string, replace bool) bool {
	v, exp, ok := w.peek(src, nowMs)
	if !ok || v.tombstone() || src == dst {
		return false
	}
	if v.obj() != nil {
		return n.writeCollCopy(w, nowMs, dst, v.obj(), !replace)
	}
	data, flags := registerData(n.reps, &v, exp)
	return n.writeCopy(w, nowMs, dst, data, flags, exp, !replace)
}

// registerData returns the bytes and flags of a register holding v's current value: a
// counter's value in decimal (the destination of a RENAME or COPY is a new key, whose own
// increments start from that register), any other value as stored.
func registerData(t *replicaTable, v *value, exp int64) ([]byte, crdt.Flags) {
	if v.typ() == crdt.TypeCounter {
		return counterItemValue(t, v, exp), 0
	}
	return v.data(), v.flags()
}

// checkKeys is checkWrite and checkKey of each key, for a write naming several (Rename, Copy).
func (n *Node) checkKeys(ctx context.Context, keys ...string) error {
	if err := n.checkWrite(ctx); err != nil {
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
// expiry as a fresh local write through w; with nx only when key is not live. It reports
// whether it wrote.
func (n *Node) writeCopy(w writer, nowMs int64, key string, data []byte, flags crdt.Flags, expiry int64, nx bool) bool {
	var out crdt.Entry
	wrote := false
	w.apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		if nx && cur.Exists && !cur.Value.tombstone() {
			return lru.Update[value]{Action: lru.Keep}
		}
		v := w.stamp(nowMs, &cur, data, flags)
		out, wrote = v.entry(n.reps, expiry), true
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: expiry}
	})
	if wrote {
		n.sets.Add(1)
		w.emit(key, out)
	}
	return wrote
}

// RandomKey returns a live key chosen at random (not uniformly: a random shard, then the first
// live keys met from there), or false when the node holds none.
func (n *Node) RandomKey(ctx context.Context) (string, bool, error) {
	if err := n.check(ctx); err != nil {
		return "", false, err
	}
	k, ok := randomKey(n.store.Scan, n.store.Shards(), n.nowMs())
	return k, ok, nil
}

// randomKey picks a live key with scan (the store's or a transaction's Scan) over shards
// shards.
func randomKey(scan func(cursor uint64, count int, now int64, fn func(string, value, int64)) uint64, shards int, nowMs int64) (string, bool) {
	start := rand.Uint64N(uint64(shards)) << 32
	cursor, wrapped := start, false
	for {
		var keys []string
		next := scan(cursor, 16, nowMs, func(k string, v value, _ int64) {
			if !v.tombstone() {
				keys = append(keys, k)
			}
		})
		if len(keys) > 0 {
			return keys[rand.IntN(len(keys))], true
		}
		if next == 0 {
			if wrapped || start == 0 {
				return "", false
			}
			wrapped = true
		}
		if wrapped && next >= start {
			return "", false
		}
		cursor = next
	}
}
