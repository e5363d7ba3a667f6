package testnet

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// link is one directed link of the emulated WAN: the delay and jitter applied to every byte that
// travels from one endpoint to the other, whether the link is stalled, and what it measured.
type link struct {
	from, to string
	delay    atomic.Int64 // one-way delay in ns
	jitter   atomic.Int64 // extra uniform random delay in [0, jitter) ns

	mu      sync.Mutex
	unstall chan struct{} // non-nil while stalled; closed when the stall is lifted

	bytes  atomic.Uint64
	chunks atomic.Uint64
	held   atomic.Uint64 // chunks that waited for a stall to be lifted
	// late is how long after its due time a chunk was written to the receiver when the writer
	// was idle (asleep) until then: the emulator's own error on top of the requested delay.
	late *Samples
	// backlog is the same for chunks whose writer was still busy writing earlier ones at their
	// due time: the receiver was not reading fast enough (or the machine stalled us).
	backlog *Samples
}

func newLink(from, to string) *link {
	return &link{from: from, to: to, late: NewSamples(20000), backlog: NewSamples(5000)}
}

// due is the release time of bytes that arrived at now: arrival + delay + jitter, but never before
// the previous release on the same connection (prev), so the stream keeps its order.
func (l *link) due(now time.Time, prev time.Time) time.Time {
	d := time.Duration(l.delay.Load())
	if j := l.jitter.Load(); j > 0 {
		d += time.Duration(rand.Int64N(j))
	}
	t := now.Add(d)
	if t.Before(prev) {
		t = prev
	}
	return t
}

// stall starts holding data on the link; it is idempotent.
func (l *link) stall() {
	l.mu.Lock()
	if l.unstall == nil {
		l.unstall = make(chan struct{})
	}
	l.mu.Unlock()
}

// resume lifts a stall; held data is released one delay later (as a retransmission would be).
func (l *link) resume() {
	l.mu.Lock()
	if l.unstall != nil {
		close(l.unstall)
		l.unstall = nil
	}
	l.mu.Unlock()
}

func (l *link) stalled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unstall != nil
}

// waitUnstalled blocks while the link is stalled. It reports whether it waited, and false in ok
// when done closed first.
func (l *link) waitUnstalled(done <-chan struct{}) (waited, ok bool) {
	for {
		l.mu.Lock()
		ch := l.unstall
		l.mu.Unlock()
		if ch == nil {
			return waited, true
		}
		waited = true
		select {
		case <-ch:
		case <-done:
			return waited, false
		}
	}
}

// LinkStats is what one directed link carried and how accurately it delayed it.
type LinkStats struct {
	From, To       string
	Delay, Jitter  time.Duration // as currently configured
	Bytes, Chunks  uint64
	Held           uint64  // chunks held by a stall
	Late           Summary // release time minus due time, writer idle before: p50, p99, p99.9
	Backlog        Summary // the same for chunks queued behind a write the receiver held up
	Stalled        bool
	OpenConns, Cut int // connections carrying the link now; 1 if its pair is cut
}

func (l *link) snapshot() LinkStats {
	return LinkStats{From: l.from, To: l.to, Delay: time.Duration(l.delay.Load()),
		Jitter: time.Duration(l.jitter.Load()), Bytes: l.bytes.Load(), Chunks: l.chunks.Load(),
		Held: l.held.Load(), Late: l.late.Summary(50, 99, 99.9), Backlog: l.backlog.Summary(50, 99), Stalled: l.stalled()}
}
