package crdt

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestTimestampPacking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ms      int64
		logical uint16
		wantMs  int64
		str     string
	}{
		{0, 0, 0, "0.0"},
		{1700000000000, 3, 1700000000000, "1700000000000.3"},
		{MaxMillis, 0xFFFF, MaxMillis, "281474976710655.65535"},
		{-5, 1, 0, "0.1"}, // negative clamps to 0
		{MaxMillis + 10, 2, MaxMillis, "281474976710655.2"}, // clamps, never wraps
	}
	for _, tt := range tests {
		ts := MakeTimestamp(tt.ms, tt.logical)
		if ts.Millis() != tt.wantMs || ts.Logical() != tt.logical || ts.String() != tt.str {
			t.Errorf("MakeTimestamp(%d, %d) = %d/%d %q, want %d/%d %q",
				tt.ms, tt.logical, ts.Millis(), ts.Logical(), ts.String(), tt.wantMs, tt.logical, tt.str)
		}
	}
	// Packing must preserve order: millis dominate, then logical.
	if !(MakeTimestamp(10, 0xFFFF) < MakeTimestamp(11, 0)) || !(MakeTimestamp(10, 1) < MakeTimestamp(10, 2)) {
		t.Error("timestamp order does not follow (millis, logical)")
	}
}

func TestNewClockDefaultOffset(t *testing.T) {
	t.Parallel()
	for _, off := range []time.Duration{0, -time.Second} {
		if got := NewClock(off).MaxOffset(); got != DefaultMaxClockOffset {
			t.Errorf("NewClock(%v).MaxOffset() = %v, want %v", off, got, DefaultMaxClockOffset)
		}
	}
	if got := NewClock(time.Second).MaxOffset(); got != time.Second {
		t.Errorf("MaxOffset() = %v, want 1s", got)
	}
}

func TestClockNow(t *testing.T) {
	t.Parallel()
	c := NewClock(0)
	if c.Last() != 0 {
		t.Fatalf("new clock Last() = %v, want 0", c.Last())
	}
	steps := []struct {
		pt   int64
		want Timestamp
	}{
		{1000, MakeTimestamp(1000, 0)},
		{1000, MakeTimestamp(1000, 1)}, // same ms: logical ticks
		{999, MakeTimestamp(1000, 2)},  // wall clock went back: never follow it
		{1001, MakeTimestamp(1001, 0)}, // wall clock ahead: logical resets
		{5000, MakeTimestamp(5000, 0)},
	}
	for i, s := range steps {
		if got := c.Now(s.pt); got != s.want {
			t.Fatalf("step %d: Now(%d) = %v, want %v", i, s.pt, got, s.want)
		}
		if c.Last() != s.want {
			t.Fatalf("step %d: Last() = %v, want %v", i, c.Last(), s.want)
		}
	}
}

func TestClockLogicalOverflow(t *testing.T) {
	t.Parallel()
	c := NewClock(0)
	c.Now(1000)
	var prev Timestamp
	for i := 0; i < 0xFFFF; i++ {
		prev = c.Now(1000)
	}
	if prev != MakeTimestamp(1000, 0xFFFF) {
		t.Fatalf("after 65536 ticks in one ms: %v, want 1000.65535", prev)
	}
	// The counter is exhausted: the next tick carries into the millis.
	if got := c.Now(1000); got != MakeTimestamp(1001, 0) {
		t.Fatalf("overflow tick = %v, want 1001.0", got)
	}
	// Wall time catching up to the borrowed ms keeps ticking logically.
	if got := c.Now(1001); got != MakeTimestamp(1001, 1) {
		t.Fatalf("next tick = %v, want 1001.1", got)
	}
	// Overflow via Observe too.
	c2 := NewClock(0)
	got, err := c2.Observe(MakeTimestamp(2000, 0xFFFF), 2000)
	if err != nil || got != MakeTimestamp(2001, 0) {
		t.Fatalf("Observe(2000.65535) = %v, %v; want 2001.0", got, err)
	}
}

