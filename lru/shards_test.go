package lru

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// TestSortedShards checks both ways of ordering a batch's shards (a bitset up to bitsetShards
// shards, a sort beyond) against sorting the shard of every key.
func TestSortedShards(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 32, 1024, 4096} {
		c := mustNew(t, Options[string, int]{Shards: n})
		for _, size := range []int{0, 1, 7, batchMax} {
			keys := make([]string, size)
			for i := range keys {
				keys[i] = fmt.Sprint("k", n, size, i)
			}
			var want []uint32
			for _, k := range keys {
				want = append(want, uint32(c.hash(k)>>c.shift))
			}
			slices.Sort(want)
			want = slices.Compact(want)
			hs := make([]uint64, size)
			got := c.sortedShards(keys, hs, make([]uint32, 0, batchMax))
			if len(got) == 0 && len(want) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%d shards, %d keys: %v, want %v", n, size, got, want)
			}
			for i, k := range keys {
				if hs[i] != c.hash(k) {
					t.Fatalf("%d shards: hash of key %d not stored", n, i)
				}
			}
		}
	}
}
