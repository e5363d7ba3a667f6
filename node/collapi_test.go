package node

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestTypedCollectionAccess(t *testing.T) {
	t.Parallel()
	n, _ := newTestNode(t, nil)
	ctx := context.Background()
	if added, err := n.HSet(ctx, "h", map[string][]byte{"a": []byte("1"), "b": []byte("2")}); err != nil || added != 2 {
		t.Fatalf("HSet: %d %v", added, err)
	}
	if added, err := n.HSet(ctx, "h", map[string][]byte{"a": []byte("3")}); err != nil || added != 0 {
		t.Fatalf("HSet overwrite: %d %v", added, err)
	}
	if v, ok, err := n.HGet(ctx, "h", "a"); err != nil || !ok || string(v) != "3" {
		t.Fatalf("HGet: %q %v %v", v, ok, err)
	}
	if removed, err := n.HDel(ctx, "h", "b", "nope"); err != nil || removed != 1 {
		t.Fatalf("HDel: %d %v", removed, err)
	}
	view, ok, err := n.Collection(ctx, "h")
	if err != nil || !ok || view.Type != "hash" || len(view.Hash) != 1 || string(view.Hash["a"]) != "3" || view.Version.TS == 0 {
		t.Fatalf("Collection(h) = %+v %v %v", view, ok, err)
	}

	if added, err := n.SAdd(ctx, "s", "y", "x", "y"); err != nil || added != 2 {
		t.Fatalf("SAdd: %d %v", added, err)
	}
	if removed, err := n.SRem(ctx, "s", "y"); err != nil || removed != 1 {
		t.Fatalf("SRem: %d %v", removed, err)
	}
	if in, err := n.SIsMember(ctx, "s", "x"); err != nil || !in {
		t.Fatalf("SIsMember x: %v %v", in, err)
	}
	if view, _, _ := n.Collection(ctx, "s"); view.Type != "set" || !slices.Equal(view.Members, []string{"x"}) {
		t.Fatalf("Collection(s) = %+v", view)
	}

	if err := n.ZAdd(ctx, "z", "b", 2); err != nil {
		t.Fatal(err)
	}
	if s, err := n.ZIncrBy(ctx, "z", "a", 5); err != nil || s != 5 {
		t.Fatalf("ZIncrBy: %v %v", s, err)
	}
	if s, err := n.ZIncrBy(ctx, "z", "b", 1.5); err != nil || s != 3.5 {
		t.Fatalf("ZIncrBy: %v %v", s, err)
	}
	if err := n.ZAdd(ctx, "z", "c", math.NaN()); !errors.Is(err, ErrBadScore) {
		t.Fatalf("ZAdd NaN: %v", err)
	}
	n.ZAdd(ctx, "z", "inf", math.Inf(1))
	if _, err := n.ZIncrBy(ctx, "z", "inf", math.Inf(-1)); !errors.Is(err, ErrBadScore) {
		t.Fatalf("ZIncrBy inf-inf: %v", err)
	}
	if s, ok, err := n.ZScore(ctx, "z", "inf"); err != nil || !ok || !math.IsInf(s, 1) {
		t.Fatalf("a refused increment changed the score: %v %v %v", s, ok, err)
	}
	view, _, _ = n.Collection(ctx, "z")
	want := []ScoredMember{{"b", 3.5}, {"a", 5}, {"inf", math.Inf(1)}}
	if view.Type != "zset" || !slices.Equal(view.Scored, want) {
		t.Fatalf("Collection(z) = %+v, want %+v", view.Scored, want)
	}

	// Wrong types and absent keys.
	mustSet(t, n, "str", "v", SetOptions{})
	if _, _, err := n.Collection(ctx, "str"); !errors.Is(err, ErrWrongType) {
		t.Fatalf("Collection(str): %v", err)
	}
	if _, err := n.SAdd(ctx, "h", "m"); !errors.Is(err, ErrWrongType) {
		t.Fatalf("SAdd on a hash: %v", err)
	}
	if _, ok, err := n.Collection(ctx, "absent"); ok || err != nil {
		t.Fatalf("Collection(absent): %v %v", ok, err)
	}
	if removed, err := n.SRem(ctx, "absent", "m"); removed != 0 || err != nil {
		t.Fatalf("SRem(absent): %d %v", removed, err)
	}
}