func TestClockObserve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		last   Timestamp // reached via Now(last.Millis()) calls
		remote Timestamp
		pt     int64
		want   Timestamp
	}{
		{"physical ahead of both", MakeTimestamp(100, 5), MakeTimestamp(150, 9), 200, MakeTimestamp(200, 0)},
		{"remote ahead", MakeTimestamp(100, 5), MakeTimestamp(150, 9), 120, MakeTimestamp(150, 10)},
		{"local ahead", MakeTimestamp(160, 5), MakeTimestamp(150, 9), 120, MakeTimestamp(160, 6)},
		{"same ms, remote logical higher", MakeTimestamp(150, 2), MakeTimestamp(150, 9), 140, MakeTimestamp(150, 10)},
		{"same ms, local logical higher", MakeTimestamp(150, 12), MakeTimestamp(150, 9), 150, MakeTimestamp(150, 13)},
		{"remote within offset", MakeTimestamp(100, 0), MakeTimestamp(600, 0), 100, MakeTimestamp(600, 1)},
		{"remote older than everything", MakeTimestamp(100, 0), MakeTimestamp(1, 0), 100, MakeTimestamp(100, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := clockAt(tt.last)
			got, err := c.Observe(tt.remote, tt.pt)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || c.Last() != tt.want {
				t.Fatalf("Observe = %v (Last %v), want %v", got, c.Last(), tt.want)
			}
			if got <= tt.last || got <= tt.remote {
				t.Fatalf("Observe = %v not above last %v and remote %v", got, tt.last, tt.remote)
			}
		})
	}
}

// clockAt returns a default clock whose Last() is exactly ts.
func clockAt(ts Timestamp) *Clock {
	c := NewClock(0)
	c.Now(ts.Millis())
	for c.Last() < ts {
		c.Now(ts.Millis())
	}
	return c
}

func TestClockObserveSkew(t *testing.T) {
	t.Parallel()
	c := NewClock(500 * time.Millisecond)
	before := c.Now(10_000)
	remote := MakeTimestamp(10_501, 0)
	got, err := c.Observe(remote, 10_000)
	if !errors.Is(err, ErrClockSkew) {
		t.Fatalf("err = %v, want ErrClockSkew", err)
	}
	var se *ClockSkewError
	if !errors.As(err, &se) {
		t.Fatalf("err %T is not *ClockSkewError", err)
	}
	if se.Remote != remote || se.Physical != 10_000 || se.MaxOffset != 500*time.Millisecond {
		t.Fatalf("ClockSkewError = %+v", se)
	}
	if !strings.Contains(err.Error(), "501ms ahead") {
		t.Errorf("message %q lacks the skew", err)
	}
	if got != before || c.Last() != before {
		t.Fatalf("rejected Observe changed state: got %v, Last %v, want %v", got, c.Last(), before)
	}
	// Exactly at the bound is accepted.
	if _, err := c.Observe(MakeTimestamp(10_500, 0), 10_000); err != nil {
		t.Fatalf("remote at the bound rejected: %v", err)
	}
	// Hostile inputs must not overflow the comparison.
	c2 := NewClock(time.Duration(1<<63 - 1))
	if _, err := c2.Observe(MakeTimestamp(1e12, 0), -1<<63); err != nil {
		t.Fatalf("huge offset should accept a remote 1e12 ms ahead: %v", err)
	}
	c3 := NewClock(0)
	if _, err := c3.Observe(^Timestamp(0), -1<<63); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("far-future remote with negative physical time: err = %v", err)
	}
}

// TestClockProperties drives random Now/Observe sequences and checks the
// HLC guarantees: strict monotonicity, Observe above the remote, rejected
// remotes change nothing, and bounded drift from physical time.
func TestClockProperties(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		c := NewClock(500 * time.Millisecond)
		pt := int64(1_000_000)
		maxSeen := pt // max of physical time and accepted remote millis
		var last Timestamp
		for i := 0; i < 2000; i++ {
			pt += rng.Int64N(5) - 1 // wall clock mostly creeps forward, sometimes back
			maxSeen = max(maxSeen, pt)
			var got Timestamp
			if rng.IntN(2) == 0 {
				got = c.Now(pt)
			} else {
				remote := MakeTimestamp(pt+rng.Int64N(1200)-600, uint16(rng.IntN(4)))
				var err error
				got, err = c.Observe(remote, pt)
				if remote.Millis() > pt+500 {
					if !errors.Is(err, ErrClockSkew) || got != last || c.Last() != last {
						t.Fatalf("seed %d step %d: skewed remote %v at pt %d: got %v, %v", seed, i, remote, pt, got, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
				if got <= remote {
					t.Fatalf("seed %d step %d: Observe = %v not above remote %v", seed, i, got, remote)
				}
				maxSeen = max(maxSeen, remote.Millis())
			}
			if got <= last {
				t.Fatalf("seed %d step %d: %v not above previous %v", seed, i, got, last)
			}
			// Logical counters stay tiny here, so no overflow carry: the
			// clock never runs ahead of what it has seen.
			if got.Millis() > maxSeen {
				t.Fatalf("seed %d step %d: %v ahead of everything seen (%d)", seed, i, got, maxSeen)
			}
			last = got
		}
	}
}
