package node

import (
	"context"
	"strings"
	"time"
	"unsafe"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// Item is a cached value as returned by reads.
type Item struct {
	// Value is the stored bytes. It is shared with the cache: do not modify it.
	Value []byte
	// ContentType is the content type given when the value was written, or "".
	ContentType string
	// ExpireAt is when the key expires; the zero Time means never.
	ExpireAt time.Time
	// Version is the (HLC timestamp, replica) pair that won for this key.
	Version crdt.Version
}

func (n *Node) itemOf(v *value, expiry int64) Item {
	e := v.entry(n.reps, expiry)
	it := Item{Value: e.Data(), ContentType: e.ContentType(), Version: v.ver(n.reps)}
	if v.typ() == crdt.TypeCounter {
		it.Value = counterItemValue(n.reps, v, expiry)
	}
	if expiry != 0 {
		it.ExpireAt = time.UnixMilli(expiry)
	}
	return it
}

// Get returns the live value of key and marks it recently used. On a local miss of a key that
// may live elsewhere (ReadThroughCandidate) a replicating node asks its nearest peers
// (read-through, see Config.DisableReadThrough), which can take up to Config.ReadThroughTimeout, and then, with Config.Loader, loads the key from the origin
// (see Fill; a loader failure is a *LoadError). GetLocal never leaves the node.
func (n *Node) Get(ctx context.Context, key string) (Item, bool, error) {
	it, ok, err := n.GetLocal(ctx, key)
	if err != nil || ok || !n.FillCandidate(key) {
		return it, ok, err
	}
	return n.Fill(ctx, key)
}

// GetLocal is Get without read-through: it answers from this node only.
func (n *Node) GetLocal(ctx context.Context, key string) (Item, bool, error) {
	return n.GetLocalAt(ctx, key, n.nowMs())
}

// GetLocalAt is GetLocal at time nowMs (unix ms, from Now): a front end serving a run of
// pipelined reads passes one reading of the clock to all of them.
func (n *Node) GetLocalAt(ctx context.Context, key string, nowMs int64) (Item, bool, error) {
	if err := n.check(ctx); err != nil {
		return Item{}, false, err
	}
	v, exp, ok := n.store.Get(key, nowMs)
	if !ok {
		return Item{}, false, nil
	}
	if v.tombstone() {
		n.tombHits.Add(1)
		return Item{}, false, nil
	}
	if v.obj() != nil {
		return Item{}, false, ErrWrongType
	}
	return n.itemOf(&v, exp), true, nil
}

// ReadThroughCandidate reports whether a local miss of key would be worth a read-through: the
// node replicates with read-through on, has a connected peer, the key may live elsewhere while
// absent here (mayLiveElsewhere: this node evicted it, or is still warming up), it holds no
// delete tombstone for the key and has not recently found it absent everywhere. It never blocks, so event-loop front ends
// call it to decide whether to hand a miss to a goroutine.
func (n *Node) ReadThroughCandidate(key string) bool {
	if n.repl == nil || n.cfg.DisableReadThrough || n.repl.peersUp.Load() == 0 || !n.mayLiveElsewhere(key) || n.neg.has(key, time.Now()) {
		return false
	}
	v, _, ok := n.store.Peek(key, n.nowMs())
	return !ok || !v.tombstone()
}

// ReadThrough asks the nearest peers for key (hedged, bounded by Config.ReadThroughTimeout)
// and keeps a hit locally under its original version. It may block for the timeout.
func (n *Node) ReadThrough(ctx context.Context, key string) (Item, bool, error) {
	if err := n.check(ctx); err != nil {
		return Item{}, false, err
	}
	it, ok := n.readThrough(ctx, key)
	return it, ok, nil
}

// Peek is Get without touching the key's recency or the hit statistics.
func (n *Node) Peek(ctx context.Context, key string) (Item, bool, error) {
	if err := n.check(ctx); err != nil {
		return Item{}, false, err
	}
	v, exp, ok := n.store.Peek(key, n.nowMs())
	if !ok || v.tombstone() {
		return Item{}, false, nil
	}
	if v.obj() != nil {
		// A collection has no string value; expiry commands read its ExpireAt.
		it := Item{Version: v.ver(n.reps)}
		if exp != 0 {
			it.ExpireAt = time.UnixMilli(exp)
		}
		return it, true, nil
	}
	return n.itemOf(&v, exp), true, nil
}

// MGet returns the items of keys in order; found[i] reports whether keys[i] was live. It
// answers from this node only (no read-through), so it never waits on the network.
func (n *Node) MGet(ctx context.Context, keys ...string) (items []Item, found []bool, err error) {
	items = make([]Item, len(keys))
	found = make([]bool, len(keys))
	for i, k := range keys {
		if items[i], found[i], err = n.GetLocal(ctx, k); err != nil {
			return nil, nil, err
		}
	}
	return items, found, nil
}

// SetOptions modify a Set.
type SetOptions struct {
	// TTL is a relative expiry; 0 means none (or Config.DefaultTTL).
	TTL time.Duration
	// ExpireAt is an absolute expiry and wins over TTL when non-zero. A time in the past
	// writes a value that is already expired, as Redis does.
	ExpireAt time.Time
	// KeepTTL keeps the expiry of the value being replaced.
	KeepTTL bool
	// NX writes only if the key is absent; XX only if it is present.
	NX, XX bool
	// Get asks for the previous item in SetResult.
	Get bool
	// ContentType is stored with the value and returned by reads (at most 255 bytes).
	ContentType string
}

// SetResult reports what a Set did.
type SetResult struct {
	// Written is false when NX or XX prevented the write.
	Written bool
	// Prev is the replaced item when SetOptions.Get was set and HadPrev is true.
	Prev    Item
	HadPrev bool
	// Version is the version of the write when Written.
	Version crdt.Version
}

// Set writes value under key on this node and hands the write to replication. It returns once
// the write is applied locally.
func (n *Node) Set(ctx context.Context, key string, val []byte, opt SetOptions) (SetResult, error) {
	return n.set(ctx, key, false, val, opt, 0)
}

// SetBytes is Set with the key as bytes, which it does not keep: a server that reads keys into
// a buffer it reuses passes them without making a string of each. Without a content type the
// key's only copy is the one in front of the value's bytes, where the store keeps it.
func (n *Node) SetBytes(ctx context.Context, key []byte, val []byte, opt SetOptions) (SetResult, error) {
	return n.SetBytesAt(ctx, key, val, opt, 0)
}

// SetBytesAt is SetBytes at a time the caller read (unix ms, from Now) for a run of quick
// commands, as Redis reads its clock once per command loop iteration rather than per command:
// a pipeline of SETs on an event loop reads it once (time.Now cost 4 % of a writing node's CPU
// under a SET flood). The write's version is still later than anything this node issued or
// saw; a TTL counts from nowMs. nowMs 0 reads the clock.
func (n *Node) SetBytesAt(ctx context.Context, key []byte, val []byte, opt SetOptions, nowMs int64) (SetResult, error) {
	return n.set(ctx, unsafe.String(unsafe.SliceData(key), len(key)), true, val, opt, nowMs)
}

// set is Set; borrowed says key is a view of the caller's buffer (SetBytes): what outlives the
// call is made from a copy. It writes at nowMs (unix ms), or reads the clock when that is 0.
func (n *Node) set(ctx context.Context, key string, borrowed bool, val []byte, opt SetOptions, nowMs int64) (SetResult, error) {
	if err := n.checkWrite(ctx); err != nil {
		return SetResult{}, err
	}
	if err := n.checkKey(key); err != nil {
		return SetResult{}, err
	}
	if len(val) > n.cfg.MaxValueSize {
		return SetResult{}, ErrValueTooLarge
	}
	var data, kb []byte
	var flags crdt.Flags
	if opt.ContentType == "" {
		// The value's bytes go straight behind a copy of the key, where the store keeps them
		// (own), instead of being copied there a second time.
		kb = keyedCopy(key, val)
		data = kb[len(key) : len(key)+len(val)]
		// From here the key is the block's copy (never written again): the write's delta and
		// the store share it, and a borrowed key is let go.
		key = unsafe.String(unsafe.SliceData(kb), len(key))
	} else {
		if borrowed {
			key = strings.Clone(key)
		}
		var err error
		if data, flags, err = crdt.EncodeValue(opt.ContentType, val); err != nil {
			return SetResult{}, err
		}
	}
	if nowMs == 0 {
		nowMs = n.nowMs()
	}
	expiry := n.expiryFor(opt, nowMs)
	var res SetResult
	var out crdt.Entry
	n.store.Do(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		live := cur.Exists && !cur.Value.tombstone()
		if live && opt.Get {
			res.Prev, res.HadPrev = n.itemOf(&cur.Value, cur.Expiry), true
		}
		if (opt.NX && live) || (opt.XX && !live) {
			return lru.Update[value]{Action: lru.Keep}
		}
		exp := expiry
		if opt.KeepTTL && live {
			exp = cur.Expiry
		}
		v := n.newValue(nowMs, &cur, data, flags)
		if kb != nil {
			v.setKeyed(kb, len(key))
		}
		res.Written, res.Version = true, v.ver(n.reps)
		out = v.entry(n.reps, exp)
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
	})
	if res.Written {
		n.sets.Add(1)
		n.emit(key, out)
	}
	return res, nil
}

