package lru

import (
	"fmt"
	"testing"
)

// checkInvariants verifies every shard's internal structure: ring links and sentinel order,
// entry count, hash index, byte and expiry accounting.
func checkInvariants[K comparable, V any, S any](t testing.TB, c *Store[K, V, S]) {
	t.Helper()
	for si := range c.shards {
		s := &c.shards[si]
		s.mu.Lock()
		err := s.check(c)
		s.mu.Unlock()
		if err != nil {
			t.Fatalf("shard %d: %v", si, err)
		}
	}
}

func (s *shard[K, V, S]) check(c *Store[K, V, S]) error {
	prevOf := func(l uint32) uint32 {
		if l >= sentBase {
			return s.sent[l-sentBase].prev
		}
		return s.at(l - 1).prev()
	}
	top := sentBase + uint32(s.gtop%gens)
	// Walk newest to oldest: sentinels must appear in decreasing generation order.
	wantSent := s.gtop
	seen := map[uint32]bool{}
	n := int64(0)
	var ttl int64
	var bytes int64
	x := top
	for steps := 0; ; steps++ {
		if steps > int(s.used)+gens+1 {
			return fmt.Errorf("ring does not close")
		}
		var next uint32
		if x >= sentBase {
			if x != sentBase+uint32(wantSent%gens) {
				return fmt.Errorf("sentinel %d where generation %d expected", x-sentBase, wantSent)
			}
			wantSent--
			next = s.sent[x-sentBase].next
		} else {
			e := s.at(x - 1)
			if !e.live() {
				return fmt.Errorf("free slot %d in ring", x-1)
			}
			if seen[x] {
				return fmt.Errorf("slot %d twice in ring", x-1)
			}
			seen[x] = true
			n++
			if e.meta&expiryMask != 0 {
				ttl++
			}
			bytes += c.cost(s.key(e), e.value)
			if got := s.find(c.hash(s.key(e)), s.key(e)); got != x {
				return fmt.Errorf("slot %d: index finds %d", x-1, got)
			}
			next = e.next()
		}
		if prevOf(next) != x {
			return fmt.Errorf("link %d -> %d not mirrored", x, next)
		}
		x = next
		if x == top {
			break
		}
	}
	if wantSent != s.gtop-gens {
		return fmt.Errorf("saw %d sentinels", s.gtop-wantSent)
	}
	if n != s.n {
		return fmt.Errorf("ring holds %d entries, count says %d", n, s.n)
	}
	if ttl != s.nttl.Load() {
		return fmt.Errorf("%d entries with expiry, count says %d", ttl, s.nttl.Load())
	}
	if bytes != s.bytes {
		return fmt.Errorf("entries cost %d bytes, count says %d", bytes, s.bytes)
	}
	// Every chained entry is live; buckets never outnumber the slots held or reserved.
	nb := s.lowMask + 1 + s.split
	if len(s.heads) > 0 && int64(nb) > max(int64(s.used), s.slabSlots()) {
		return fmt.Errorf("%d buckets for %d slots (%d allocated)", nb, s.used, s.slabSlots())
	}
	chained := int64(0)
	for b := uint32(0); b < nb && len(s.heads) > 0; b++ {
		for l := *s.head(b); l != 0; l = s.at(l - 1).hnext() {
			if !seen[l] {
				return fmt.Errorf("bucket %d chains slot %d not in ring", b, l-1)
			}
			if s.bucket(c.hash(s.key(s.at(l-1)))) != b {
				return fmt.Errorf("slot %d in wrong bucket %d", l-1, b)
			}
			chained++
		}
	}
	if chained != n {
		return fmt.Errorf("index holds %d entries, ring %d", chained, n)
	}
	if len(s.tomb) > s.maxTomb {
		return fmt.Errorf("%d tombstones over bound %d", len(s.tomb), s.maxTomb)
	}
	return nil
}
