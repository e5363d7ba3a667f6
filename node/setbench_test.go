package node

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkSet measures a local write, alone and with replication attached (no peers: the cost
// of recording the write for replication, without the network).
//
//	go test ./node -run '^$' -bench 'BenchmarkSet' -benchmem
func BenchmarkSet(b *testing.B) {
	for _, repl := range []bool{false, true} {
		b.Run("replicating="+strconv.FormatBool(repl), func(b *testing.B) {
			n, err := New(Config{MaxMemory: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			if repl {
				net := newMemNet()
				net.mu.Lock()
				net.nodes["x"] = n
				net.mu.Unlock()
				n.enableReplication(&memTransport{net: net, id: "x"}, replConfig{})
			}
			keys := make([]string, 1<<16)
			for i := range keys {
				keys[i] = "key:" + strconv.Itoa(i)
			}
			val := make([]byte, 3)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				n.Set(ctx, keys[i&(len(keys)-1)], val, SetOptions{})
			}
		})
	}
}