// newValue stamps a local write replacing cur. It runs under the key's store lock.
func (n *Node) newValue(nowMs int64, cur *lru.Current[value], data []byte, flags crdt.Flags) value {
	after := crdt.Timestamp(cur.Floor)
	if cur.Exists {
		after = cur.Value.ts
	}
	ver, seq := n.stamp(nowMs, after)
	v, _ := n.reps.newValue(ver, seq, crdt.TypeLWW, flags) // this node's own writer: never full
	v.setData(data)
	n.trackTombstone(cur, &v)
	return v
}

// trackTombstone keeps the count of delete tombstones held as entries when cur is replaced by
// next, so Len counts live keys only.
func (n *Node) trackTombstone(cur *lru.Current[value], next *value) {
	was := cur.Exists && cur.Value.tombstone()
	if was != next.tombstone() {
		if was {
			n.tombEntries.Add(-1)
		} else {
			n.tombEntries.Add(1)
		}
	}
}

func (n *Node) expiryFor(opt SetOptions, nowMs int64) int64 {
	switch {
	case !opt.ExpireAt.IsZero():
		return opt.ExpireAt.UnixMilli()
	case opt.TTL > 0:
		return nowMs + opt.TTL.Milliseconds()
	case n.cfg.DefaultTTL > 0 && !opt.KeepTTL:
		return nowMs + n.cfg.DefaultTTL.Milliseconds()
	}
	return 0
}

