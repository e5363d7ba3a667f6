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
