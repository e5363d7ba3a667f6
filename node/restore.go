package node

import (
	"bytes"
	"context"
	"errors"
	"math"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// ErrBusyKey is returned by Restore without replace when the key is live (Redis's BUSYKEY).
var ErrBusyKey = errors.New("node: target key already exists")

// errEmptyWhole is a WholeValue collection without elements: Redis has no empty collections.
var errEmptyWhole = errors.New("node: a restored hash, set or sorted set must have elements")

// WholeValue is a whole value of one type, written at once by Restore (Redis's RESTORE, whose
// payload the RESP server decodes into one). Only the field of Type is read.
type WholeValue struct {
	Type    string      // "string", "hash", "set" or "zset"
	String  []byte      // "string": the bytes
	Fields  [][2][]byte // "hash": field and value pairs (a repeated field: the last wins)
	Members []string    // "set"
	Scored  []ScoredMember
}

// size is the bytes of the value's elements, for a transaction's bound.
func (v *WholeValue) size() int {
	n := len(v.String)
	for _, f := range v.Fields {
		n += len(f[0]) + len(f[1])
	}
	for _, m := range v.Members {
		n += len(m)
	}
	for _, m := range v.Scored {
		n += len(m.Member) + 8
	}
	return n
}

// Restore writes v under key as one fresh local write, replicated like any other, with the
// expiry expireAt (zero: none): a string is a register, as SET writes it; a hash, set or sorted
// set a new incarnation holding all of v, shipped whole, as COPY writes a copy. A live key is
// ErrBusyKey unless replace, which replaces it whatever its type. An expireAt not after now
// writes nothing, and with replace deletes key (Redis's RESTORE with a TTL in the past). Too
// large an element, or a collection its shard cannot hold, is ErrValueTooLarge; a NaN score
// ErrBadScore.
func (n *Node) Restore(ctx context.Context, key string, v WholeValue, expireAt time.Time, replace bool) error {
	if err := n.checkWrite(ctx); err != nil {
		return err
	}
	if err := n.checkKey(key); err != nil {
		return err
	}
	return n.restore(nodeWriter{n}, n.nowMs(), key, &v, expireAt, replace)
}

// Restore is Node.Restore inside the transaction.
func (tx *Tx) Restore(_ context.Context, key string, v WholeValue, expireAt time.Time, replace bool) error {
	if err := tx.writable(key); err != nil {
		return err
	}
	if err := tx.room(key, v.size()); err != nil {
		return err
	}
	return tx.n.restore(txWriter{tx}, tx.nowMs, key, &v, expireAt, replace)
}

// restore is Restore through w.
func (n *Node) restore(w writer, nowMs int64, key string, v *WholeValue, expireAt time.Time, replace bool) error {
	var exp int64
	if !expireAt.IsZero() {
		exp = expireAt.UnixMilli()
	}
	var data []byte
	var tmpl *coll
	if v.Type == "string" {
		if len(v.String) > n.cfg.MaxValueSize {
			return ErrValueTooLarge
		}
		// The store keeps the bytes it is given: the caller's may be a reused buffer.
		data = bytes.Clone(v.String)
		if data == nil {
			data = []byte{}
		}
	} else {
		var err error
		if tmpl, err = n.wholeColl(v, exp); err != nil {
			return err
		}
	}
	if exp != 0 && exp <= nowMs {
		if !replace {
			if cur, _, ok := w.peek(key, nowMs); ok && !cur.tombstone() {
				return ErrBusyKey
			}
			return nil
		}
		n.removeVia(w, nowMs, key, false, true)
		return nil
	}
	if tmpl == nil {
		if !n.writeCopy(w, nowMs, key, data, 0, exp, !replace) {
			return ErrBusyKey
		}
		return nil
	}
	return n.writeWhole(w, nowMs, key, tmpl, !replace)
}

// wholeColl builds v's collection as a template for writeWhole: its elements and expiry
// written by a placeholder version, which writeWhole's copy replaces by the write's own. It is
// built before the key's store lock is taken, and checked there against the store's bound.
func (n *Node) wholeColl(v *WholeValue, exp int64) (*coll, error) {
	dot := crdt.Version{TS: 1}
	var c *coll
	switch v.Type {
	case "hash":
		if len(v.Fields) == 0 {
			return nil, errEmptyWhole
		}
		for _, f := range v.Fields {
			if len(f[0])+len(f[1]) > n.cfg.MaxValueSize {
				return nil, ErrValueTooLarge
			}
		}
		c = newColl(crdt.TypeHash, crdt.Version{})
		fields := make([][2][]byte, len(v.Fields))
		for i, f := range v.Fields {
			// The state keeps the values: the caller's may alias a reused buffer.
			fields[i] = [2][]byte{f[0], bytes.Clone(f[1])}
			if fields[i][1] == nil {
				fields[i][1] = []byte{}
			}
		}
		c.hash.Set(dot, fields...)
	case "set":
		if len(v.Members) == 0 {
			return nil, errEmptyWhole
		}
		for _, m := range v.Members {
			if len(m) > n.cfg.MaxValueSize {
				return nil, ErrValueTooLarge
			}
		}
		c = newColl(crdt.TypeSet, crdt.Version{})
		c.set.Add(dot, v.Members...)
	case "zset":
		if len(v.Scored) == 0 {
			return nil, errEmptyWhole
		}
		for _, m := range v.Scored {
			if len(m.Member) > n.cfg.MaxValueSize {
				return nil, ErrValueTooLarge
			}
			if math.IsNaN(m.Score) {
				return nil, ErrBadScore
			}
		}
		c = newColl(crdt.TypeZSet, crdt.Version{})
		var d *crdt.ZSet
		for _, m := range v.Scored {
			d = c.zset.AddTo(d, dot, m.Member, m.Score)
		}
	default:
		return nil, errors.New("node: unknown value type " + v.Type)
	}
	if exp != 0 {
		c.setExpiry(dot, exp)
	}
	c.bytes = c.size()
	if n.collTooBig(c) {
		return nil, ErrValueTooLarge
	}
	return c, nil
}

// writeWhole writes a copy of template tmpl under key as a fresh local write: a new
// incarnation holding tmpl's elements and expiry, each element written by the new version,
// shipped whole (writeCollCopy's write, replicated through w as a transaction's writes are).
// With nx a live key is ErrBusyKey and is left alone.
func (n *Node) writeWhole(w writer, nowMs int64, key string, tmpl *coll, nx bool) error {
	var out crdt.Entry
	busy := false
	w.apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		if nx && cur.Exists && !cur.Value.tombstone() {
			busy = true
			return lru.Update[value]{Action: lru.Keep}
		}
		after := crdt.Timestamp(cur.Floor)
		if cur.Exists {
			after = cur.Value.ts
		}
		ver, seq := w.version(nowMs, after)
		c := tmpl.copyAs(ver)
		c.mu.Lock()
		v, exp := n.collValue(key, c, ver, seq, nowMs)
		out = crdt.Entry{Type: c.typ, Value: c.encodeLocked(), Version: ver, Seq: seq, Expiry: exp}
		c.mu.Unlock()
		n.trackTombstone(&cur, &v)
		return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
	})
	if busy {
		return ErrBusyKey
	}
	n.sets.Add(1)
	w.emit(key, out)
	return nil
}
