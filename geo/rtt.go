package geo

import (
	"errors"
	"fmt"
	"time"
)

// TrackerConfig configures a [Tracker]. The zero value of every field means
// the default in its comment.
type TrackerConfig struct {
	// Window is how many recent samples the median filter looks at. Default
	// 5, at most 64. A spike reaches the average only when more than half
	// of the window are spikes, so a window of 5 ignores up to 2 outliers in
	// a row; a genuine change of route shows up after Window/2+1 samples.
	// Larger windows ride out longer bursts but react later. 1 disables the
	// filter (every sample goes straight into the average).
	Window int

	// Alpha is the weight of a filtered sample in the moving average, in
	// (0, 1]. Default 0.25: a step change is 90% absorbed after ~8
	// samples. Higher follows changes faster, lower is steadier.
	Alpha float64

	// MaxAge is how long a measurement stays valid. Default 30s. A target
	// whose newest sample is older reports no RTT (callers fall back to an
	// estimate), and its next sample starts a fresh history instead of
	// being averaged with measurements of a network that may have changed.
	MaxAge time.Duration

	// MaxTargets bounds how many targets are tracked. Default 1024. When a
	// new target arrives at the bound, the target measured least recently is
	// forgotten.
	MaxTargets int
}

// DefaultTrackerConfig returns the defaults, spelled out.
func DefaultTrackerConfig() TrackerConfig {
	return TrackerConfig{Window: 5, Alpha: 0.25, MaxAge: 30 * time.Second, MaxTargets: 1024}
}

const maxWindow = 64

func (c TrackerConfig) withDefaults() (TrackerConfig, error) {
	d := DefaultTrackerConfig()
	switch {
	case c.Window < 0 || c.Window > maxWindow:
		return c, fmt.Errorf("geo: Window must be in [1, %d], got %d", maxWindow, c.Window)
	case c.Alpha < 0 || c.Alpha > 1 || c.Alpha != c.Alpha:
		return c, fmt.Errorf("geo: Alpha must be in (0, 1], got %v", c.Alpha)
	case c.MaxAge < 0:
		return c, fmt.Errorf("geo: MaxAge must not be negative, got %v", c.MaxAge)
	case c.MaxTargets < 0:
		return c, fmt.Errorf("geo: MaxTargets must not be negative, got %d", c.MaxTargets)
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.Alpha == 0 {
		c.Alpha = d.Alpha
	}
	if c.MaxAge == 0 {
		c.MaxAge = d.MaxAge
	}
	if c.MaxTargets == 0 {
		c.MaxTargets = d.MaxTargets
	}
	return c, nil
}

// ErrNegativeRTT is returned by [Tracker.Observe] for a sample below zero
// (a clock that went backwards); the sample is ignored.
var ErrNegativeRTT = errors.New("geo: negative RTT sample")

// Tracker keeps a smoothed round-trip time per target (a peer id, an
// address). Each sample passes a median filter over the last Window samples
// and the median feeds an exponentially weighted moving average; see
// [TrackerConfig] for the trade-offs. The current time is passed in.
//
// A Tracker is not safe for concurrent use.
type Tracker struct {
	cfg     TrackerConfig
	targets map[string]*rttState
}

type rttState struct {
	ring    []time.Duration // last samples, len <= Window
	next    int             // ring slot for the next sample once full
	scratch []time.Duration // sorting space for the median
	srtt    float64         // smoothed RTT, nanoseconds
	last    time.Time       // newest sample
	samples uint64          // samples since the history (re)started
}

// RTTStats describes one target's measurements.
type RTTStats struct {
	// RTT is the smoothed round trip.
	RTT time.Duration
	// Last is when the newest sample was taken.
	Last time.Time
	// Samples counts the samples in the current history (since the first
	// sample or the last restart after staleness).
	Samples uint64
}

// NewTracker validates cfg and returns an empty Tracker.
func NewTracker(cfg TrackerConfig) (*Tracker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Tracker{cfg: cfg, targets: make(map[string]*rttState)}, nil
}

// Config returns the configuration in effect, defaults filled in.
func (t *Tracker) Config() TrackerConfig { return t.cfg }

// Observe records a round-trip sample for target taken at now. A negative
// sample is rejected with [ErrNegativeRTT] and changes nothing.
func (t *Tracker) Observe(target string, rtt time.Duration, now time.Time) error {
	if rtt < 0 {
		return fmt.Errorf("%w: %v for %q", ErrNegativeRTT, rtt, target)
	}
	st, ok := t.targets[target]
	if !ok {
		if len(t.targets) >= t.cfg.MaxTargets {
			t.evictOldest()
		}
		st = &rttState{ring: make([]time.Duration, 0, t.cfg.Window), scratch: make([]time.Duration, 0, t.cfg.Window)}
		t.targets[target] = st
	} else if t.stale(st, now) {
		st.reset()
	}
	if len(st.ring) < cap(st.ring) {
		st.ring = append(st.ring, rtt)
	} else {
		st.ring[st.next] = rtt
		st.next = (st.next + 1) % len(st.ring)
	}
	med := float64(st.median())
	if st.samples == 0 {
		st.srtt = med
	} else {
		st.srtt += t.cfg.Alpha * (med - st.srtt)
	}
	st.samples++
	if now.After(st.last) || st.samples == 1 {
		st.last = now
	}
	return nil
}

// RTT returns the smoothed round trip to target, or false when the target
// was never measured or its newest sample is older than MaxAge at now.
func (t *Tracker) RTT(target string, now time.Time) (time.Duration, bool) {
	s, ok := t.Stats(target, now)
	return s.RTT, ok
}

// Stats is RTT with the sample time and count.
func (t *Tracker) Stats(target string, now time.Time) (RTTStats, bool) {
	st, ok := t.targets[target]
	if !ok || t.stale(st, now) {
		return RTTStats{}, false
	}
	return RTTStats{RTT: time.Duration(st.srtt + 0.5), Last: st.last, Samples: st.samples}, true
}

// Forget drops target's history.
func (t *Tracker) Forget(target string) { delete(t.targets, target) }

// Prune forgets every target that is stale at now and returns how many.
func (t *Tracker) Prune(now time.Time) int {
	n := 0
	for id, st := range t.targets {
		if t.stale(st, now) {
			delete(t.targets, id)
			n++
		}
	}
	return n
}

// Len returns the number of targets tracked, stale ones included.
func (t *Tracker) Len() int { return len(t.targets) }

func (t *Tracker) stale(st *rttState, now time.Time) bool {
	return now.Sub(st.last) > t.cfg.MaxAge
}

// evictOldest forgets the target measured least recently. O(targets), and
// only when a new target arrives at the bound.
func (t *Tracker) evictOldest() {
	var oldID string
	var old *rttState
	for id, st := range t.targets {
		if old == nil || st.last.Before(old.last) || (st.last.Equal(old.last) && id < oldID) {
			oldID, old = id, st
		}
	}
	delete(t.targets, oldID)
}

func (st *rttState) reset() {
	st.ring = st.ring[:0]
	st.next = 0
	st.samples = 0
	st.srtt = 0
}

// median returns the lower median of the ring: with an even count the
// smaller middle value, so a single spike among two samples is ignored too.
func (st *rttState) median() time.Duration {
	s := append(st.scratch[:0], st.ring...)
	// Insertion sort: at most maxWindow elements, no allocation.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[(len(s)-1)/2]
}
