package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// Replication benchmarks over real libp2p on loopback. Run them one at a time with
// -benchtime=1x; each reports its measurements as custom metrics:
//
//	go test ./node -run '^$' -bench 'Repl|AnchorTCP' -benchtime 1x

// lagRecorder collects write-to-apply delays from the timestamp written into each value.
type lagRecorder struct {
	mu   sync.Mutex
	lags []time.Duration
}

func (l *lagRecorder) hook(d *crdt.Delta) {
	if len(d.Entry.Value) < 8 {
		return
	}
	sent := int64(binary.LittleEndian.Uint64(d.Entry.Value))
	lag := time.Duration(time.Now().UnixNano() - sent)
	l.mu.Lock()
	l.lags = append(l.lags, lag)
	l.mu.Unlock()
}

func (l *lagRecorder) quantiles() (p50, p99, pmax time.Duration, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := slices.Clone(l.lags)
	slices.Sort(s)
	if len(s) == 0 {
		return 0, 0, 0, 0
	}
	return s[len(s)/2], s[len(s)*99/100], s[len(s)-1], len(s)
}

func benchCluster(b *testing.B) (a, x, y *Node) {
	mk := func(join *Node) *Node {
		cfg := Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, MaxMemory: 4 << 30,
			Logger: discardLogger()}
		if join != nil {
			cfg.Join = join.P2PAddrs()
		}
		n, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close() })
		return n
	}
	a = mk(nil)
	x, y = mk(a), mk(a)
	deadline := time.Now().Add(20 * time.Second)
	for reachablePeers(a) < 2 || reachablePeers(x) < 2 || reachablePeers(y) < 2 {
		if time.Now().After(deadline) {
			b.Fatal("cluster did not form")
		}
		waitTick()
	}
	return a, x, y
}

