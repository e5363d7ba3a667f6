package httpapi

import (
	"context"
	"sync"
	"time"
)

// The status page charts the node's write and replication rates over the last minutes. The
// counters are cumulative, so a rate needs two readings: Run reads them every SampleInterval
// into a fixed ring, and the page draws the differences. Nothing is sampled on the request
// path, and the ring's size is fixed at New, so memory does not grow with uptime.

// rateSample is one reading of the cumulative counters the charts are drawn from.
type rateSample struct {
	at       time.Time
	writes   uint64 // this node's writes: sets and deletes
	applied  uint64 // remote writes that arrived here (won or lost last-writer-wins)
	sent     uint64 // deltas gossiped to peers
	received uint64 // deltas received from peers, duplicates and sync included
}

// rateRing keeps the last len(buf) samples. It is safe for concurrent use.
type rateRing struct {
	mu   sync.Mutex
	buf  []rateSample
	next int // where the next sample goes
	n    int // samples held, at most len(buf)
}

func newRateRing(size int) *rateRing { return &rateRing{buf: make([]rateSample, size)} }

func (r *rateRing) add(s rateSample) {
	r.mu.Lock()
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
	r.mu.Unlock()
}

// samples returns the held samples, oldest first.
func (r *rateRing) samples() []rateSample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]rateSample, 0, r.n)
	start := (r.next - r.n + len(r.buf)) % len(r.buf)
	for i := range r.n {
		out = append(out, r.buf[(start+i)%len(r.buf)])
	}
	return out
}

// ratePoint is the rates between two consecutive samples, per second, at the later one.
type ratePoint struct {
	at                              time.Time
	writes, applied, sent, received float64
}

// rates turns consecutive samples into per-second rates. A counter that went backwards (a
// backend restarted under the same Server) gives 0 for that interval rather than a spike.
func rates(ss []rateSample) []ratePoint {
	var out []ratePoint
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 {
			continue
		}
		per := func(x, y uint64) float64 {
			if y < x {
				return 0
			}
			return float64(y-x) / dt
		}
		out = append(out, ratePoint{at: b.at, writes: per(a.writes, b.writes), applied: per(a.applied, b.applied),
			sent: per(a.sent, b.sent), received: per(a.received, b.received)})
	}
	return out
}

// sample reads the backend's counters now.
func (s *Server) sample() rateSample {
	st := s.b.Stats()
	out := rateSample{at: time.Now(), writes: st.Sets + st.Deletes}
	if s.cluster != nil {
		rs := s.cluster.ReplicationStats()
		out.applied = rs.DeltasApplied + rs.DeltasStale
		out.sent = rs.DeltasSent
		out.received = rs.DeltasApplied + rs.DeltasStale + rs.DeltasDuplicate + rs.SyncDeltasRecv
	}
	return out
}

// Run samples the node's write and replication counters every Config.SampleInterval for the
// status page's charts, until ctx is done. Without it the page shows no charts. Call it once,
// in a goroutine the caller waits for; it does not block on the network.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.rates.add(s.sample())
		}
	}
}
