package resp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
	"github.com/geocache/geocache/node/resp"
)

// passing wraps a node and records the write passes the server opens and whether each SET
// ran inside one.
type passing struct {
	*node.Node
	mu           sync.Mutex
	open, begins int
	inPass       []bool
}

func (p *passing) BeginWrites() {
	p.mu.Lock()
	p.open++
	p.begins++
	p.mu.Unlock()
	p.Node.BeginWrites()
}

func (p *passing) EndWrites() bool {
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
	return p.Node.EndWrites()
}

func (p *passing) Set(ctx context.Context, key string, value []byte, opt node.SetOptions) (node.SetResult, error) {
	p.mu.Lock()
	p.inPass = append(p.inPass, p.open > 0)
	p.mu.Unlock()
	return p.Node.Set(ctx, key, value, opt)
}

// SetBytesAt is what SET calls on a backend that has it (the node does).
func (p *passing) SetBytesAt(ctx context.Context, key, value []byte, opt node.SetOptions, nowMs int64) (node.SetResult, error) {
	p.mu.Lock()
	p.inPass = append(p.inPass, p.open > 0)
	p.mu.Unlock()
	return p.Node.SetBytesAt(ctx, key, value, opt, nowMs)
}

// TestEventLoopWritePasses checks that an event loop runs a pipeline's commands inside a write
// pass (so a replicating node publishes them as one batch when the pass ends) and ends every
// pass it begins; connections served on goroutines open none.
func TestEventLoopWritePasses(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			p := &passing{Node: standaloneNode(t)}
			addr, _ := serveBackend(t, p, mode.loops)
			c := dialRaw(t, addr)
			var req []byte
			for _, k := range []string{"a", "b", "c"} {
				req = append(req, encode("SET", k, "v")...)
			}
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if got, err := c.readReply(5 * time.Second); err != nil || got != "+OK\r\n" {
					t.Fatalf("SET = %q, %v", got, err)
				}
			}
			loops := mode.loops >= 0 && resp.LoopsSupported
			waitUntil(t, 5*time.Second, func() bool {
				p.mu.Lock()
				defer p.mu.Unlock()
				return p.open == 0
			})
			p.mu.Lock()
			defer p.mu.Unlock()
			if len(p.inPass) != 3 {
				t.Fatalf("%d SETs ran, want 3", len(p.inPass))
			}
			for i, in := range p.inPass {
				if in != loops {
					t.Fatalf("SET %d ran in a pass: %v, want %v", i, in, loops)
				}
			}
			if loops && p.begins == 0 {
				t.Fatal("no pass begun")
			}
		})
	}
}

// TestEventLoopRepliesInOrder checks that many connections whose pipelines arrive together each
// get every reply, in order — including a pipeline that hands its connection to a goroutine
// halfway (a BZPOPMIN that must wait) with replies still unwritten, and the requests after it
// once the connection is back on the loop.
func TestEventLoopRepliesInOrder(t *testing.T) {
	t.Parallel()
	for _, mode := range transports {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := serveBackend(t, standaloneNode(t), mode.loops)
			const conns = 20
			cs := make([]*rawConn, conns)
			for i := range cs {
				cs[i] = dialRaw(t, addr)
			}
			for i, c := range cs {
				k := fmt.Sprintf("k%d", i)
				var req []byte
				req = append(req, encode("SET", k, k)...)
				req = append(req, encode("GET", k)...)
				if i%2 == 0 {
					req = append(req, encode("BZPOPMIN", "absent", "0.05")...)
				}
				req = append(req, encode("GET", k)...)
				if _, err := c.Write(req); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range cs {
				k := fmt.Sprintf("k%d", i)
				bulk := fmt.Sprintf("$%d\r\n%s\r\n", len(k), k)
				want := []string{"+OK\r\n", bulk, bulk}
				if i%2 == 0 {
					want = []string{"+OK\r\n", bulk, "*-1\r\n", bulk}
				}
				for j, w := range want {
					if got, err := c.readReply(5 * time.Second); err != nil || got != w {
						t.Fatalf("connection %d reply %d = %q, %v; want %q", i, j, got, err, w)
					}
				}
			}
		})
	}
}
