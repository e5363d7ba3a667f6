package node

import (
	"context"
	"errors"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// Errors of IncrBy, worded as Redis words them after its "ERR " prefix.
var (
	ErrNotInteger = errors.New("node: value is not an integer or out of range")
	ErrOverflow   = errors.New("node: increment or decrement would overflow")
)

// IncrBy adds delta to the integer held by key and returns the new value, as Redis's INCRBY.
// An absent or deleted key counts as 0; a value that is not a decimal int64 is ErrNotInteger;
// a result out of the int64 range is ErrOverflow. Both change nothing. The key keeps its
// expiry.
//
// The key becomes a counter CRDT (crdt.Counter): increments made concurrently on any nodes,
// through partitions, add up once the nodes have exchanged them. The counter starts from the
// register it replaces (its value and version); a SET, DEL or other reset that an increment
// did not observe wins over it everywhere (docs/design.md, "Counters"). Only this node's
// contribution is replicated, so the delta stays a few bytes however many nodes count.
func (n *Node) IncrBy(ctx context.Context, key string, delta int64) (int64, error) {
	if err := n.checkWrite(ctx); err != nil {
		return 0, err
	}
	if err := n.checkKey(key); err != nil {
		return 0, err
	}
	return n.incrBy(nodeWriter{n}, n.nowMs(), key, delta)
}

// incrBy is IncrBy through w (the node, or a transaction).
func (n *Node) incrBy(w writer, nowMs int64, key string, delta int64) (int64, error) {
	var res int64
	var err error
	var out crdt.Entry
	w.apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		var c crdt.Counter
		if c, err = counterFrom(n.reps, &cur); err != nil {
			return lru.Update[value]{Action: lru.Keep}
		}
		// Check the addition before stamping: a stamp takes a seq, and a seq must not be
		// skipped (peers would wait for that dot forever).
		if _, err = c.Check(n.replica, delta); err != nil {
			err = ErrOverflow
			return lru.Update[value]{Action: lru.Keep}
		}
		v := w.stamp(nowMs, &cur, nil, 0)
		res, _ = c.Add(n.replica, v.seq(), delta)
		v.setTyp(crdt.TypeCounter)
		v.setData(crdt.AppendCounter(nil, &c, n.reps.id(v.rep()), v.seq()))
		d := c.Only(n.replica)
		out = crdt.Entry{Type: crdt.TypeCounter, Expiry: c.Expiry, Version: v.ver(n.reps), Seq: v.seq(),
			Value: crdt.AppendCounter(nil, &d, n.reps.id(v.rep()), v.seq())}
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: c.Expiry}
	})
	if err != nil {
		return 0, err
	}
	n.sets.Add(1)
	w.emit(key, out)
	return res, nil
}

// counterFrom returns the counter an increment of cur starts from: cur itself if it is a
// counter; a live register's integer value (ErrNotInteger if it is not one) with the
// register's version and expiry; 0 on a delete tombstone's version; and for a key absent here,
// 0 on a base derived from the key's floor, so that nodes which dropped the same write (an
// expiry happens at the same moment everywhere) start from the same base and their increments
// add up.
func counterFrom(t *replicaTable, cur *lru.Current[value]) (crdt.Counter, error) {
	switch {
	case !cur.Exists:
		if cur.Floor == 0 {
			return crdt.Counter{}, nil
		}
		// Replica 0 is never a writer: this base sorts after every write at or below the
		// floor (all of which this node dropped) and before any later write.
		v := crdt.Version{TS: crdt.Timestamp(cur.Floor + 1)}
		return crdt.Counter{BaseVer: v, ExpVer: v}, nil
	case cur.Value.typ() == crdt.TypeCounter:
		e := cur.Value.entry(t, cur.Expiry)
		return crdt.CounterOf(&e)
	case cur.Value.tombstone():
		return crdt.Counter{BaseVer: cur.Value.ver(t), ExpVer: cur.Value.ver(t)}, nil
	case cur.Value.obj() != nil:
		return crdt.Counter{}, ErrWrongType // a hash, set or sorted set
	}
	e := cur.Value.entry(t, cur.Expiry)
	b, ok := parseInt(e.Data())
	if !ok {
		return crdt.Counter{}, ErrNotInteger
	}
	return crdt.Counter{Base: b, BaseVer: cur.Value.ver(t), Expiry: cur.Expiry, ExpVer: cur.Value.ver(t)}, nil
}

// parseInt is Redis's string2ll: a decimal int64 with an optional '-', no '+', no spaces and
// no leading zeros, at most 20 bytes.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	switch {
	case neg && v <= 1<<63:
		return -int64(v-1) - 1, true // -(1<<63) without overflowing
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}

// Modify replaces the value of key by fn(current) as one local read-modify-write, stamped with
// a fresh version and replicated as an ordinary last-writer-wins write (APPEND, SETRANGE and
// INCRBYFLOAT are built on it). fn gets the current value (a counter's as its decimal string)
// and whether the key is live; it returns the new value and whether to write it. fn runs under
// the key's lock: it must be quick and must not call the node. The key keeps its expiry and
// content type. Modify returns the value written, or the current one when fn declined; an
// error from fn, or a value over Config.MaxValueSize (ErrValueTooLarge), changes nothing. A
// key holding a collection is ErrWrongType, and fn is not called.
//
// A concurrent write of the key in another region is not merged with this one: the later
// version wins whole (a concurrent APPEND elsewhere is lost), and increments of a counter
// made elsewhere that this node had not seen are lost to it as to a SET.
func (n *Node) Modify(ctx context.Context, key string, fn func(cur []byte, live bool) (next []byte, write bool, err error)) ([]byte, error) {
	if err := n.checkWrite(ctx); err != nil {
		return nil, err
	}
	if err := n.checkKey(key); err != nil {
		return nil, err
	}
	return n.modify(nodeWriter{n}, n.nowMs(), key, fn)
}

