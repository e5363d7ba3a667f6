package geo

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newTracker(t *testing.T, cfg TrackerConfig) *Tracker {
	t.Helper()
	tr, err := NewTracker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// feed observes samples (in ms) one second apart starting at start and
// returns the smoothed RTT after each.
func feed(t *testing.T, tr *Tracker, id string, start time.Time, ms ...int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		now := start.Add(time.Duration(i) * time.Second)
		if err := tr.Observe(id, time.Duration(m)*time.Millisecond, now); err != nil {
			t.Fatal(err)
		}
		rtt, ok := tr.RTT(id, now)
		if !ok {
			t.Fatalf("no RTT right after sample %d", i)
		}
		out[i] = rtt
	}
	return out
}

func TestTrackerIgnoresOutliers(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	tests := []struct {
		name    string
		window  int
		samples []int
		// want is the smoothed RTT after each sample, within 1 µs.
		want []time.Duration
	}{
		{
			name:    "single spikes never move the estimate",
			samples: []int{10, 10, 10, 500, 10, 10, 900, 10, 10, 10},
			want:    []time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms},
		},
		{
			name:    "two spikes in a row are still outliers",
			samples: []int{10, 10, 10, 10, 10, 400, 400, 10, 10},
			want:    []time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms},
		},
		{
			name:    "a spike among the first two samples is ignored",
			samples: []int{10, 300, 10},
			want:    []time.Duration{10 * ms, 10 * ms, 10 * ms},
		},
		{
			// The median turns 50 on the third 50 (Window/2+1); from then the
			// EWMA closes a quarter of the gap per sample.
			name:    "a sustained change gets through",
			samples: []int{10, 10, 10, 10, 10, 50, 50, 50, 50, 50},
			want: []time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms,
				20 * ms, 27500 * time.Microsecond, 33125 * time.Microsecond},
		},
		{
			name:    "without the filter a spike moves the average",
			window:  1,
			samples: []int{10, 10, 410, 10},
			want:    []time.Duration{10 * ms, 10 * ms, 110 * ms, 85 * ms},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTracker(t, TrackerConfig{Window: tt.window})
			got := feed(t, tr, "a", t0, tt.samples...)
			for i := range got {
				if d := got[i] - tt.want[i]; d < -time.Microsecond || d > time.Microsecond {
					t.Fatalf("after sample %d (%d ms): RTT = %v, want %v (all: %v)", i, tt.samples[i], got[i], tt.want[i], got)
				}
			}
		})
	}
}

func TestTrackerConvergesAfterShift(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, TrackerConfig{})
	samples := []int{80, 80, 80, 80, 80}
	for range 30 {
		samples = append(samples, 20)
	}
	got := feed(t, tr, "a", t0, samples...)
	if last := got[len(got)-1]; last < 20*time.Millisecond || last > 20*time.Millisecond+100*time.Microsecond {
		t.Fatalf("after 30 samples at 20 ms, RTT = %v", last)
	}
	for i := 1; i < len(got); i++ {
		if got[i] > got[i-1] {
			t.Fatalf("estimate rose from %v to %v while falling towards 20 ms", got[i-1], got[i])
		}
	}
}