// paced writes total values to n at rate writes/s, each value carrying its send time.
func paced(b *testing.B, n *Node, prefix string, total, rate int) {
	ctx := context.Background()
	const tick = time.Millisecond
	perTick := max(rate/1000, 1)
	t := time.NewTicker(tick)
	defer t.Stop()
	val := make([]byte, 100)
	for i := 0; i < total; {
		<-t.C
		for j := 0; j < perTick && i < total; j, i = j+1, i+1 {
			binary.LittleEndian.PutUint64(val, uint64(time.Now().UnixNano()))
			if _, err := n.Set(ctx, fmt.Sprint(prefix, i), val, SetOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func waitLen(b *testing.B, want int, timeout time.Duration, nodes ...*Node) time.Duration {
	start := time.Now()
	for {
		done := true
		for _, n := range nodes {
			if n.Len() < want {
				done = false
			}
		}
		if done {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			for _, n := range nodes {
				b.Logf("len %d stats %+v", n.Len(), n.ReplicationStats())
			}
			b.Fatalf("not replicated within %v", timeout)
		}
		<-time.After(200 * time.Microsecond)
	}
}

// BenchmarkReplLag10k: 3 nodes, 10k writes/s of 100-byte values to one node for 3 s; the lag
// from Set to apply on the two others.
func BenchmarkReplLag10k(b *testing.B) {
	for b.Loop() {
		a, x, y := benchCluster(b)
		rec := &lagRecorder{}
		x.repl.applied, y.repl.applied = rec.hook, rec.hook
		const total = 30000
		paced(b, a, "lag", total, 10000)
		waitLen(b, total, 30*time.Second, x, y)
		p50, p99, pmax, n := rec.quantiles()
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(pmax.Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(n), "applies")
		st := a.ReplicationStats()
		b.ReportMetric(float64(st.DeltasSent)/float64(max(st.BatchesSent, 1)), "deltas/batch")
	}
}

// BenchmarkReplThroughput: one writer as fast as it can, 200k writes; the rate at which all
// of them are applied on both other nodes (zero loss: every write must arrive).
func BenchmarkReplThroughput(b *testing.B) {
	for b.Loop() {
		a, x, y := benchCluster(b)
		ctx := context.Background()
		const total = 200000
		val := make([]byte, 100)
		start := time.Now()
		for i := range total {
			if _, err := a.Set(ctx, fmt.Sprint("t", i), val, SetOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		local := time.Since(start)
		waitLen(b, total, 120*time.Second, x, y)
		all := time.Since(start)
		b.ReportMetric(float64(total)/local.Seconds(), "local-writes/s")
		b.ReportMetric(float64(total)/all.Seconds(), "replicated-writes/s")
		st := a.ReplicationStats()
		b.ReportMetric(float64(st.DeltasDropped), "gossip-dropped")
		b.ReportMetric(float64(x.ReplicationStats().SyncDeltasRecv+y.ReplicationStats().SyncDeltasRecv), "repaired")
	}
}

// BenchmarkReplPartitionHeal: a | {x, y}; 100k writes on each side; heal; time until all three
// hold all 200k keys.
func BenchmarkReplPartitionHeal(b *testing.B) {
	for b.Loop() {
		a, x, y := benchCluster(b)
		ctx := context.Background()
		block(a, x)
		block(a, y)
		for reachablePeers(a) > 0 {
			waitTick()
		}
		const per = 100000
		val := make([]byte, 100)
		for i := range per {
			a.Set(ctx, fmt.Sprint("a", i), val, SetOptions{})
			x.Set(ctx, fmt.Sprint("x", i), val, SetOptions{})
		}
		waitLen(b, per, 60*time.Second, y) // x's side is consistent before the heal
		start := time.Now()
		unblock(a, x)
		unblock(a, y)
		d := waitLen(b, 2*per, 60*time.Second, a, x, y)
		b.ReportMetric(float64(d.Milliseconds()), "converge-ms")
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "heal-to-converged-ms")
	}
}

// BenchmarkAnchorTCPOneWay: the anchor for replication lag — one-way delay of an 8-byte
// timestamp over a plain loopback TCP connection at 10k messages/s.
func BenchmarkAnchorTCPOneWay(b *testing.B) {
	for b.Loop() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		rec := &lagRecorder{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 8)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				rec.hook(&crdt.Delta{Entry: crdt.Entry{Value: buf}})
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		t := time.NewTicker(time.Millisecond)
		buf := make([]byte, 8)
		for range 3000 {
			<-t.C
			for range 10 {
				binary.LittleEndian.PutUint64(buf, uint64(time.Now().UnixNano()))
				c.Write(buf)
			}
		}
		t.Stop()
		c.Close()
		<-done
		ln.Close()
		p50, p99, _, _ := rec.quantiles()
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// BenchmarkGetOrLoadStampede: 3 nodes x 10 concurrent callers ask for the same cold key at
// once; the loader takes 20 ms (a slow origin). Reports origin loads per key (1 is ideal) and
// the callers' p50/max latency.
func BenchmarkGetOrLoadStampede(b *testing.B) {
	for b.Loop() {
		a, x, y := benchCluster(b)
		const keys, callers = 20, 10
		var loads atomic.Int64
		load := func(ctx context.Context, key string) ([]byte, time.Duration, error) {
			loads.Add(1)
			<-time.After(20 * time.Millisecond)
			return []byte("v"), time.Minute, nil
		}
		rec := &lagRecorder{}
		for k := range keys {
			key := fmt.Sprint("cold", k)
			var wg sync.WaitGroup
			for _, n := range []*Node{a, x, y} {
				for range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						start := time.Now()
						if _, err := n.GetOrLoad(context.Background(), key, load); err != nil {
							b.Error(err)
						}
						rec.mu.Lock()
						rec.lags = append(rec.lags, time.Since(start))
						rec.mu.Unlock()
					}()
				}
			}
			wg.Wait()
		}
		p50, _, pmax, _ := rec.quantiles()
		b.ReportMetric(float64(loads.Load())/keys, "origin-loads/key")
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(pmax.Microseconds())/1000, "max-ms")
	}
}
