package node

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geocache/geocache/crdt"
)

// recTransport records the delta frames published to it, in the order they were handed over.
// yield makes Publish give up the processor, so that publishers overlap in tests.
type recTransport struct {
	yield bool

	mu     sync.Mutex
	frames [][]crdt.Delta
	keys   []string // every published delta's key, in publish order
	got    chan struct{}
}

func newRecTransport() *recTransport { return &recTransport{got: make(chan struct{}, 1)} }

func (t *recTransport) Publish(_ context.Context, data []byte) error {
	if len(data) == 0 || (data[0] != msgDeltas && data[0] != msgUnits) {
		return nil // heartbeats
	}
	b, err := crdt.DecodeBatch(data[1:], crdt.Limits{})
	if err != nil {
		return err
	}
	if t.yield {
		runtime.Gosched()
	}
	t.mu.Lock()
	t.frames = append(t.frames, b.Deltas)
	for i := range b.Deltas {
		t.keys = append(t.keys, b.Deltas[i].Key)
	}
	t.mu.Unlock()
	select {
	case t.got <- struct{}{}:
	default:
	}
	return nil
}

func (t *recTransport) OpenSync(context.Context, string) (io.ReadWriteCloser, error) {
	return nil, io.ErrClosedPipe
}

func (t *recTransport) snapshot() ([][]crdt.Delta, []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]crdt.Delta(nil), t.frames...), append([]string(nil), t.keys...)
}

// waitKeys waits until n deltas were published, or fails the test after a deadline.
func (t *recTransport) waitKeys(tb testing.TB, n int) []string {
	tb.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if _, keys := t.snapshot(); len(keys) >= n {
			return keys
		}
		select {
		case <-t.got:
		case <-deadline.C:
			_, keys := t.snapshot()
			tb.Fatalf("%d deltas published, want %d", len(keys), n)
		}
	}
}

// passNode is a replicating node whose transport records what it publishes, with one peer
// counted as connected (so that writes are queued for gossip) and heartbeats out of the way.
func passNode(t *testing.T, tr *recTransport, rc replConfig) *Node {
	t.Helper()
	n, _ := newTestNode(t, nil)
	rc.HeartbeatInterval = time.Hour
	n.enableReplication(tr, rc)
	n.repl.peersUp.Add(1)
	return n
}

