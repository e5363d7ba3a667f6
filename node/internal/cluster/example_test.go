package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/geocache/geocache/node/internal/cluster"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Two members on loopback: B joins through A, receives A's gossip and
// learns A's record from the catalog.
func Example() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)

	a, err := cluster.New(ctx, cluster.Config{
		Logger: quiet,
		Self:   cluster.Record{Region: "eu-west", State: cluster.StateServing},
	})
	if err != nil {
		panic(err)
	}
	defer a.Close()

	b, err := cluster.New(ctx, cluster.Config{
		Logger: quiet,
		Join:   []string{a.Addrs()[0].String()},
		Self:   cluster.Record{Region: "us-east", State: cluster.StateJoining},
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	got := make(chan string, 1)
	b.OnMessage(func(from peer.ID, data []byte) {
		if from == a.ID() {
			select {
			case got <- string(data):
			default:
			}
		}
	})

	// Gossip is best effort, and the link is still coming up: publish
	// until B has it (the node's anti-entropy does this job for real).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for delivered := false; !delivered; {
		if err := a.Publish(ctx, []byte("hello")); err != nil {
			panic(err)
		}
		select {
		case m := <-got:
			fmt.Println("B received:", m)
			delivered = true
		case <-tick.C:
		case <-deadline:
			panic("no delivery")
		}
	}

	for {
		for _, m := range b.Members() {
			if m.PeerID == a.ID().String() && m.Known {
				fmt.Printf("B sees A: region %s, %s, connected %v\n", m.Region, m.State, m.Connected)
				return
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			panic("A's record never arrived")
		}
	}

	// Output:
	// B received: hello
	// B sees A: region eu-west, serving, connected true
}
