package node

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// gateTransport's Publish of write frames blocks until the gate is opened: a member that
// reads nothing (its send queue full, cluster.Config.PublishWait).
type gateTransport struct {
	gate      chan struct{}
	open      sync.Once
	published chan struct{} // a Publish of writes began (capacity 1)
}

func newGateTransport() *gateTransport {
	return &gateTransport{gate: make(chan struct{}), published: make(chan struct{}, 1)}
}

func (t *gateTransport) Publish(ctx context.Context, data []byte) error {
	if len(data) == 0 || (data[0] != msgDeltas && data[0] != msgUnits) {
		return nil // heartbeats
	}
	select {
	case t.published <- struct{}{}:
	default:
	}
	select {
	case <-t.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *gateTransport) OpenSync(context.Context, string) (io.ReadWriteCloser, error) {
	return nil, io.ErrClosedPipe
}

func (t *gateTransport) release() { t.open.Do(func() { close(t.gate) }) }

// backpressureNode is a node replicating through tr with one peer counted as connected, a
// gossip queue of 8 deltas and the publisher stuck in a Publish of one write: pending then
// fills with the writes made meanwhile.
func backpressureNode(t *testing.T, tr *gateTransport, wait time.Duration) *Node {
	t.Helper()
	n, _ := newTestNode(t, nil)
	n.enableReplication(tr, replConfig{QueueSize: 8, QueueWait: wait, HeartbeatInterval: time.Hour})
	n.repl.peersUp.Add(1)
	ended := make(chan struct{})
	go func() {
		n.BeginWrites()
		mustSet(t, n, "first", "v", SetOptions{})
		n.EndWrites() // blocks in Publish until the gate opens
		close(ended)
	}()
	<-tr.published
	for _, k := range []string{"a", "b", "c", "d"} { // writes without a pass: queued, not paced
		mustSet(t, n, k, "v", SetOptions{})
	}
	// One cleanup, the gate opened before the wait: a test that fails with the gate shut
	// must not hang in its cleanup waiting for the stuck publisher.
	t.Cleanup(func() {
		tr.release()
		<-ended
	})
	return n
}

func pending(n *Node) int {
	n.repl.mu.Lock()
	defer n.repl.mu.Unlock()
	return len(n.repl.pending)
}

// A write pass that starts with the gossip queue half full waits until a publisher takes it:
// the member's slowness paces the clients instead of making the queue drop their writes.
func TestPassWaitsForGossipQueue(t *testing.T) {
	t.Parallel()
	tr := newGateTransport()
	n := backpressureNode(t, tr, time.Hour)
	if got := pending(n); got != 4 {
		t.Fatalf("%d deltas pending, want 4 (half the queue)", got)
	}
	began := make(chan struct{})
	go func() {
		n.BeginWrites()
		close(began)
		mustSet(t, n, "e", "v", SetOptions{})
		n.EndWrites()
	}()
	waitFor(t, func() bool {
		n.repl.mu.Lock()
		defer n.repl.mu.Unlock()
		return n.repl.room != nil
	})
	select {
	case <-began:
		t.Fatal("the pass began while the queue was half full and its publisher stuck")
	default:
	}
	tr.release()
	<-began
	st := n.ReplicationStats()
	if st.PassesWaited != 1 || st.DeltasDropped != 0 {
		t.Fatalf("passes waited %d, deltas dropped %d; want 1 and 0", st.PassesWaited, st.DeltasDropped)
	}
}

// A publisher stuck for QueueWait marks the overflow: that pass and the next ones start
// without waiting (the writes beyond the queue are dropped, counted and repaired by sync),
// until a publisher takes the queue again.
func TestPassWaitRunsOut(t *testing.T) {
	t.Parallel()
	tr := newGateTransport()
	n := backpressureNode(t, tr, time.Millisecond)
	for range 3 {
		n.BeginWrites()
		n.EndWrites()
	}
	st := n.ReplicationStats()
	if st.PassesWaited != 1 {
		t.Fatalf("passes waited %d, want 1 (then the overflow: no more waiting)", st.PassesWaited)
	}
	for _, k := range []string{"e", "f", "g", "h", "i"} {
		mustSet(t, n, k, "v", SetOptions{})
	}
	if st := n.ReplicationStats(); st.DeltasDropped != 1 {
		t.Fatalf("deltas dropped %d, want 1 (the queue holds 8)", st.DeltasDropped)
	}
	tr.release()
	waitFor(t, func() bool { return pending(n) == 0 })
	n.repl.mu.Lock()
	overflow := n.repl.overflow
	n.repl.mu.Unlock()
	if overflow {
		t.Fatal("the overflow outlived the publisher's take")
	}
}

// A write of the Go API made while the gossip queue is half full waits, before it is made,
// until a publisher takes the queue; one whose context ends first fails with the context's
// error and writes nothing; one made inside a write pass (WithinWritePass) does not wait.
func TestAPIWriteWaitsForGossipQueue(t *testing.T) {
	t.Parallel()
	tr := newGateTransport()
	n := backpressureNode(t, tr, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan error, 1)
	go func() {
		_, err := n.Set(ctx, "cancelled", []byte("v"), SetOptions{})
		failed <- err
	}()
	waitFor(t, func() bool { return n.ReplicationStats().PassesWaited == 1 || len(failed) > 0 })
	if len(failed) > 0 {
		t.Fatal("Set returned without waiting while the queue was half full and its publisher stuck")
	}
	cancel()
	if err := <-failed; err != context.Canceled {
		t.Fatalf("Set whose context ended while it waited = %v, want context.Canceled", err)
	}
	if _, ok := mustGet(t, n, "cancelled"); ok {
		t.Fatal("a write that failed while it waited was made")
	}
	if _, err := n.Set(n.WithinWritePass(context.Background()), "in-pass", []byte("v"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := n.ReplicationStats(); st.PassesWaited != 1 || pending(n) != 5 {
		t.Fatalf("a write inside a pass: passes waited %d, pending %d; want 1 and 5", st.PassesWaited, pending(n))
	}
	done := make(chan error, 1)
	go func() {
		_, err := n.IncrBy(context.Background(), "counter", 1)
		done <- err
	}()
	waitFor(t, func() bool { return n.ReplicationStats().PassesWaited == 2 || len(done) > 0 })
	select {
	case err := <-done:
		t.Fatalf("INCRBY returned (%v) while the queue was half full and its publisher stuck", err)
	default:
	}
	if _, ok := mustGet(t, n, "counter"); ok {
		t.Fatal("the waiting write was made before it waited")
	}
	tr.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, n, "counter"); !ok || v != "1" {
		t.Fatalf("counter = %q, %v after the wait; want 1", v, ok)
	}
	if st := n.ReplicationStats(); st.DeltasDropped != 0 {
		t.Fatalf("deltas dropped %d, want 0", st.DeltasDropped)
	}
}
