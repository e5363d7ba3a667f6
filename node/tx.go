package node

import (
	"context"
	"errors"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// Transactions. Atomic runs a function over a set of keys with the write locks of their store
// shards held (taken in shard order, so transactions never deadlock each other, and ordinary
// operations hold one shard lock at a time). No other operation on this node — a read, a write
// or a replicated delta — interleaves with it: other goroutines see none or all of its writes.
// Ordinary reads and writes pay nothing for this; they take their shard's lock as before.
//
// All writes of a transaction share one dot (one seq of this replica), so they replicate as one
// unit: gossip and anti-entropy from the delta log ship the unit whole and peers apply it under
// the locks of its keys' shards. Conflicts are still resolved per key by the LWW rule: a newer
// write elsewhere to one of the keys wins over that key's write in the unit.

// Errors of transactions.
var (
	// ErrNotLocked is returned by a Tx operation on a key that was not declared to Atomic, or by
	// a whole-store operation (Len, Scan, Stats) in a transaction not started with AtomicAll.
	ErrNotLocked = errors.New("node: key not declared to the transaction")
	// ErrTxTooLarge is returned by a write that would make a transaction's unit larger than
	// what replication ships as one message (MaxTxWrites keys, MaxTxBytes bytes).
	ErrTxTooLarge = errors.New("node: transaction too large to replicate as one unit")
)

// Bounds of one transaction's writes, so that its unit fits one gossip message and one sync
// frame (and a receiver's batch limit).
const (
	MaxTxWrites = 4000    // distinct keys written
	MaxTxBytes  = 4 << 20 // bytes of keys and values written
)

// Tx is a transaction in progress, handed to the function given to Atomic. Its methods read and
// write the declared keys like the Node methods of the same name, without read-through (a
// transaction never waits for the network). It is not safe for concurrent use and must not be
// used after the function returns.
type Tx struct {
	n     *Node
	l     *lru.Locked[string, value, lru.InValue]
	all   bool
	nowMs int64  // one clock reading for the whole transaction, as Redis's EXEC sees one time
	seq   uint64 // the transaction's dot, issued at its first write
	out   []crdt.Delta
	keys  map[string]int // index in out of each written key's last write
	bytes int
}

// Atomic runs fn with the keys locked (see the package's transaction notes above). fn must be
// short — readers of the same shards wait — and must not call the Node (that could wait for a
// lock the transaction holds); it works through tx. Writes fn made are kept even if it returns
// an error (there is no rollback, as in Redis's EXEC) and are replicated as one unit after the
// locks are released. Atomic returns fn's error.
func (n *Node) Atomic(ctx context.Context, keys []string, fn func(tx *Tx) error) error {
	if err := n.checkWrite(ctx); err != nil {
		return err
	}
	// An oversized key is locked like any other; the operation naming it fails.
	return n.atomic(keys, false, fn)
}

// AtomicAll is Atomic over the whole store: every key may be used, and Len, Scan and Stats
// work. It stops every other operation of the node while fn runs.
func (n *Node) AtomicAll(ctx context.Context, fn func(tx *Tx) error) error {
	if err := n.checkWrite(ctx); err != nil {
		return err
	}
	return n.atomic(nil, true, fn)
}

func (n *Node) atomic(keys []string, all bool, fn func(tx *Tx) error) error {
	tx := &Tx{n: n, all: all, nowMs: n.nowMs()}
	tx.l = n.store.Lock(keys, all)
	var err error
	func() {
		// Unlock and replicate whatever was written even if fn panics: the writes are applied
		// here and must reach the peers.
		defer tx.commit()
		err = fn(tx)
	}()
	return err
}

// commit releases the locks and hands the writes to replication as one unit.
func (tx *Tx) commit() {
	tx.l.Unlock()
	if len(tx.out) == 0 || tx.n.sink == nil {
		return
	}
	// A key written twice keeps its last write only: the unit carries final states. A
	// collection's write is a delta of the elements it changed, not a state, so every write of
	// a key that holds a collection stays, in order (the receiver joins them one by one).
	unit := make([]crdt.Delta, 0, len(tx.keys))
	for i := range tx.out {
		if tx.keys[tx.out[i].Key] == i || tx.out[i].Entry.Type.IsCollection() {
			unit = append(unit, tx.out[i])
		}
	}
	if len(unit) == 1 || tx.n.unitSink == nil {
		for i := range unit {
			tx.n.sink(unit[i])
		}
		return
	}
	tx.n.unitSink(unit)
}

// holds checks that key is declared to the transaction.
func (tx *Tx) holds(key string) error {
	if !tx.l.Holds(key) {
		return ErrNotLocked
	}
	return nil
}

// writable checks that key is declared and small enough to be written.
func (tx *Tx) writable(key string) error {
	if err := tx.n.checkKey(key); err != nil {
		return err
	}
	return tx.holds(key)
}

// write stamps a write of the transaction replacing cur: a fresh version above cur's, and the
// transaction's dot.
func (tx *Tx) write(cur *lru.Current[value], data []byte, flags crdt.Flags) value {
	after := crdt.Timestamp(cur.Floor)
	if cur.Exists {
		after = cur.Value.ts
	}
	ver, seq := tx.n.stampSeq(tx.nowMs, after, tx.seq)
	tx.seq = seq
	v, _ := tx.n.reps.newValue(ver, seq, crdt.TypeLWW, flags) // this node's own writer: never full
	v.setData(data)
	tx.n.trackTombstone(cur, &v)
	return v
}

// room reports whether writing key with size bytes keeps the unit within its bounds.
func (tx *Tx) room(key string, size int) error {
	if _, ok := tx.keys[key]; !ok && len(tx.keys) >= MaxTxWrites {
		return ErrTxTooLarge
	}
	if tx.bytes+len(key)+size > MaxTxBytes {
		return ErrTxTooLarge
	}
	return nil
}

func (tx *Tx) record(key string, e crdt.Entry) {
	if tx.keys == nil {
		tx.keys = make(map[string]int)
	}
	tx.keys[key] = len(tx.out)
	tx.out = append(tx.out, crdt.Delta{Key: key, Entry: e})
	tx.bytes += len(key) + len(e.Value)
}

// Now is the transaction's time: one clock reading taken when it started.
func (tx *Tx) Now() time.Time { return time.UnixMilli(tx.nowMs) }

// Get returns the live value of key and marks it recently used. It answers from this node only.
func (tx *Tx) Get(_ context.Context, key string) (Item, bool, error) {
	if err := tx.holds(key); err != nil {
		return Item{}, false, err
	}
	v, exp, ok := tx.l.Get(key, tx.nowMs)
	if !ok {
		return Item{}, false, nil
	}
	if v.tombstone() {
		tx.n.tombHits.Add(1)
		return Item{}, false, nil
	}
	return tx.n.itemOf(&v, exp), true, nil
}

// Peek is Get without touching the key's recency or the hit statistics.
func (tx *Tx) Peek(_ context.Context, key string) (Item, bool, error) {
	if err := tx.holds(key); err != nil {
		return Item{}, false, err
	}
	v, exp, ok := tx.l.Peek(key, tx.nowMs)
	if !ok || v.tombstone() {
		return Item{}, false, nil
	}
	return tx.n.itemOf(&v, exp), true, nil
}

// Set is Node.Set inside the transaction.
func (tx *Tx) Set(_ context.Context, key string, val []byte, opt SetOptions) (SetResult, error) {
	n := tx.n
	if err := tx.writable(key); err != nil {
		return SetResult{}, err
	}
	if len(val) > n.cfg.MaxValueSize {
		return SetResult{}, ErrValueTooLarge
	}
	if err := tx.room(key, len(val)); err != nil {
		return SetResult{}, err
	}
	data, flags, err := crdt.EncodeValue(opt.ContentType, val)
	if err != nil {
		return SetResult{}, err
	}
	expiry := n.expiryFor(opt, tx.nowMs)
	var res SetResult
	var out crdt.Entry
	tx.l.Do(key, tx.nowMs, func(cur lru.Current[value]) lru.Update[value] {
		live := cur.Exists && !cur.Value.tombstone()
		if live && opt.Get {
			res.Prev, res.HadPrev = tx.n.itemOf(&cur.Value, cur.Expiry), true
		}
		if (opt.NX && live) || (opt.XX && !live) {
			return lru.Update[value]{Action: lru.Keep}
		}
		exp := expiry
		if opt.KeepTTL && live {
			exp = cur.Expiry
		}
		v := tx.write(&cur, data, flags)
		res.Written, res.Version = true, v.ver(n.reps)
		out = v.entry(n.reps, exp)
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
	})
	if res.Written {
		n.sets.Add(1)
		tx.record(key, out)
	}
	return res, nil
}

// MSet is Node.MSet inside the transaction: every pair or, on an error, none.
func (tx *Tx) MSet(ctx context.Context, kv map[string][]byte) error {
	size := 0
	for k, v := range kv {
		if err := tx.writable(k); err != nil {
			return err
		}
		if len(v) > tx.n.cfg.MaxValueSize {
			return ErrValueTooLarge
		}
		size += len(k) + len(v)
	}
	if len(tx.keys)+len(kv) > MaxTxWrites || tx.bytes+size > MaxTxBytes {
		return ErrTxTooLarge
	}
	for k, v := range kv {
		if _, err := tx.Set(ctx, k, v, SetOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// Delete is Node.Delete inside the transaction.
func (tx *Tx) Delete(_ context.Context, keys ...string) (int, error) {
	for _, k := range keys {
		if err := tx.writable(k); err != nil {
			return 0, err
		}
		if err := tx.room(k, 0); err != nil {
			return 0, err
		}
	}
	count := 0
	for _, k := range keys {
		if _, live := tx.remove(k, false, false); live {
			count++
		}
	}
	return count, nil
}

// GetDel is Node.GetDel inside the transaction.
func (tx *Tx) GetDel(_ context.Context, key string) (Item, bool, error) {
	if err := tx.writable(key); err != nil {
		return Item{}, false, err
	}
	if err := tx.room(key, 0); err != nil {
		return Item{}, false, err
	}
	it, live := tx.remove(key, true, false)
	return it, live, nil
}

// remove is Node.remove inside the transaction.
func (tx *Tx) remove(key string, wantItem, onlyLive bool) (Item, bool) {
	return tx.n.removeVia(txWriter{tx}, tx.nowMs, key, wantItem, onlyLive)
}

// Exists is Node.Exists inside the transaction.
func (tx *Tx) Exists(_ context.Context, keys ...string) (int, error) {
	count := 0
	for _, k := range keys {
		if err := tx.holds(k); err != nil {
			return 0, err
		}
		if v, _, ok := tx.l.Peek(k, tx.nowMs); ok && !v.tombstone() {
			count++
		}
	}
	return count, nil
}

// Touch is Node.Touch inside the transaction.
func (tx *Tx) Touch(_ context.Context, keys ...string) (int, error) {
	count := 0
	for _, k := range keys {
		if err := tx.holds(k); err != nil {
			return 0, err
		}
		if v, _, ok := tx.l.Peek(k, tx.nowMs); ok && !v.tombstone() && tx.l.Touch(k, tx.nowMs) {
			count++
		}
	}
	return count, nil
}

// Expire is Node.Expire inside the transaction.
func (tx *Tx) Expire(_ context.Context, key string, at time.Time) (bool, error) {
	return tx.rewriteExpiry(key, at.UnixMilli(), false)
}

// Persist is Node.Persist inside the transaction.
func (tx *Tx) Persist(_ context.Context, key string) (bool, error) {
	return tx.rewriteExpiry(key, 0, true)
}

// rewriteExpiry is Node.rewriteExpiry inside the transaction; keep the two in step.
func (tx *Tx) rewriteExpiry(key string, atMs int64, persist bool) (bool, error) {
	if err := tx.writable(key); err != nil {
		return false, err
	}
	if err := tx.room(key, 0); err != nil {
		return false, err
	}
	return tx.n.rewriteExpiryVia(txWriter{tx}, tx.nowMs, key, atMs, persist, func(size int) error { return tx.room(key, size) })
}

// Len is Node.Len; the transaction must hold the whole store (AtomicAll), else it returns 0.
func (tx *Tx) Len() int {
	if !tx.all {
		return 0
	}
	return max(tx.l.Len()-int(tx.n.tombEntries.Load()), 0)
}

// Scan is Node.Scan; the transaction must hold the whole store (AtomicAll).
func (tx *Tx) Scan(_ context.Context, cursor uint64, match string, count int) ([]string, uint64, error) {
	if !tx.all {
		return nil, 0, ErrNotLocked
	}
	if count <= 0 {
		count = 10
	}
	var keys []string
	next := tx.l.Scan(cursor, count, tx.nowMs, func(k string, v value, _ int64) {
		if !v.tombstone() && (match == "" || match == "*" || Match(match, k)) {
			keys = append(keys, k)
		}
	})
	return keys, next, nil
}

// Stats is Node.Stats; the transaction must hold the whole store (AtomicAll), else it returns
// the counters that need no store lock only.
func (tx *Tx) Stats() Stats {
	if !tx.all {
		return tx.n.statsFrom(lru.Stats{}, 0)
	}
	return tx.n.statsFrom(tx.l.Stats(), tx.Len())
}

// KeyState is a key's state as WATCH sees it: whether it is live, and the version of its entry
// when it is.
type KeyState struct {
	Live    bool
	Version crdt.Version
}

// Changed reports whether a key whose state was w is changed in now: a live key was rewritten
// (any write gives a new version, even of the same value), expired, evicted or deleted, or an
// absent key became live. An absent key that is still absent is unchanged even if it was
// written and deleted meanwhile: the check compares states, not histories.
func (w KeyState) Changed(now KeyState) bool {
	return w.Live != now.Live || (w.Live && w.Version != now.Version)
}

// KeyState returns key's state, without touching its recency.
func (n *Node) KeyState(key string) KeyState {
	v, _, ok := n.store.Peek(key, n.nowMs())
	if !ok || v.tombstone() {
		return KeyState{}
	}
	return KeyState{Live: true, Version: v.ver(n.reps)}
}

// KeyState returns key's state inside the transaction.
func (tx *Tx) KeyState(key string) (KeyState, error) {
	if err := tx.holds(key); err != nil {
		return KeyState{}, err
	}
	v, _, ok := tx.l.Peek(key, tx.nowMs)
	if !ok || v.tombstone() {
		return KeyState{}, nil
	}
	return KeyState{Live: true, Version: v.ver(tx.n.reps)}, nil
}
