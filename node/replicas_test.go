package node

import (
	"sync"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// TestReplicaTable interns ids from many goroutines: each id gets one index, index 0 is the
// node's own, id inverts index, and a full table refuses a new id (counted) but still answers
// for the ids it holds.
func TestReplicaTable(t *testing.T) {
	t.Parallel()
	tab := newReplicaTable(42)
	if i, ok := tab.index(42); !ok || i != 0 || tab.id(0) != 42 {
		t.Fatalf("own id at %d (ok %v), id(0) = %d", i, ok, tab.id(0))
	}
	const n = 3 * replicaChunk // spans chunks
	got := make([][]uint32, 4)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for r := range n {
				i, ok := tab.index(crdt.ReplicaID(1000 + r))
				if !ok {
					t.Errorf("index(%d) refused", 1000+r)
					return
				}
				got[g] = append(got[g], i)
			}
		})
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for r := range n {
		i := got[0][r]
		for g := range got {
			if got[g][r] != i {
				t.Fatalf("id %d: index %d in one goroutine, %d in another", 1000+r, i, got[g][r])
			}
		}
		if seen[i] || i == 0 || tab.id(i) != crdt.ReplicaID(1000+r) {
			t.Fatalf("id %d: index %d (seen %v), id(%d) = %d", 1000+r, i, seen[i], i, tab.id(i))
		}
		seen[i] = true
	}
	tab.n.Store(maxReplicaIndex + 1) // as if full
	if _, ok := tab.index(7); ok || tab.full.Load() != 1 {
		t.Fatalf("full table took a new id (refusals counted %d)", tab.full.Load())
	}
	if i, ok := tab.index(1000 + 5); !ok || tab.id(i) != 1000+5 {
		t.Fatal("full table lost a held id")
	}
}

// TestValueBitsRoundTrip packs every type and flag with empty, isObj and a writer index at the
// top of the range, and reads each back unchanged.
func TestValueBitsRoundTrip(t *testing.T) {
	t.Parallel()
	tab := newReplicaTable(1)
	for typ := crdt.TypeLWW; typ <= crdt.TypeZSet; typ++ {
		for _, f := range []crdt.Flags{0, crdt.FlagTombstone, crdt.FlagContentType, crdt.FlagTombstone | crdt.FlagContentType} {
			for _, empty := range []bool{false, true} {
				tab.n.Store(maxReplicaIndex) // the next id takes the highest index
				ver := crdt.Version{TS: 77, Replica: crdt.ReplicaID(100 + int(typ)*8 + int(f)*2 + map[bool]int{false: 0, true: 1}[empty])}
				v, ok := tab.newValue(ver, 9, typ, f)
				if !ok {
					t.Fatal("refused")
				}
				v.setEmpty(empty)
				v.setData([]byte("x"))
				if v.typ() != typ || v.flags() != f || v.empty() != empty || v.isObj() || v.ver(tab) != ver || v.seq() != 9 || v.rep() != maxReplicaIndex {
					t.Fatalf("%v/%v/%v: got typ %v flags %v empty %v obj %v ver %v rep %d", typ, f, empty, v.typ(), v.flags(), v.empty(), v.isObj(), v.ver(tab), v.rep())
				}
				v.setObj(&coll{}, 10)
				if v.typ() != typ || v.flags() != f || v.empty() != empty || !v.isObj() || v.ver(tab) != ver {
					t.Fatal("setObj changed the other fields")
				}
				tab.mu.Lock()
				tab.byID.Delete(ver.Replica) // let the next one take the same top index
				tab.mu.Unlock()
			}
		}
	}
}
