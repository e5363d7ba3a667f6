package node

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// view is key's value on n as a comparable string: its type and contents.
func view(t *testing.T, n *Node, key string) CollectionView {
	t.Helper()
	v, ok, err := n.Collection(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("Collection(%q) = %v, %v", key, ok, err)
	}
	v.Version, v.ExpireAt = CollectionView{}.Version, time.Time{}
	return v
}

// TestRestoreReplicates: RESTORE of each type writes the whole value with its expiry, and
// another region gets the same value and expiry.
func TestRestoreReplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	exp := a.Now().Add(time.Hour).Truncate(time.Millisecond)
	values := map[string]WholeValue{
		"s":  {Type: "string", String: []byte("hello")},
		"h":  {Type: "hash", Fields: [][2][]byte{{[]byte("f"), []byte("1")}, {[]byte("g"), []byte("")}}},
		"st": {Type: "set", Members: []string{"x", "y", "z"}},
		"z":  {Type: "zset", Scored: []ScoredMember{{"m", 1.5}, {"n", math.Inf(-1)}}},
	}
	for k, v := range values {
		if err := a.Restore(ctx, k, v, exp, false); err != nil {
			t.Fatalf("Restore(%s): %v", k, err)
		}
	}
	want := map[string]CollectionView{
		"h":  {Type: "hash", Hash: map[string][]byte{"f": []byte("1"), "g": {}}},
		"st": {Type: "set", Members: []string{"x", "y", "z"}},
		"z":  {Type: "zset", Scored: []ScoredMember{{"n", math.Inf(-1)}, {"m", 1.5}}},
	}
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		if v, ok := mustGet(t, n, "s"); !ok || v != "hello" {
			t.Fatalf("string = %q, %v", v, ok)
		}
		for k, w := range want {
			if got := view(t, n, k); !reflect.DeepEqual(got, w) {
				t.Fatalf("%s = %+v, want %+v", k, got, w)
			}
		}
		for k := range values {
			ttl, ok, has, err := n.TTL(ctx, k)
			if err != nil || !ok || !has || ttl <= 0 || ttl > time.Hour {
				t.Fatalf("TTL(%s) = %v %v %v %v", k, ttl, ok, has, err)
			}
		}
	}
	if used, ok, _ := a.MemoryUsage(ctx, "st"); !ok || used <= 0 {
		t.Fatalf("MemoryUsage of a restored set = %d, %v", used, ok)
	}
	// The restored hash is an ordinary one: later writes merge into it everywhere.
	hset(t, b, "h", "k", "v")
	waitFor(t, func() bool { return hashOf(t, a, "h")["k"] == "v" })
}

// TestRestoreBusyReplaceExpired: a live key is BUSYKEY unless REPLACE, which replaces any
// type; an expiry in the past writes nothing and, with REPLACE, deletes the key.
func TestRestoreBusyReplaceExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	str := WholeValue{Type: "string", String: []byte("v")}
	set := WholeValue{Type: "set", Members: []string{"m"}}
	hset(t, a, "k", "f", "v")
	if err := a.Restore(ctx, "k", str, time.Time{}, false); !errors.Is(err, ErrBusyKey) {
		t.Fatalf("Restore over a live hash: %v", err)
	}
	if got := hashOf(t, a, "k"); !mapsEq(got, map[string]string{"f": "v"}) {
		t.Fatalf("a refused RESTORE changed the hash: %v", got)
	}
	if err := a.Restore(ctx, "k", str, time.Time{}, true); err != nil {
		t.Fatalf("Restore REPLACE over a hash: %v", err)
	}
	if err := a.Restore(ctx, "k", set, time.Time{}, true); err != nil {
		t.Fatalf("Restore REPLACE of a set over a string: %v", err)
	}
	past := a.Now().Add(-time.Second)
	if err := a.Restore(ctx, "k", str, past, false); !errors.Is(err, ErrBusyKey) {
		t.Fatalf("Restore with a past expiry over a live key: %v", err)
	}
	if err := a.Restore(ctx, "gone", str, past, false); err != nil {
		t.Fatalf("Restore with a past expiry: %v", err)
	}
	converged(t, a, b)
	if got := view(t, b, "k"); !reflect.DeepEqual(got.Members, []string{"m"}) {
		t.Fatalf("b holds %+v after the REPLACEs", got)
	}
	if err := a.Restore(ctx, "k", str, past, true); err != nil {
		t.Fatalf("Restore REPLACE with a past expiry: %v", err)
	}
	converged(t, a, b)
	for _, n := range []*Node{a, b} {
		for _, k := range []string{"k", "gone"} {
			if ty, _ := n.KeyType(ctx, k); ty != "none" {
				t.Fatalf("%s is a %s, want deleted", k, ty)
			}
		}
	}
}

