package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRenameCopyReplicate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	mustSet(t, a, "src", "v", SetOptions{TTL: time.Hour})
	mustSet(t, a, "taken", "x", SetOptions{})
	if ok, err := a.Rename(ctx, "src", "taken", true); ok || err != nil {
		t.Fatalf("RENAMENX onto a live key = %v, %v", ok, err)
	}
	if ok, err := a.Rename(ctx, "src", "dst", false); !ok || err != nil {
		t.Fatalf("Rename = %v, %v", ok, err)
	}
	if _, err := a.Rename(ctx, "src", "dst", false); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("Rename of a missing key: %v", err)
	}
	if ok, err := a.Copy(ctx, "dst", "taken", false); ok || err != nil {
		t.Fatalf("Copy without REPLACE onto a live key = %v, %v", ok, err)
	}
	if ok, err := a.Copy(ctx, "dst", "copy", false); !ok || err != nil {
		t.Fatalf("Copy = %v, %v", ok, err)
	}
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if _, ok := mustGet(t, n, "src"); ok {
			t.Fatal("renamed source still present")
		}
		for _, k := range []string{"dst", "copy"} {
			it, ok, _ := n.Peek(ctx, k)
			if !ok || string(it.Value) != "v" || it.ExpireAt.IsZero() {
				t.Fatalf("%s = %+v, %v; want v with the source's expiry", k, it, ok)
			}
		}
	}
}

func TestRandomKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, _ := newTestNode(t, nil)
	if _, ok, _ := n.RandomKey(ctx); ok {
		t.Fatal("RandomKey on an empty node")
	}
	for i := range 100 {
		mustSet(t, n, fmt.Sprint("k", i), "v", SetOptions{})
	}
	for i := range 99 {
		n.Delete(ctx, fmt.Sprint("k", i))
	}
	// Only tombstones but one: RandomKey must still find the live key.
	for range 20 {
		if k, ok, _ := n.RandomKey(ctx); !ok || k != "k99" {
			t.Fatalf("RandomKey = %q, %v; want k99", k, ok)
		}
	}
	n.Delete(ctx, "k99")
	if k, ok, _ := n.RandomKey(ctx); ok {
		t.Fatalf("RandomKey = %q with only tombstones", k)
	}
}

func TestRenameCounter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, _ := newTestNode(t, nil)
	if _, err := n.IncrBy(ctx, "c", 41); err != nil {
		t.Fatal(err)
	}
	if ok, err := n.Rename(ctx, "c", "d", false); !ok || err != nil {
		t.Fatalf("Rename = %v, %v", ok, err)
	}
	if v, ok := mustGet(t, n, "d"); !ok || v != "41" {
		t.Fatalf("renamed counter reads %q, %v", v, ok)
	}
	if got, err := n.IncrBy(ctx, "d", 1); err != nil || got != 42 {
		t.Fatalf("INCR of the renamed counter = %d, %v", got, err)
	}
}

// Counters, RENAME and COPY inside a transaction replicate with its unit; FLUSHALL is refused.
func TestTxCountersAndRename(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	if _, err := b.IncrBy(ctx, "hits", 10); err != nil {
		t.Fatal(err)
	}
	converged(t, a, b)
	err := a.Atomic(ctx, []string{"hits", "src", "dst", "cp"}, func(tx *Tx) error {
		if v, err := tx.IncrBy(ctx, "hits", 5); err != nil || v != 15 {
			t.Errorf("IncrBy in a transaction = %d, %v", v, err)
		}
		if _, err := tx.Set(ctx, "src", []byte("x"), SetOptions{}); err != nil {
			return err
		}
		if ok, err := tx.Rename(ctx, "src", "dst", false); !ok || err != nil {
			t.Errorf("Rename in a transaction = %v, %v", ok, err)
		}
		if ok, err := tx.Copy(ctx, "dst", "cp", false); !ok || err != nil {
			t.Errorf("Copy in a transaction = %v, %v", ok, err)
		}
		if _, err := tx.Flush(ctx); !errors.Is(err, ErrFlushInTx) {
			t.Errorf("Flush in a transaction: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		for k, want := range map[string]string{"hits": "15", "dst": "x", "cp": "x"} {
			if v, ok := mustGet(t, n, k); !ok || v != want {
				t.Fatalf("%s = %q, %v; want %q", k, v, ok, want)
			}
		}
		if _, ok := mustGet(t, n, "src"); ok {
			t.Fatal("renamed source still present")
		}
	}
	// Both regions' increments still add up after the transaction.
	if v, err := b.IncrBy(ctx, "hits", 1); err != nil || v != 16 {
		t.Fatalf("INCR on b after the transaction = %d, %v", v, err)
	}
}