// modify is Modify through w (the node, or a transaction).
func (n *Node) modify(w writer, nowMs int64, key string, fn func(cur []byte, live bool) ([]byte, bool, error)) ([]byte, error) {
	var res []byte
	var err error
	var out crdt.Entry
	var wrote bool
	w.apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		live := cur.Exists && !cur.Value.tombstone()
		if live && cur.Value.obj() != nil {
			err = ErrWrongType // a hash, set or sorted set: fn reads and writes strings only
			return lru.Update[value]{Action: lru.Keep}
		}
		var old []byte
		ct := ""
		if live {
			it := n.itemOf(&cur.Value, cur.Expiry)
			old, ct = it.Value, it.ContentType
		}
		next, write, ferr := fn(old, live)
		if ferr != nil || !write {
			res, err = old, ferr
			return lru.Update[value]{Action: lru.Keep}
		}
		if len(next) > n.cfg.MaxValueSize {
			err = ErrValueTooLarge
			return lru.Update[value]{Action: lru.Keep}
		}
		data, flags, eerr := crdt.EncodeValue(ct, next)
		if eerr != nil {
			err = eerr
			return lru.Update[value]{Action: lru.Keep}
		}
		exp := int64(0)
		if live {
			exp = cur.Expiry
		}
		v := w.stamp(nowMs, &cur, data, flags)
		res, out, wrote = next, v.entry(n.reps, exp), true
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
	})
	if err != nil {
		return nil, err
	}
	if wrote {
		n.sets.Add(1)
		w.emit(key, out)
	}
	return res, nil
}

// rewriteCounterExpiry is EXPIRE/PERSIST of a live counter: the expiry is a register inside
// the counter with its own version, so concurrent increments elsewhere still add up. It runs
// under the key's store lock and returns the new value and the delta to replicate.
func (n *Node) rewriteCounterExpiry(w writer, nowMs int64, cur *lru.Current[value], atMs int64) (value, crdt.Entry, bool) {
	e := cur.Value.entry(n.reps, cur.Expiry)
	c, err := crdt.CounterOf(&e)
	if err != nil {
		return value{}, crdt.Entry{}, false
	}
	v := w.stamp(nowMs, cur, nil, 0)
	c.Expiry, c.ExpVer = atMs, v.ver(n.reps)
	v.setTyp(crdt.TypeCounter)
	v.setData(crdt.AppendCounter(nil, &c, n.reps.id(v.rep()), v.seq()))
	d := c.Only(n.replica)
	return v, crdt.Entry{Type: crdt.TypeCounter, Expiry: atMs, Version: v.ver(n.reps), Seq: v.seq(),
		Value: crdt.AppendCounter(nil, &d, n.reps.id(v.rep()), v.seq())}, true
}

// counterItemValue renders a counter's value as GET shows it (a decimal integer).
func counterItemValue(t *replicaTable, v *value, expiry int64) []byte {
	e := v.entry(t, expiry)
	c, err := crdt.CounterOf(&e)
	if err != nil {
		return nil // never stored: entries are validated on the way in
	}
	return c.AppendValue(nil)
}

// mergeValue merges a remote entry into the current one under the key's store lock: the LWW
// rule between registers, crdt.Merge when either side is a counter. It returns the value and
// expiry to store and false when the current entry stays. An absent key takes e (the caller
// checks the floor first). A write by a writer the replica table has no room for is refused
// (replicaTable.full counts it).
func (n *Node) mergeValue(cur *lru.Current[value], e *crdt.Entry) (value, int64, bool) {
	switch {
	case !cur.Exists:
	case cur.Value.typ() == crdt.TypeCounter || e.Type == crdt.TypeCounter:
		m, out := crdt.Merge(cur.Value.entry(n.reps, cur.Expiry), true, *e)
		if out != crdt.Applied {
			return value{}, 0, false
		}
		v, ok := n.reps.valueOf(&m)
		return v, m.Expiry, ok
	case !cur.Value.ver(n.reps).Less(e.Version):
		return value{}, 0, false
	}
	v, ok := n.reps.valueOf(e)
	return v, e.Expiry, ok
}

// counterTouches reports whether v is a counter holding a write (base, expiry or a slot) of a
// replica in set. A snapshot must send such a counter even when its newest write is by a
// replica the peer is up to date with: the slots of the others ride only in the whole state.
func counterTouches(t *replicaTable, v *value, exp int64, set map[crdt.ReplicaID]bool) bool {
	if v.typ() != crdt.TypeCounter {
		return false
	}
	e := v.entry(t, exp)
	c, err := crdt.CounterOf(&e)
	return err == nil && c.Touches(func(r crdt.ReplicaID) bool { return set[r] })
}
