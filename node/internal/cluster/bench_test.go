package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// mesh starts n nodes joined through the first and waits until each one's
// publications reach all the others directly.
func mesh(tb testing.TB, n int, noRelay bool) []*Cluster {
	tb.Helper()
	cfg := testConfig()
	cfg.NoRelay = noRelay
	nodes := []*Cluster{newNode(tb, cfg)}
	for range n - 1 {
		cfg := testConfig()
		cfg.NoRelay = noRelay
		cfg.Join = []string{joinAddr(nodes[0])}
		nodes = append(nodes, newNode(tb, cfg))
	}
	waitFor(tb, 20*time.Second, "mesh ready", func() bool {
		for _, x := range nodes {
			for _, y := range nodes {
				if x != y && !gossipReady(x, y) {
					return false
				}
			}
		}
		return true
	})
	return nodes
}

// latencySink records publish->deliver latencies of timestamped payloads.
type latencySink struct {
	mu   sync.Mutex
	lat  []time.Duration
	got  atomic.Int64
	last atomic.Int64 // unix ns of the latest delivery
	want int64
	done chan struct{}
	// arrived is signalled (without blocking) on every delivery, for a sender waiting on a
	// flow-control window.
	arrived chan struct{}
}

func newSink(want int) *latencySink {
	return &latencySink{lat: make([]time.Duration, 0, want), want: int64(want), done: make(chan struct{}),
		arrived: make(chan struct{}, 1)}
}

func (s *latencySink) handle(_ peer.ID, data []byte) {
	sent := time.Unix(0, int64(binary.LittleEndian.Uint64(data)))
	now := time.Now()
	d := now.Sub(sent)
	s.last.Store(now.UnixNano())
	s.mu.Lock()
	s.lat = append(s.lat, d)
	s.mu.Unlock()
	if s.got.Add(1) == s.want {
		close(s.done)
	}
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

// wait returns when all messages arrived or nothing arrived for a second.
func (s *latencySink) wait() {
	last := s.got.Load()
	for {
		select {
		case <-s.done:
			return
		case <-time.After(time.Second):
			n := s.got.Load()
			if n == last {
				return
			}
			last = n
		}
	}
}

func (s *latencySink) report(b *testing.B, sent int) {
	s.mu.Lock()
	lat := slices.Clone(s.lat)
	s.mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds())
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(q(1), "max-µs")
	b.ReportMetric(float64(sent-len(lat)), "lost")
}

// BenchmarkGossipLatency measures publish->deliver latency of 1 KiB
// messages (one message = one batch of deltas) paced at a fixed rate, from
// one publisher to the other members, over real libp2p on loopback, with
// and without relaying (Config.NoRelay).
//
//	go test -run '^$' -bench GossipLatency -benchtime 5000x ./node/internal/cluster/
func BenchmarkGossipLatency(b *testing.B) {
	for _, n := range []int{2, 3} {
		for _, rate := range []int{1_000, 10_000} {
			for _, noRelay := range []bool{false, true} {
				if n == 2 && noRelay {
					continue // nothing to relay between two
				}
				name := fmt.Sprintf("nodes=%d/rate=%d/relay=%v", n, rate, !noRelay)
				b.Run(name, func(b *testing.B) { benchLatency(b, n, rate, noRelay) })
			}
		}
	}
}

func benchLatency(b *testing.B, n, rate int, noRelay bool) {
	const size = 1024
	nodes := mesh(b, n, noRelay)
	sinks := make([]*latencySink, n)
	for i, x := range nodes[1:] {
		sinks[i+1] = newSink(b.N)
		x.OnMessage(sinks[i+1].handle)
	}
	payload := make([]byte, size)
	ctx := context.Background()
	b.SetBytes(size)
	b.ResetTimer()
	// The offered load this benchmark measures latency at: rate messages a
	// second, paced by schedule, not per message: at every tick it sends
	// what is due by then, so a late tick does not slow the whole run down.
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for sent := 0; sent < b.N; {
		due := min(int(time.Since(start)*time.Duration(rate)/time.Second)+1, b.N)
		for ; sent < due; sent++ {
			binary.LittleEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
			if err := nodes[0].Publish(ctx, payload); err != nil {
				b.Fatal(err)
			}
		}
		if sent < b.N {
			<-tick.C
		}
	}
	for _, s := range sinks[1:] {
		s.wait()
	}
	b.StopTimer()
	sinks[n-1].report(b, b.N)
	var drops uint64
	for _, x := range nodes {
		s := x.Stats()
		drops += s.DroppedOutbound
	}
	b.ReportMetric(float64(drops), "drops")
}

// BenchmarkGossipThroughput publishes 1 KiB messages from one node to
// another as fast as the receiver keeps up: at most window messages are in
// flight, so the number is the sustainable rate, not how fast queues fill.
// Without the window the publisher's outbound queue overflows (counted in
// Stats.DroppedOutbound) instead of slowing Publish down.
//
//	go test -run '^$' -bench GossipThroughput -benchtime 100000x ./node/internal/cluster/
func BenchmarkGossipThroughput(b *testing.B) {
	// 16 KiB is of the order of what a member's writer sends per write under a pipelined SET
	// flood (11–12 KB per write measured on node A under SET -P16, w45): the size at which the
	// security transport's per-byte cost, not per-message overhead, is what the link pays.
	for _, size := range []int{1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchThroughput(b, size) })
	}
}

func benchThroughput(b *testing.B, size int) {
	// In flight at most what a member's send queue holds (directQueueBytes): more is dropped.
	window := int64(min(1024, directQueueBytes/(2*size)))
	nodes := mesh(b, 2, false)
	sink := newSink(b.N)
	nodes[1].OnMessage(sink.handle)
	payload := make([]byte, size)
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU(b)
	for i := range b.N {
		if int64(i)-sink.got.Load() > window {
			stall := time.NewTimer(time.Second)
			for int64(i)-sink.got.Load() > window {
				select {
				case <-sink.arrived:
				case <-stall.C:
					b.Fatalf("receiver stalled at %d of %d: %+v", sink.got.Load(), i, nodes[0].Stats())
				}
			}
			stall.Stop()
		}
		binary.LittleEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		if err := nodes[0].Publish(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
	sink.wait()
	elapsed := time.Unix(0, sink.last.Load()).Sub(start)
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	got := sink.got.Load()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "recv-msg/s")
	b.ReportMetric(float64(int64(b.N)-got), "lost")
	// Sender and receiver share the process: CPU per message is both ends of the link, the
	// figure that does not move with the machine's other load as throughput does.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
	sink.report(b, b.N)
}

// processCPU is the user + system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
