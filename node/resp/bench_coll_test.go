package resp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/geocache/geocache/node"
)

// benchRandom measures the server side of pipelines of 16 requests drawn at random, as
// redis-benchmark -r does (256 batches cycled), after warm has run once.
func benchRandom(b *testing.B, warm []byte, req func(r int) []byte) {
	_, run := pipeClient(b)
	if warm != nil {
		run(warm)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	batches := make([][]byte, 256)
	for i := range batches {
		for range 16 {
			batches[i] = append(batches[i], req(rng.IntN(100000))...)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 16 {
		run(batches[(i/16)%len(batches)])
	}
}

// pipeClient serves a node of 1 GiB in process through one connection without a socket (its
// replies are dropped) and returns the node and a function that runs one batch of requests
// on it, failing tb if the connection closes. The node closes when tb ends.
func pipeClient(tb testing.TB) (*node.Node, func(batch []byte)) {
	n, err := node.New(node.Config{MaxMemory: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	s, err := New(n, Config{})
	if err != nil {
		tb.Fatal(err)
	}
	c := newClient(s, discardConn{}, "", "")
	ctx := context.Background()
	return n, func(batch []byte) {
		c.in = append(c.in[:0], batch...)
		c.r, c.w = 0, len(batch)
		if c.process(ctx) != procOK {
			tb.Fatal("connection closed")
		}
		c.out = c.out[:0]
	}
}

func cmd(args ...string) []byte {
	out := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		out = fmt.Appendf(out, "$%d\r\n%s\r\n", len(a), a)
	}
	return out
}

func fill(n int, req func(r int) []byte) []byte {
	var out []byte
	for i := range n {
		out = append(out, req(i)...)
	}
	return out
}

func BenchmarkCollHSetKeys(b *testing.B) {
	benchRandom(b, nil, func(r int) []byte { return cmd("HSET", fmt.Sprintf("myhash:%012d", r), "f", "v") })
}

func BenchmarkCollHSetField(b *testing.B) {
	benchRandom(b, nil, func(r int) []byte { return cmd("HSET", "myhash", fmt.Sprintf("%012d", r), "v") })
}

func BenchmarkCollHGet(b *testing.B) {
	f := func(r int) []byte { return cmd("HSET", "myhash", fmt.Sprintf("%012d", r), "v") }
	benchRandom(b, fill(100000, f), func(r int) []byte { return cmd("HGET", "myhash", fmt.Sprintf("%012d", r)) })
}

func BenchmarkCollSAdd(b *testing.B) {
	benchRandom(b, nil, func(r int) []byte { return cmd("SADD", "myset", fmt.Sprintf("%012d", r)) })
}

func BenchmarkCollSIsMember(b *testing.B) {
	f := func(r int) []byte { return cmd("SADD", "myset", fmt.Sprintf("%012d", r)) }
	benchRandom(b, fill(100000, f), func(r int) []byte { return cmd("SISMEMBER", "myset", fmt.Sprintf("%012d", r)) })
}

func BenchmarkCollZAdd(b *testing.B) {
	benchRandom(b, nil, func(r int) []byte { return cmd("ZADD", "myzset", fmt.Sprint(r), fmt.Sprintf("m%012d", r)) })
}

func BenchmarkCollZRange(b *testing.B) {
	f := func(r int) []byte { return cmd("ZADD", "myzset", fmt.Sprint(r), fmt.Sprintf("m%012d", r)) }
	benchRandom(b, fill(100000, f), func(int) []byte { return cmd("ZRANGE", "myzset", "0", "9") })
}