// TestRestoreRefuses: bad values are errors and change nothing.
func TestRestoreRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, _ := newTestNode(t, func(c *Config) { c.MaxValueSize = 16 })
	for _, c := range []struct {
		v    WholeValue
		want error
	}{
		{WholeValue{Type: "string", String: []byte(strings.Repeat("x", 17))}, ErrValueTooLarge},
		{WholeValue{Type: "hash", Fields: [][2][]byte{{[]byte("f"), []byte(strings.Repeat("x", 16))}}}, ErrValueTooLarge},
		{WholeValue{Type: "set", Members: []string{strings.Repeat("x", 17)}}, ErrValueTooLarge},
		{WholeValue{Type: "zset", Scored: []ScoredMember{{"m", math.NaN()}}}, ErrBadScore},
		{WholeValue{Type: "set"}, errEmptyWhole},
	} {
		if err := n.Restore(ctx, "k", c.v, time.Time{}, true); !errors.Is(err, c.want) {
			t.Errorf("Restore(%+v) = %v, want %v", c.v.Type, err, c.want)
		}
		if ty, _ := n.KeyType(ctx, "k"); ty != "none" {
			t.Fatalf("a refused RESTORE wrote a %s", ty)
		}
	}
}

// TestRestoreInTransaction: a RESTORE inside a transaction replicates with its unit.
func TestRestoreInTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	net := newMemNet()
	a, b := net.add(t, "a", nil), net.add(t, "b", nil)
	err := a.Atomic(ctx, []string{"z", "s"}, func(tx *Tx) error {
		if err := tx.Restore(ctx, "z", WholeValue{Type: "zset", Scored: []ScoredMember{{"m", 2}}}, time.Time{}, false); err != nil {
			return err
		}
		if err := tx.Restore(ctx, "z", WholeValue{Type: "string", String: []byte("x")}, time.Time{}, false); !errors.Is(err, ErrBusyKey) {
			t.Errorf("second Restore in the transaction: %v", err)
		}
		return tx.Restore(ctx, "s", WholeValue{Type: "string", String: []byte("x")}, time.Time{}, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	converged(t, a, b)
	if got := view(t, b, "z"); !reflect.DeepEqual(got.Scored, []ScoredMember{{"m", 2}}) {
		t.Fatalf("b's z = %+v", got)
	}
	if v, ok := mustGet(t, b, "s"); !ok || v != "x" {
		t.Fatalf("b's s = %q, %v", v, ok)
	}
}

// BenchmarkRestore measures Restore of a whole collection of 100k elements (a migration's
// RESTORE of a large key), against COPY of the same collection, which writes it the same way
// without building it first.
func BenchmarkRestore(b *testing.B) {
	ctx := context.Background()
	const elems = 100_000
	scored := make([]ScoredMember, elems)
	fields := make([][2][]byte, elems)
	for i := range elems {
		scored[i] = ScoredMember{Member: "member" + strconv.Itoa(i), Score: float64(i)}
		fields[i] = [2][]byte{[]byte("field" + strconv.Itoa(i)), []byte("value" + strconv.Itoa(i))}
	}
	for _, c := range []struct {
		name string
		v    WholeValue
	}{{"zset", WholeValue{Type: "zset", Scored: scored}}, {"hash", WholeValue{Type: "hash", Fields: fields}}} {
		n, _ := newTestNode(b, func(cfg *Config) { cfg.MaxMemory = 1 << 30 })
		if err := n.Restore(ctx, "src", c.v, time.Time{}, true); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/restore", func(b *testing.B) {
			for range b.N {
				if err := n.Restore(ctx, "dst", c.v, time.Time{}, true); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/copy", func(b *testing.B) {
			for range b.N {
				if ok, err := n.Copy(ctx, "src", "dst", true); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