func TestTrackerStaleness(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, TrackerConfig{MaxAge: 10 * time.Second})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tr.Observe("a", 100*time.Millisecond, t0))
	must(tr.Observe("a", 100*time.Millisecond, t0.Add(time.Second)))

	tests := []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{time.Second, true},
		{11 * time.Second, true}, // exactly MaxAge after the newest sample
		{11*time.Second + 1, false},
		{time.Hour, false},
	}
	for _, tt := range tests {
		if _, ok := tr.RTT("a", t0.Add(tt.at)); ok != tt.want {
			t.Errorf("RTT at +%v: ok = %v, want %v", tt.at, ok, tt.want)
		}
	}

	// A stale history is not averaged with the new sample.
	later := t0.Add(time.Minute)
	must(tr.Observe("a", 5*time.Millisecond, later))
	s, ok := tr.Stats("a", later)
	if !ok || s.RTT != 5*time.Millisecond || s.Samples != 1 || !s.Last.Equal(later) {
		t.Fatalf("after a stale gap: %+v, %v; want a fresh 5ms history", s, ok)
	}
	// Nor does its old median window linger: one spike after the restart is
	// judged against the new samples only.
	must(tr.Observe("a", 5*time.Millisecond, later.Add(time.Second)))
	must(tr.Observe("a", 100*time.Millisecond, later.Add(2*time.Second)))
	if rtt, _ := tr.RTT("a", later.Add(2*time.Second)); rtt != 5*time.Millisecond {
		t.Fatalf("RTT = %v, want 5ms", rtt)
	}

	if n := tr.Prune(later.Add(time.Hour)); n != 1 || tr.Len() != 0 {
		t.Fatalf("Prune = %d, Len = %d; want 1, 0", n, tr.Len())
	}
}

func TestTrackerOutOfOrderTime(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, TrackerConfig{})
	tr.Observe("a", time.Millisecond, t0.Add(time.Minute))
	tr.Observe("a", time.Millisecond, t0) // an older sample does not age the target
	if s, ok := tr.Stats("a", t0.Add(time.Minute)); !ok || !s.Last.Equal(t0.Add(time.Minute)) || s.Samples != 2 {
		t.Fatalf("Stats = %+v, %v", s, ok)
	}
}

func TestTrackerRejectsNegative(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, TrackerConfig{})
	if err := tr.Observe("a", -time.Millisecond, t0); !errors.Is(err, ErrNegativeRTT) {
		t.Fatalf("Observe(-1ms) = %v, want ErrNegativeRTT", err)
	}
	if _, ok := tr.RTT("a", t0); ok || tr.Len() != 0 {
		t.Fatal("a rejected sample created a target")
	}
	if err := tr.Observe("a", 0, t0); err != nil {
		t.Fatalf("Observe(0) = %v", err)
	}
}

func TestTrackerBounded(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, TrackerConfig{MaxTargets: 3})
	for i := range 3 {
		tr.Observe(fmt.Sprint(i), time.Millisecond, t0.Add(time.Duration(i)*time.Second))
	}
	tr.Observe("0", time.Millisecond, t0.Add(10*time.Second)) // 0 is now the freshest
	tr.Observe("new", time.Millisecond, t0.Add(11*time.Second))
	if tr.Len() != 3 {
		t.Fatalf("Len = %d, want 3", tr.Len())
	}
	now := t0.Add(11 * time.Second)
	for id, want := range map[string]bool{"0": true, "1": false, "2": true, "new": true} {
		if _, ok := tr.RTT(id, now); ok != want {
			t.Errorf("%s tracked = %v, want %v", id, ok, want)
		}
	}
	tr.Forget("0")
	if _, ok := tr.RTT("0", now); ok || tr.Len() != 2 {
		t.Fatal("Forget did not forget")
	}
}

func TestTrackerConfig(t *testing.T) {
	t.Parallel()
	bad := []TrackerConfig{
		{Window: -1}, {Window: maxWindow + 1}, {Alpha: -0.1}, {Alpha: 1.5},
		{MaxAge: -time.Second}, {MaxTargets: -1},
	}
	for _, c := range bad {
		if _, err := NewTracker(c); err == nil {
			t.Errorf("NewTracker(%+v) accepted", c)
		}
	}
	tr := newTracker(t, TrackerConfig{})
	if got := tr.Config(); got != DefaultTrackerConfig() {
		t.Errorf("zero config = %+v, want defaults %+v", got, DefaultTrackerConfig())
	}
	cfg := TrackerConfig{Window: 9, Alpha: 0.5, MaxAge: time.Second, MaxTargets: 7}
	if got := newTracker(t, cfg).Config(); got != cfg {
		t.Errorf("Config = %+v, want %+v", got, cfg)
	}
}
