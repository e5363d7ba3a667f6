package resp

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/geocache/geocache/node"
)

// discardConn is a net.Conn whose writes vanish; benchmarks feed its client's input buffer
// directly.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)     { return len(b), nil }
func (discardConn) Close() error                    { return nil }
func (discardConn) RemoteAddr() net.Addr            { return &net.TCPAddr{} }
func (discardConn) LocalAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) SetReadDeadline(time.Time) error { return nil }

// benchPipeline measures the server side of a pipeline of 16 requests: parsing, dispatch, the
// node and reply encoding, without the network.
func benchPipeline(b *testing.B, req func(i int) []byte) {
	benchPipelineOn(b, func(n *node.Node) Backend { return n }, req)
}

// benchPipelineOn is benchPipeline with the server over backend(n).
func benchPipelineOn(b *testing.B, backend func(*node.Node) Backend, req func(i int) []byte) {
	benchPipelineWith(b, backend, nil, req)
}

// benchPipelineWith is benchPipelineOn with setup run on the server before the pipeline's
// connection is made (nil: none); what setup returns runs when the benchmark ends.
func benchPipelineWith(b *testing.B, backend func(*node.Node) Backend, setup func(*Server) func(), req func(i int) []byte) {
	n, err := node.New(node.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	s, err := New(backend(n), Config{})
	if err != nil {
		b.Fatal(err)
	}
	if setup != nil {
		defer setup(s)()
	}
	c := newClient(s, discardConn{}, "127.0.0.1:50000", "")
	ctx := context.Background()
	const depth = 16
	var batch []byte
	for i := range depth {
		batch = append(batch, req(i)...)
	}
	// Warm the keys so GET hits.
	c.in = append(c.in[:0], batch...)
	c.r, c.w = 0, len(batch)
	c.process(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		c.in = append(c.in[:0], batch...)
		c.r, c.w = 0, len(batch)
		if c.process(ctx) != procOK {
			b.Fatal("connection closed")
		}
	}
}

func BenchmarkPipelineSET(b *testing.B) {
	benchPipeline(b, setRequest)
}

// setRequest is the i-th request of BenchmarkPipelineSET: SET key:<i> xxx.
func setRequest(i int) []byte {
	k := fmt.Sprintf("key:%06d", i)
	return fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n", len(k), k)
}

// BenchmarkPipelineSETWarming is BenchmarkPipelineSET on a node that warms a pipeline's keys
// (as one with a large store does): the pipeline is parsed ahead, then run.
func BenchmarkPipelineSETWarming(b *testing.B) {
	benchPipelineOn(b, func(n *node.Node) Backend { return alwaysWarm{n} }, func(i int) []byte {
		k := fmt.Sprintf("key:%06d", i)
		return fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n", len(k), k)
	})
}

func BenchmarkPipelineGET(b *testing.B) {
	benchPipeline(b, func(i int) []byte {
		k := fmt.Sprintf("key:%06d", i)
		return fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k, len(k), k)
	})
}