// MSet writes every pair with no expiry (or Config.DefaultTTL). The pairs are applied one by
// one; each is replicated as its own write.
func (n *Node) MSet(ctx context.Context, kv map[string][]byte) error {
	for k, v := range kv {
		if err := n.checkKey(k); err != nil {
			return err
		}
		if len(v) > n.cfg.MaxValueSize {
			return ErrValueTooLarge
		}
	}
	for k, v := range kv {
		if _, err := n.Set(ctx, k, v, SetOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes keys and returns how many were live here. A delete is replicated as a
// tombstone even for a key absent on this node (it may live in other regions), so an older
// write arriving late cannot bring the key back anywhere.
func (n *Node) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := n.checkWrite(ctx); err != nil {
		return 0, err
	}
	count := 0
	for _, k := range keys {
		if err := n.checkKey(k); err != nil {
			return count, err
		}
		if _, live := n.remove(k, false, false); live {
			count++
		}
	}
	return count, nil
}

// GetDel deletes key and returns the item it held.
func (n *Node) GetDel(ctx context.Context, key string) (Item, bool, error) {
	if err := n.checkWrite(ctx); err != nil {
		return Item{}, false, err
	}
	if err := n.checkKey(key); err != nil {
		return Item{}, false, err
	}
	it, live := n.remove(key, true, false)
	return it, live, nil
}

// remove writes a delete tombstone for key with a fresh version and reports whether the key was
// live (with its item when wantItem). The tombstone is written whether the key is live, absent or
// already a tombstone here: the key may live in a region cut off from us, written there after our
// last delete, and only a newer version lets this delete win there (the last writer in real time
// wins under the one clock). With onlyLive it writes nothing for a key that is not live (an
// EXPIRE into the past of a missing key).
func (n *Node) remove(key string, wantItem, onlyLive bool) (Item, bool) {
	return n.removeVia(nodeWriter{n}, n.nowMs(), key, wantItem, onlyLive)
}

// removeVia is remove through w (the node, or a transaction).
func (n *Node) removeVia(w writer, nowMs int64, key string, wantItem, onlyLive bool) (Item, bool) {
	var it Item
	var live, wrote bool
	var out crdt.Entry
	w.apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		live = cur.Exists && !cur.Value.tombstone()
		if onlyLive && !live {
			return lru.Update[value]{Action: lru.Keep}
		}
		if live && wantItem {
			it = n.itemOf(&cur.Value, cur.Expiry)
		}
		v := w.stamp(nowMs, &cur, nil, crdt.FlagTombstone)
		exp := nowMs + n.cfg.TombstoneTTL.Milliseconds()
		out, wrote = v.entry(n.reps, exp), true
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
	})
	if wrote {
		n.deletes.Add(1)
		w.emit(key, out)
	}
	return it, live
}

