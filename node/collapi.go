package node

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/geocache/geocache/crdt"
)

// Typed access to hashes, sets and sorted sets for Go callers (the RESP server speaks the full
// command set through ReadHash/UpdateHash and their twins). Each call is one atomic,
// replicated operation with the merge rules of docs/design.md; a key holding another type is
// ErrWrongType, as in Redis.

// ErrBadScore is returned for a NaN score or increment, and an increment that makes one NaN.
var ErrBadScore = errors.New("node: score is not a number")

// ScoredMember is a sorted-set member and its score.
type ScoredMember struct {
	Member string  `json:"member"`
	Score  float64 `json:"score"`
}

// CollectionView is a snapshot of a hash, set or sorted set.
type CollectionView struct {
	Type     string            // "hash", "set" or "zset"
	Hash     map[string][]byte // Type "hash": field -> value
	Members  []string          // Type "set": members, sorted
	Scored   []ScoredMember    // Type "zset": by score, then member, ascending
	Version  crdt.Version      // the newest write applied to the key here
	ExpireAt time.Time         // zero: no expiry
}

// Collection returns a snapshot of key's hash, set or sorted set, or false when the key is not
// live. A string or counter key is ErrWrongType.
func (n *Node) Collection(ctx context.Context, key string) (CollectionView, bool, error) {
	if err := n.check(ctx); err != nil {
		return CollectionView{}, false, err
	}
	v, exp, ok := n.store.Get(key, n.nowMs())
	if !ok || v.tombstone() {
		return CollectionView{}, false, nil
	}
	c := v.obj()
	if c == nil {
		return CollectionView{}, false, ErrWrongType
	}
	out := CollectionView{Version: v.ver(n.reps)}
	if exp != 0 {
		out.ExpireAt = time.UnixMilli(exp)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch c.typ {
	case crdt.TypeHash:
		out.Type, out.Hash = "hash", make(map[string][]byte, c.hash.Len())
		c.hash.Range(func(f string, val []byte) bool { out.Hash[f] = slices.Clone(val); return true })
	case crdt.TypeSet:
		out.Type, out.Members = "set", make([]string, 0, c.set.Len())
		c.set.Range(func(m string) bool { out.Members = append(out.Members, m); return true })
		slices.Sort(out.Members)
	default:
		out.Type, out.Scored = "zset", make([]ScoredMember, 0, c.zset.Len())
		c.zset.Walk(0, false, func(m string, s float64) bool {
			out.Scored = append(out.Scored, ScoredMember{Member: m, Score: s})
			return true
		})
	}
	return out, true, nil
}

// HSet writes fields of key's hash (creating it) and returns how many were new (Redis HSET).
func (n *Node) HSet(ctx context.Context, key string, fields map[string][]byte) (int, error) {
	if len(fields) == 0 {
		return 0, nil
	}
	pairs := make([][2][]byte, 0, len(fields))
	for f, v := range fields {
		if len(f)+len(v) > n.cfg.MaxValueSize {
			return 0, ErrValueTooLarge
		}
		pairs = append(pairs, [2][]byte{[]byte(f), v})
	}
	added := 0
	_, err := n.UpdateHash(ctx, key, true, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		for _, p := range pairs {
			if _, ok := h.Get(string(p[0])); !ok {
				added++
			}
		}
		return h.Set(stamp(), pairs...)
	})
	return added, err
}

// HGet returns one field of key's hash.
func (n *Node) HGet(ctx context.Context, key, field string) ([]byte, bool, error) {
	var out []byte
	var found bool
	_, err := n.ReadHash(ctx, key, func(h *crdt.Hash) {
		v, ok := h.Get(field)
		out, found = slices.Clone(v), ok
	})
	return out, found, err
}

// HDel removes fields of key's hash and returns how many were present.
func (n *Node) HDel(ctx context.Context, key string, fields ...string) (int, error) {
	removed := 0
	_, err := n.UpdateHash(ctx, key, false, func(h *crdt.Hash, stamp func() crdt.Version) *crdt.Hash {
		if !slices.ContainsFunc(fields, func(f string) bool { _, ok := h.Get(f); return ok }) {
			return nil
		}
		stamp()
		var d *crdt.Hash
		removed, d = h.Del(fields...)
		return d
	})
	return removed, err
}

// SAdd adds members to key's set (creating it) and returns how many were new. A member already
// present is re-added, so the add wins over a concurrent remove elsewhere.
func (n *Node) SAdd(ctx context.Context, key string, members ...string) (int, error) {
	if len(members) == 0 {
		return 0, nil
	}
	for _, m := range members {
		if len(m) > n.cfg.MaxValueSize {
			return 0, ErrValueTooLarge
		}
	}
	added := 0
	_, err := n.UpdateSet(ctx, key, true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		var d *crdt.Set
		added, d = s.Add(stamp(), members...)
		return d
	})
	return added, err
}

// SRem removes members of key's set and returns how many were present.
func (n *Node) SRem(ctx context.Context, key string, members ...string) (int, error) {
	removed := 0
	_, err := n.UpdateSet(ctx, key, false, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
		if !slices.ContainsFunc(members, s.Has) {
			return nil
		}
		stamp()
		var d *crdt.Set
		removed, d = s.Rem(members...)
		return d
	})
	return removed, err
}

// SIsMember reports whether m is a member of key's set.
func (n *Node) SIsMember(ctx context.Context, key, m string) (bool, error) {
	var in bool
	_, err := n.ReadSet(ctx, key, func(s *crdt.Set) { in = s.Has(m) })
	return in, err
}

// ZAdd sets member's score in key's sorted set (creating it) as an absolute write.
func (n *Node) ZAdd(ctx context.Context, key, member string, score float64) error {
	if math.IsNaN(score) {
		return ErrBadScore
	}
	if len(member) > n.cfg.MaxValueSize {
		return ErrValueTooLarge
	}
	_, err := n.UpdateZSet(ctx, key, true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		return z.Add(stamp(), member, score)
	})
	return err
}

// ZIncrBy adds by to member's score (0 if absent) and returns the new score. Increments made
// concurrently in different regions all count (docs/design.md).
func (n *Node) ZIncrBy(ctx context.Context, key, member string, by float64) (float64, error) {
	if math.IsNaN(by) {
		return 0, ErrBadScore
	}
	if len(member) > n.cfg.MaxValueSize {
		return 0, ErrValueTooLarge
	}
	var score float64
	var bad bool
	_, err := n.UpdateZSet(ctx, key, true, func(z *crdt.ZSet, stamp func() crdt.Version) *crdt.ZSet {
		if old, _ := z.Score(member); math.IsNaN(old + by) {
			bad = true // +inf + -inf: refused before writing, as Redis does
			return nil
		}
		var d *crdt.ZSet
		score, d = z.Incr(stamp(), member, by)
		return d
	})
	if err == nil && bad {
		err = ErrBadScore
	}
	return score, err
}

// ZScore returns member's score in key's sorted set.
func (n *Node) ZScore(ctx context.Context, key, member string) (float64, bool, error) {
	var s float64
	var ok bool
	_, err := n.ReadZSet(ctx, key, func(z *crdt.ZSet) { s, ok = z.Score(member) })
	return s, ok, err
}
