package node

import (
	"context"
	"slices"
	"testing"
	"time"
)

// Found by the testnet checker: a collection emptied on one node and written again there
// started a new incarnation that replaced the collection everywhere, dropping a member another
// node had added meanwhile that no remove had observed. Now the emptied state's incarnation
// goes on; only its TTL is cleared, as Redis's re-created key has none.
func TestEmptiedCollectionKeepsConcurrentAdds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	sadd(t, a, "s", "old")
	if ok, err := a.Expire(ctx, "s", a.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatalf("EXPIRE: %v %v", ok, err)
	}
	converged(t, a, b)
	net.partition([]string{"a"}, []string{"b"})
	srem(t, a, "s", "old") // emptied on a
	sadd(t, b, "s", "fromb")
	sadd(t, a, "s", "again")
	net.heal()
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if got := setOf(t, n, "s"); !slices.Equal(got, []string{"again", "fromb"}) {
			t.Fatalf("set = %q, want [again fromb]", got)
		}
	}
	// a's re-creation cleared the TTL; b's concurrent add did not see it, and the expiry
	// register (LWW) holds a's newer write on both.
	for _, n := range []*Node{a, b} {
		if _, exists, hasExp, err := n.TTL(ctx, "s"); err != nil || !exists || hasExp {
			t.Fatalf("TTL after re-creation: exists %v, expiry %v, %v; want no expiry", exists, hasExp, err)
		}
	}
}

// Two regions creating the same collection concurrently, neither holding any record of the
// key, merge (the genesis incarnation), instead of the higher creating write replacing the
// other's fields.
func TestConcurrentCreationsMerge(t *testing.T) {
	t.Parallel()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	net.partition([]string{"a"}, []string{"b"})
	hset(t, a, "session", "cart", "3")
	hset(t, b, "session", "user", "ada")
	sadd(t, a, "tags", "x")
	sadd(t, b, "tags", "y")
	net.heal()
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if got := hashOf(t, n, "session"); !mapsEq(got, map[string]string{"cart": "3", "user": "ada"}) {
			t.Fatalf("hash = %v", got)
		}
		if got := setOf(t, n, "tags"); !slices.Equal(got, []string{"x", "y"}) {
			t.Fatalf("set = %q", got)
		}
	}
	// After a DEL seen here, a new write starts a new incarnation above the delete: the
	// deleted fields stay deleted everywhere.
	if _, err := a.Delete(context.Background(), "session"); err != nil {
		t.Fatal(err)
	}
	converged(t, a, b)
	hset(t, b, "session", "new", "1")
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if got := hashOf(t, n, "session"); !mapsEq(got, map[string]string{"new": "1"}) {
			t.Fatalf("hash after DEL and HSET = %v", got)
		}
	}
}
