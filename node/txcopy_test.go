package node

import (
	"context"
	"slices"
	"testing"

	"github.com/geocache/geocache/crdt"
)

// TestTxCopyOfCollectionIsInTheUnit: COPY and RENAME of a hash inside a transaction are writes
// of its unit, handed to replication with the transaction's other writes at commit, not on
// their own ahead of it; the peer ends with all of them.
func TestTxCopyOfCollectionIsInTheUnit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	hset(t, a, "h", "f", "1")
	converged(t, a, b)
	// Only this goroutine writes on a while the hooks are in place (local writes call them).
	var alone, unit []string
	sink, unitSink := a.sink, a.unitSink
	a.sink = func(d crdt.Delta) { alone = append(alone, d.Key); sink(d) }
	a.unitSink = func(ds []crdt.Delta) {
		for _, d := range ds {
			unit = append(unit, d.Key)
		}
		unitSink(ds)
	}
	err := a.Atomic(ctx, []string{"h", "h2", "h3", "s"}, func(tx *Tx) error {
		if _, err := tx.Copy(ctx, "h", "h2", false); err != nil {
			return err
		}
		if _, err := tx.Rename(ctx, "h", "h3", false); err != nil {
			return err
		}
		_, err := tx.Set(ctx, "s", []byte("x"), SetOptions{})
		return err
	})
	a.sink, a.unitSink = sink, unitSink
	if err != nil {
		t.Fatal(err)
	}
	if len(alone) != 0 {
		t.Errorf("writes handed to replication outside the unit: %q", alone)
	}
	for _, k := range []string{"h2", "h3", "s"} {
		if !slices.Contains(unit, k) {
			t.Errorf("the unit %q lacks %s", unit, k)
		}
	}
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if got := hashOf(t, n, "h2")["f"]; got != "1" {
			t.Errorf("%s: h2 = %q", n.cfg.Region, got)
		}
		if got := hashOf(t, n, "h3")["f"]; got != "1" {
			t.Errorf("%s: h3 = %q", n.cfg.Region, got)
		}
		if v, ok := mustGet(t, n, "s"); !ok || v != "x" {
			t.Errorf("%s: s = %q %v", n.cfg.Region, v, ok)
		}
	}
}
