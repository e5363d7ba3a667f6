package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestP2PReadThrough(t *testing.T) {
	t.Parallel()
	a := newP2PNode(t, nil)
	b := newP2PNode(t, func(c *Config) { c.Join = a.P2PAddrs(); c.MaxMemory = 256 << 10 })
	waitFor(t, func() bool { return reachablePeers(a) == 1 && reachablePeers(b) == 1 })
	v := mustSetCtx(t, a, "far", "value")
	waitFor(t, func() bool { _, ok, _ := b.Peek(context.Background(), "far"); return ok })
	// b evicts it under memory pressure from local writes.
	for i := 0; ; i++ {
		mustSetCtx(t, b, fmt.Sprint("fill", i), strings.Repeat("x", 1000))
		if _, ok, _ := b.Peek(context.Background(), "far"); !ok {
			break
		}
	}
	it, ok, err := b.Get(context.Background(), "far")
	if err != nil || !ok || string(it.Value) != "value" || it.Version != v {
		t.Fatalf("read-through = %q %v %v, version %v want %v", it.Value, ok, err, it.Version, v)
	}
	if b.Stats().RemoteHits != 1 {
		t.Fatalf("remote hits = %d", b.Stats().RemoteHits)
	}
	// Stored locally with its original version: the next read is local.
	if _, ok, _ := b.Peek(context.Background(), "far"); !ok {
		t.Fatal("read-through result not kept")
	}
	// A key nobody holds is a miss, remembered briefly.
	if _, ok, _ := b.Get(context.Background(), "nowhere"); ok {
		t.Fatal("absent key found")
	}
	b.Get(context.Background(), "nowhere")
	if st := b.Stats(); st.RemoteMisses != 1 {
		t.Fatalf("remote misses = %d, want 1 (second miss served by the negative cache)", st.RemoteMisses)
	}
}

func TestP2PGetOrLoadOncePerCluster(t *testing.T) {
	t.Parallel()
	a, b, c := p2pCluster(t)
	var loads atomic.Int32
	load := func(ctx context.Context, key string) ([]byte, time.Duration, error) {
		loads.Add(1)
		return []byte("origin:" + key), time.Minute, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for _, n := range []*Node{a, b, c} {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				it, err := n.GetOrLoad(context.Background(), "cold", load)
				if err == nil && string(it.Value) != "origin:cold" {
					err = fmt.Errorf("got %q", it.Value)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := loads.Load(); got != 1 {
		t.Fatalf("origin loaded %d times for 30 callers in 3 regions, want 1", got)
	}
}

func TestP2PNearest(t *testing.T) {
	t.Parallel()
	eu := newP2PNode(t, func(c *Config) { c.Region, c.Lat, c.Lon = "eu-west", 53.3, -6.3 })
	us := newP2PNode(t, func(c *Config) { c.Region, c.Lat, c.Lon, c.Join = "us-east", 38.9, -77.0, eu.P2PAddrs() })
	waitFor(t, func() bool {
		ms := eu.Members()
		return len(ms) == 2 && ms[1].Region == "us-east" && reachablePeers(eu) == 1
	})
	got := eu.Nearest(40.7, -74.0, 2) // New York
	if len(got) != 2 || got[0].Region != "us-east" || got[1].Region != "eu-west" {
		t.Fatalf("nearest to New York: %+v", got)
	}
	_ = us
}