// Exists counts the keys that are live, counting a key once per mention as Redis does. It does
// not touch recency.
func (n *Node) Exists(ctx context.Context, keys ...string) (int, error) {
	if err := n.check(ctx); err != nil {
		return 0, err
	}
	nowMs, count := n.nowMs(), 0
	for _, k := range keys {
		if v, _, ok := n.store.Peek(k, nowMs); ok && !v.tombstone() {
			count++
		}
	}
	return count, nil
}

// Touch marks keys recently used and returns how many were live.
func (n *Node) Touch(ctx context.Context, keys ...string) (int, error) {
	if err := n.check(ctx); err != nil {
		return 0, err
	}
	nowMs, count := n.nowMs(), 0
	for _, k := range keys {
		if v, _, ok := n.store.Peek(k, nowMs); ok && !v.tombstone() && n.store.Touch(k, nowMs) {
			count++
		}
	}
	return count, nil
}

// Expire sets key to expire at the given time and reports whether the key was live. A time not
// after now deletes the key. The new expiry is an ordinary replicated write.
func (n *Node) Expire(ctx context.Context, key string, at time.Time) (bool, error) {
	return n.rewriteExpiry(ctx, key, at.UnixMilli(), false)
}

// Persist removes key's expiry and reports whether there was one to remove.
func (n *Node) Persist(ctx context.Context, key string) (bool, error) {
	return n.rewriteExpiry(ctx, key, 0, true)
}

func (n *Node) rewriteExpiry(ctx context.Context, key string, atMs int64, persist bool) (bool, error) {
	if err := n.checkWrite(ctx); err != nil {
		return false, err
	}
	if err := n.checkKey(key); err != nil {
		return false, err
	}
	return n.rewriteExpiryVia(nodeWriter{n}, n.nowMs(), key, atMs, persist, nil)
}

// rewriteExpiryVia is the expiry rewrite of Expire and Persist through w (the node, or a
// transaction). room, when set, may refuse a write of that many value bytes.
func (n *Node) rewriteExpiryVia(w writer, nowMs int64, key string, atMs int64, persist bool, room func(int) error) (bool, error) {
	if !persist && atMs <= nowMs {
		_, live := n.removeVia(w, nowMs, key, false, true)
		return live, nil
	}
	var done bool
	var out crdt.Entry
	var err error
	w.apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		if !cur.Exists || cur.Value.tombstone() || (persist && cur.Expiry == 0) {
			return lru.Update[value]{Action: lru.Keep}
		}
		if room != nil {
			if err = room(len(cur.Value.data())); err != nil {
				return lru.Update[value]{Action: lru.Keep}
			}
		}
		if cur.Value.obj() != nil {
			var up lru.Update[value]
			up, out = n.expireColl(w, key, &cur, atMs, nowMs)
			done = true
			return up
		}
		if cur.Value.typ() == crdt.TypeCounter {
			v, d, ok := n.rewriteCounterExpiry(w, nowMs, &cur, atMs)
			if !ok {
				return lru.Update[value]{Action: lru.Keep}
			}
			out, done = d, true
			return lru.Update[value]{Action: lru.Put, Value: v, Expiry: atMs}
		}
		v := w.stamp(nowMs, &cur, cur.Value.data(), cur.Value.flags())
		out, done = v.entry(n.reps, atMs), true
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: atMs}
	})
	if done {
		n.sets.Add(1)
		w.emit(key, out)
	}
	return done, err
}

// TTL reports the time left before key expires. exists is false for an absent key; hasExpiry is
// false for a key that never expires.
func (n *Node) TTL(ctx context.Context, key string) (ttl time.Duration, exists, hasExpiry bool, err error) {
	if err := n.check(ctx); err != nil {
		return 0, false, false, err
	}
	nowMs := n.nowMs()
	v, exp, ok := n.store.Peek(key, nowMs)
	if !ok || v.tombstone() {
		return 0, false, false, nil
	}
	if exp == 0 {
		return 0, true, false, nil
	}
	return time.Duration(exp-nowMs) * time.Millisecond, true, true, nil
}

