package node

import (
	"testing"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// TestMergePlainDecidesAsMergeKeyed checks a receiver's one-step merge of a register write
// (mergePlain) against mergeKeyed on every kind of current state: absent under and over the
// floor, a register of an older, equal and newer version (from the same and another writer),
// a register tombstone, a counter, a collection. What it handles must be decided as
// mergeKeyed decides it — the action, the stored value, its key and bytes, the expiry, whether
// it won and the count of tombstones held — and a counter or a collection it must leave to
// mergeKeyed.
func TestMergePlainDecidesAsMergeKeyed(t *testing.T) {
	t.Parallel()
	n, err := New(Config{MaxMemory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	const a, b = crdt.ReplicaID(0xa), crdt.ReplicaID(0xb)
	ver := func(ts uint64, r crdt.ReplicaID) crdt.Version {
		return crdt.Version{TS: crdt.Timestamp(ts), Replica: r}
	}
	reg := func(v crdt.Version, data string, flags crdt.Flags) lru.Current[value] {
		x, _ := n.reps.newValue(v, 3, crdt.TypeLWW, flags)
		x.setData([]byte(data))
		return lru.Current[value]{Value: x, Expiry: 77, Exists: true}
	}
	counter := reg(ver(50, a), "", 0)
	counter.Value.setTyp(crdt.TypeCounter)
	coll := reg(ver(50, a), "", 0)
	coll.Value.bits |= objBit
	curs := map[string]struct {
		cur     lru.Current[value]
		handled bool
	}{
		"absent":              {lru.Current[value]{}, true},
		"absent, floor below": {lru.Current[value]{Floor: 99}, true},
		"absent, floor at":    {lru.Current[value]{Floor: 100}, true},
		"absent, floor above": {lru.Current[value]{Floor: 101}, true},
		"older":               {reg(ver(99, b), "old", 0), true},
		"same version":        {reg(ver(100, a), "same", 0), true},
		"same time, lower id": {reg(ver(100, a-1), "low", 0), true},
		"same time, higher":   {reg(ver(100, b), "high", 0), true},
		"newer":               {reg(ver(101, a), "new", 0), true},
		"older tombstone":     {reg(ver(99, b), "", crdt.FlagTombstone), true},
		"newer tombstone":     {reg(ver(101, b), "", crdt.FlagTombstone), true},
		"counter":             {counter, false},
		"collection":          {coll, false},
	}
	for name, c := range curs {
		for _, flags := range []crdt.Flags{0, crdt.FlagContentType} {
			key, data := "key:1", []byte("\x04textpayload")
			d := crdt.Delta{Key: key, Entry: crdt.Entry{Type: crdt.TypeLWW, Flags: flags, Value: data,
				Expiry: 123, Seq: 9, Version: ver(100, a)}}
			kb := ownedBlock(&d)
			tomb0 := n.tombEntries.Load()
			cur := c.cur
			up, won, handled := n.mergePlain(&cur, &d.Entry, kb, len(key))
			tomb1 := n.tombEntries.Load()
			if handled != c.handled {
				t.Fatalf("%s: handled = %v, want %v", name, handled, c.handled)
			}
			if !handled {
				if up != (lru.Update[value]{}) || won || tomb1 != tomb0 {
					t.Fatalf("%s: not handled, yet decided %+v (won %v) or counted tombstones", name, up, won)
				}
				continue
			}
			cur = c.cur
			wantUp, wantWon := n.mergeKeyed(key, &cur, &d.Entry, 0, kb)
			if up != wantUp || won != wantWon || n.tombEntries.Load()-tomb1 != tomb1-tomb0 {
				t.Fatalf("%s (flags %d): mergePlain = %+v, %v; mergeKeyed = %+v, %v", name, flags, up, won, wantUp, wantWon)
			}
			if up.Action == lru.Put && (up.Value.key() != key || string(up.Value.data()) != string(data)) {
				t.Fatalf("%s: stored key %q and bytes %q", name, up.Value.key(), up.Value.data())
			}
		}
	}
}
