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