// Len is the number of live keys held by this node (Redis DBSIZE). Expired keys not yet
// reclaimed are counted until the janitor or a read removes them, as in Redis.
func (n *Node) Len() int {
	l := n.store.Len() - int(n.tombEntries.Load())
	return max(l, 0)
}

// Scan iterates live keys with Redis SCAN semantics: start with cursor 0 and continue with the
// returned cursor until it is 0. A key present for the whole iteration is returned at least once.
// match is a Redis glob pattern ("" matches everything); count is a hint for the work per call.
func (n *Node) Scan(ctx context.Context, cursor uint64, match string, count int) ([]string, uint64, error) {
	if err := n.check(ctx); err != nil {
		return nil, 0, err
	}
	if count <= 0 {
		count = 10
	}
	var keys []string
	next := n.store.Scan(cursor, count, n.nowMs(), func(k string, v value, _ int64) {
		if !v.tombstone() && (match == "" || match == "*" || Match(match, k)) {
			keys = append(keys, k)
		}
	})
	return keys, next, nil
}

// Stats are counters and gauges of one node.
type Stats struct {
	Hits, Misses             uint64 // reads of live keys / of absent, expired or deleted keys
	Sets, Deletes            uint64 // local writes
	Evictions, Expirations   uint64
	Keys                     int   // live keys (Len)
	Entries                  int   // store entries, delete tombstones included
	Bytes                    int64 // bytes charged against MaxMemory
	MaxMemory                int64
	RemoteHits, RemoteMisses uint64 // read-throughs filled from a peer / not
	PeerRequests             uint64 // peer requests sent: read-throughs and load leases
	OriginLoads              uint64 // GetOrLoad loader calls made by this node
	DeleteTombstones         int    // replicated deletes held as entries
	LocalTombstones          uint64 // key hash + timestamp records of evictions and expiries
	LocalTombstonesDropped   uint64 // dropped at the cap; see TombstoneFloor
	TombstoneFloor           crdt.Timestamp
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats { return n.statsFrom(n.store.Stats(), n.Len()) }

// statsFrom completes the store's statistics s with the node's counters; keys is Len.
func (n *Node) statsFrom(s lru.Stats, keys int) Stats {
	th := n.tombHits.Load()
	return Stats{
		Hits:                   s.Hits - min(th, s.Hits),
		Misses:                 s.Misses + th,
		Sets:                   n.sets.Load(),
		Deletes:                n.deletes.Load(),
		Evictions:              s.Evictions,
		Expirations:            s.Expirations,
		Keys:                   keys,
		Entries:                int(s.Entries),
		Bytes:                  s.Bytes,
		MaxMemory:              n.MaxMemory(),
		RemoteHits:             n.remoteHits.Load(),
		RemoteMisses:           n.remoteMisses.Load(),
		PeerRequests:           n.peerCalls.Load(),
		OriginLoads:            n.originLoads.Load(),
		DeleteTombstones:       int(n.tombEntries.Load()),
		LocalTombstones:        s.Tombstones,
		LocalTombstonesDropped: s.TombstonesDropped,
		TombstoneFloor:         crdt.Timestamp(s.Floor),
	}
}

// DumpEntry is one register as held by this node, delete tombstones included; for convergence
// checkers and debugging.
type DumpEntry struct {
	Key         string
	Value       []byte
	ContentType string
	ExpireAtMs  int64 // unix ms, 0 = never
	Version     crdt.Version
	Deleted     bool // a replicated delete tombstone
	// Type is what TYPE answers for the value: "string" (counters too), "hash", "set" or
	// "zset". A collection's Value is its encoded CRDT state (crdt.DecodeHash and twins).
	Type string
}

// Dump calls fn for every register this node holds, live or deleted (expired entries are
// skipped), until fn returns false. fn is called without locks held.
func (n *Node) Dump(ctx context.Context, fn func(DumpEntry) bool) error {
	if err := n.check(ctx); err != nil {
		return err
	}
	n.store.Range(n.nowMs(), func(k string, v value, exp int64) bool {
		it := n.itemOf(&v, exp)
		return ctx.Err() == nil && fn(DumpEntry{Key: k, Value: it.Value, ContentType: it.ContentType,
			ExpireAtMs: exp, Version: v.ver(n.reps), Deleted: v.tombstone(), Type: typeName(&v)})
	})
	return ctx.Err()
}