// A pass's writes are published together when it ends, from the caller's goroutine, and not
// before: the gossip loop was not woken for them.
func TestWritePassPublishesAtEnd(t *testing.T) {
	t.Parallel()
	tr := newRecTransport()
	n := passNode(t, tr, replConfig{})
	ctx := context.Background()
	n.BeginWrites()
	for i := range 10 {
		mustSet(t, n, fmt.Sprintf("k%d", i), "v", SetOptions{})
	}
	if frames, _ := tr.snapshot(); len(frames) != 0 {
		t.Fatalf("published during the pass: %d frames", len(frames))
	}
	if len(n.repl.wake) != 0 {
		t.Fatal("a write in a pass woke the gossip loop")
	}
	if !n.EndWrites() { // publishes synchronously: no waiting below
		t.Fatal("EndWrites reports nothing handed to the transport")
	}
	frames, keys := tr.snapshot()
	if len(frames) != 1 || len(keys) != 10 {
		t.Fatalf("after the pass: %d frames, %d deltas; want 1 frame of 10", len(frames), len(keys))
	}
	for i, d := range frames[0] {
		if want := fmt.Sprintf("k%d", i); d.Key != want || d.Entry.Seq != uint64(i+1) {
			t.Fatalf("delta %d: key %q seq %d, want %q seq %d", i, d.Key, d.Entry.Seq, want, i+1)
		}
	}
	if st := n.ReplicationStats(); st.DeltasSent != 10 || st.BatchesSent != 1 || st.DeltasDropped != 0 {
		t.Fatalf("stats %+v", st)
	}

	n.BeginWrites()
	if n.EndWrites() {
		t.Fatal("an empty pass reports writes handed to the transport")
	}

	// A write outside any pass still goes out, by the gossip loop.
	if _, err := n.Set(ctx, "outside", []byte("v"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if keys := tr.waitKeys(t, 11); keys[10] != "outside" {
		t.Fatalf("last published %q", keys[10])
	}
}

// A large pass is cut into frames of MaxBatch deltas, in order.
func TestWritePassFrames(t *testing.T) {
	t.Parallel()
	tr := newRecTransport()
	n := passNode(t, tr, replConfig{MaxBatch: 4})
	n.BeginWrites()
	for i := range 10 {
		mustSet(t, n, fmt.Sprintf("k%d", i), "v", SetOptions{})
	}
	n.EndWrites()
	frames, keys := tr.snapshot()
	if len(frames) != 3 || len(frames[0]) != 4 || len(frames[2]) != 2 {
		t.Fatalf("frames of %v deltas, want 4, 4, 2", frameSizes(frames))
	}
	for i, k := range keys {
		if want := fmt.Sprintf("k%d", i); k != want {
			t.Fatalf("delta %d is %q, want %q", i, k, want)
		}
	}
}

// A pass of large writes is cut by size as well: a frame holds about publishFrameBytes of keys
// and values (the delta that reaches it is the frame's last), whatever MaxBatch allows.
func TestWritePassFramesBySize(t *testing.T) {
	t.Parallel()
	tr := newRecTransport()
	n := passNode(t, tr, replConfig{})
	val := strings.Repeat("x", 1000)
	const writes = 100
	n.BeginWrites()
	for i := range writes {
		mustSet(t, n, fmt.Sprintf("k%03d", i), val, SetOptions{})
	}
	n.EndWrites()
	frames, keys := tr.snapshot()
	per := (publishFrameBytes + 1003) / 1004 // deltas of a 4-byte key and 1000-byte value
	want := []int{per, per, per, writes - 3*per}
	if got := frameSizes(frames); !slices.Equal(got, want) {
		t.Fatalf("frames of %v deltas, want %v", got, want)
	}
	if len(keys) != writes || keys[0] != "k000" || keys[writes-1] != fmt.Sprintf("k%03d", writes-1) {
		t.Fatalf("%d keys published, first %q", len(keys), keys[0])
	}
}

func frameSizes(frames [][]crdt.Delta) []int {
	var out []int
	for _, f := range frames {
		out = append(out, len(f))
	}
	return out
}

// Writes made by another goroutine during a pass wait for it and leave with its writes; two
// overlapping passes each publish what is pending at their end, and nothing is lost.
func TestOverlappingPasses(t *testing.T) {
	t.Parallel()
	tr := newRecTransport()
	n := passNode(t, tr, replConfig{})
	n.BeginWrites() // loop 1
	n.BeginWrites() // loop 2
	mustSet(t, n, "a1", "v", SetOptions{})
	mustSet(t, n, "b1", "v", SetOptions{})
	done := make(chan struct{})
	go func() { // a goroutine outside any pass (a WAIT or read-through goroutine, the HTTP API)
		defer close(done)
		if _, err := n.Set(context.Background(), "g1", []byte("v"), SetOptions{}); err != nil {
			t.Error(err)
		}
	}()
	<-done
	if _, keys := tr.snapshot(); len(keys) != 0 || len(n.repl.wake) != 0 {
		t.Fatalf("published during the passes: %v (gossip loop woken: %v)", keys, len(n.repl.wake) != 0)
	}
	n.EndWrites() // loop 1 ends: everything pending so far goes
	if _, keys := tr.snapshot(); fmt.Sprint(keys) != "[a1 b1 g1]" {
		t.Fatalf("after the first pass: %v", keys)
	}
	mustSet(t, n, "b2", "v", SetOptions{})
	if _, keys := tr.snapshot(); len(keys) != 3 {
		t.Fatalf("published while a pass held writes: %v", keys)
	}
	n.EndWrites()
	if _, keys := tr.snapshot(); fmt.Sprint(keys) != "[a1 b1 g1 b2]" {
		t.Fatalf("after the second pass: %v", keys)
	}
}

// Under concurrent passes and plain writes, with publishers overlapping (the transport
// yields), every write is published exactly once and each writer's writes in its own order:
// one publisher at a time.
func TestPassesKeepOrderAndLoseNothing(t *testing.T) {
	t.Parallel()
	tr := newRecTransport()
	tr.yield = true
	n := passNode(t, tr, replConfig{MaxBatch: 3})
	const writers, perWriter = 6, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < perWriter; {
				pass := w%2 == 0 // even writers work in passes of a few writes, like event loops
				if pass {
					n.BeginWrites()
				}
				for j := 0; j < 1+i%5 && i < perWriter; j++ {
					if _, err := n.Set(ctx, fmt.Sprintf("w%d-%d", w, i), []byte("v"), SetOptions{}); err != nil {
						t.Error(err)
					}
					i++
				}
				if pass {
					n.EndWrites()
				}
			}
		}()
	}
	wg.Wait()
	keys := tr.waitKeys(t, writers*perWriter)
	if len(keys) != writers*perWriter {
		t.Fatalf("%d deltas published, want %d", len(keys), writers*perWriter)
	}
	next := make([]int, writers)
	for _, k := range keys {
		var w, i int
		if _, err := fmt.Sscanf(k, "w%d-%d", &w, &i); err != nil {
			t.Fatal(err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: write %d published where %d was expected (order or loss)", w, i, next[w])
		}
		next[w]++
	}
	if st := n.ReplicationStats(); st.DeltasSent != writers*perWriter || st.DeltasDropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A pass that lasts (a long script on the event loop) does not hold other writes back: a write
// made passHoldMax after the pass began wakes the gossip loop, which publishes everything
// pending; and what is pending when a heartbeat is due leaves ahead of it.
func TestLongPassDoesNotHoldWritesBack(t *testing.T) {
	t.Parallel()
	tr := newRecTransport()
	n, clk := newTestNode(t, nil)
	n.enableReplication(tr, replConfig{HeartbeatInterval: time.Hour})
	n.repl.peersUp.Add(1)
	ctx := context.Background()
	n.BeginWrites() // never ended
	if _, err := n.Set(ctx, "early", []byte("v"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(n.repl.wake) != 0 {
		t.Fatal("a write early in the pass woke the gossip loop")
	}
	clk.Advance(passHoldMax * time.Millisecond)
	if _, err := n.Set(ctx, "late", []byte("v"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if keys := tr.waitKeys(t, 2); fmt.Sprint(keys) != "[early late]" {
		t.Fatalf("published %v", keys)
	}

	// Heartbeats: a second node whose heartbeat is due often.
	tr2 := newRecTransport()
	m, _ := newTestNode(t, nil)
	m.enableReplication(tr2, replConfig{HeartbeatInterval: time.Millisecond})
	m.repl.peersUp.Add(1)
	m.BeginWrites()
	if _, err := m.Set(ctx, "held", []byte("v"), SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if keys := tr2.waitKeys(t, 1); keys[0] != "held" {
		t.Fatalf("published %v", keys)
	}
	m.EndWrites()
}
