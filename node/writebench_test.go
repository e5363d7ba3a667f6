package node

import (
	"context"
	"io"
	"strconv"
	"testing"
)

// nullTransport counts what it is handed and sends nothing: the writer's own cost of
// replicating, without the network.
type nullTransport struct{ frames, bytes int }

func (t *nullTransport) Publish(_ context.Context, data []byte) error {
	t.frames++
	t.bytes += len(data)
	return nil
}

func (t *nullTransport) OpenSync(context.Context, string) (io.ReadWriteCloser, error) {
	return nil, io.ErrClosedPipe
}

// BenchmarkSetPass measures a local write made in a write pass of 100 writes, as the RESP event
// loop makes them under a pipelined load (redis-benchmark -P 16, 50 clients), alone and with
// replication attached and a peer connected: the difference is the writer's cost of
// replicating a write short of the transport (recording, logging, queueing and encoding it).
//
//	go test ./node -run '^$' -bench 'BenchmarkSetPass' -benchmem
func BenchmarkSetPass(b *testing.B) {
	for _, repl := range []bool{false, true} {
		b.Run("replicating="+strconv.FormatBool(repl), func(b *testing.B) {
			n, err := New(Config{MaxMemory: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			tr := &nullTransport{}
			if repl {
				n.enableReplication(tr, replConfig{})
				n.repl.peersUp.Store(1)
			}
			keys := make([]string, 100000)
			for i := range keys {
				keys[i] = "key:" + strconv.Itoa(100000000000+i)
			}
			val := make([]byte, 100)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if repl && i%100 == 0 {
					if i > 0 {
						n.EndWrites()
					}
					n.BeginWrites()
				}
				n.Set(ctx, keys[(i*7919)%len(keys)], val, SetOptions{})
			}
			if repl {
				n.EndWrites()
				b.ReportMetric(float64(tr.bytes)/float64(b.N), "wireB/op")
			}
		})
	}
}
