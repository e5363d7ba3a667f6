package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/client"
)

// exampleCluster stands in for a real deployment: two nodes, "paris"
// answering in about a millisecond and "tokyo" 100 ms away, and a node's
// HTTP API listing them. It returns the seed URL, what puts a client's
// probes at those distances (atDistance; a real client measures them) and
// a cleanup.
func exampleCluster() (seed string, atDistance func(*client.Config), stop func()) {
	paris, err := startFakeNode("paris", 0)
	if err != nil {
		log.Fatal(err)
	}
	tokyo, err := startFakeNode("tokyo", 100*time.Millisecond)
	if err != nil {
		log.Fatal(err)
	}
	fc := startFakeCluster(tokyo, paris)
	atDistance = func(cfg *client.Config) { client.SetProbeDistance(cfg, fc.distance) }
	return fc.URL(), atDistance, func() { fc.srv.Close(); paris.stop(); tokyo.stop() }
}

func Example() {
	seed, atDistance, stop := exampleCluster()
	defer stop()
	ctx := context.Background()

	// One seed is enough: the client learns the other nodes from it,
	// measures them and uses the nearest.
	cfg := client.Config{Seeds: []string{seed}, Logger: quiet}
	atDistance(&cfg) // the example's stand-in nodes: tokyo 100 ms away
	c, err := client.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Set(ctx, "greeting", []byte("bonjour"), time.Hour); err != nil {
		log.Fatal(err)
	}
	v, err := c.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s from %s\n", v, c.Current().ID)
	for _, n := range c.Nodes() {
		fmt.Println(n.ID, n.Healthy)
	}
	// Output:
	// bonjour from paris
	// paris true
	// tokyo true
}

// Do runs any go-redis command on the nearest node, with the same failover
// as Get and Set; the function may run more than once, on different nodes.
func ExampleClient_Do() {
	seed, atDistance, stop := exampleCluster()
	defer stop()
	ctx := context.Background()
	cfg := client.Config{Seeds: []string{seed}, Logger: quiet}
	atDistance(&cfg) // the example's stand-in nodes: tokyo 100 ms away
	c, err := client.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var pong string
	err = c.Do(ctx, func(ctx context.Context, rdb *redis.Client) error {
		pong, err = rdb.Ping(ctx).Result()
		return err
	})
	fmt.Println(pong, err)
	// Output: PONG <nil>
}
