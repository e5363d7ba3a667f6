package node

import (
	"context"
	"fmt"
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

// BenchmarkSetNewKeys is a node filling with new keys (16-byte keys, 100-byte values): every
// write inserts, so the store's slab and hash index grow as they go.
//
//	go test ./node -run '^$' -bench 'BenchmarkSetNewKeys' -benchmem
func BenchmarkSetNewKeys(b *testing.B) {
	n, err := New(Config{MaxMemory: 4 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%012d", i)
	}
	val := make([]byte, 100)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		n.Set(ctx, keys[i], val, SetOptions{})
	}
}
