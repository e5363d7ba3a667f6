package node_test

import (
	"context"
	"fmt"
	"time"

	"github.com/geocache/geocache/node"
)

func Example() {
	n, err := node.New(node.Config{MaxMemory: 64 << 20})
	if err != nil {
		panic(err)
	}
	defer n.Close()
	ctx := context.Background()

	n.Set(ctx, "greeting", []byte("hello"), node.SetOptions{TTL: time.Minute})
	it, ok, _ := n.Get(ctx, "greeting")
	fmt.Println(string(it.Value), ok)

	r, _ := n.Set(ctx, "greeting", []byte("again"), node.SetOptions{NX: true})
	fmt.Println("written:", r.Written)

	deleted, _ := n.Delete(ctx, "greeting")
	_, ok, _ = n.Get(ctx, "greeting")
	fmt.Println(deleted, ok)
	// Output:
	// hello true
	// written: false
	// 1 false
}

func ExampleNode_GetOrLoad() {
	n, _ := node.New(node.Config{})
	defer n.Close()
	load := func(ctx context.Context, key string) ([]byte, time.Duration, error) {
		fmt.Println("loading", key)
		return []byte("value of " + key), time.Hour, nil
	}
	for range 2 {
		it, _ := n.GetOrLoad(context.Background(), "user:42", load)
		fmt.Println(string(it.Value))
	}
	// Output:
	// loading user:42
	// value of user:42
	// value of user:42
}

func ExampleMemoize() {
	n, _ := node.New(node.Config{})
	defer n.Close()
	type profile struct{ Name string }
	profiles := node.NewTyped[profile](n, "profile:", nil)
	fetch := node.Memoize(profiles, func(id int) string { return fmt.Sprint(id) }, time.Minute,
		func(_ context.Context, id int) (profile, error) {
			fmt.Println("fetching", id)
			return profile{Name: fmt.Sprint("user-", id)}, nil
		})
	p, _ := fetch(context.Background(), 7)
	p, _ = fetch(context.Background(), 7)
	fmt.Println(p.Name)
	// Output:
	// fetching 7
	// user-7
}

// ExampleNode_Atomic moves an amount between two keys: no reader on this node sees one key
// changed without the other, and the two writes replicate as one unit.
func ExampleNode_Atomic() {
	n, err := node.New(node.Config{})
	if err != nil {
		panic(err)
	}
	defer n.Close()
	ctx := context.Background()
	n.Set(ctx, "alice", []byte("10"), node.SetOptions{})
	n.Set(ctx, "bob", []byte("0"), node.SetOptions{})

	err = n.Atomic(ctx, []string{"alice", "bob"}, func(tx *node.Tx) error {
		a, _, _ := tx.Get(ctx, "alice")
		b, _, _ := tx.Get(ctx, "bob")
		var x, y int
		fmt.Sscan(string(a.Value), &x)
		fmt.Sscan(string(b.Value), &y)
		if _, err := tx.Set(ctx, "alice", fmt.Append(nil, x-3), node.SetOptions{}); err != nil {
			return err
		}
		_, err := tx.Set(ctx, "bob", fmt.Append(nil, y+3), node.SetOptions{})
		return err
	})
	items, _, _ := n.MGet(ctx, "alice", "bob")
	fmt.Println(err, string(items[0].Value), string(items[1].Value))
	// Output: <nil> 7 3
}
