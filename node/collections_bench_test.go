package node

import (
	"context"
	"strconv"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// BenchmarkSAddSameMember re-adds one member (redis-benchmark's SADD without -r): each write
// removes the previous add, so it measures the tombstone path.
func BenchmarkSAddSameMember(b *testing.B) {
	n, _ := newTestNode(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), "element:000000000000")
			return d
		})
	}
}

// BenchmarkSAddNewMembers adds distinct members to one set.
func BenchmarkSAddNewMembers(b *testing.B) {
	n, _ := newTestNode(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m := "element:" + strconv.Itoa(i)
		n.UpdateSet(ctx, "s", true, func(s *crdt.Set, stamp func() crdt.Version) *crdt.Set {
			_, d := s.Add(stamp(), m)
			return d
		})
	}
}
