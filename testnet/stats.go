package testnet

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Samples is a bounded collection of durations: it keeps every sample up to its capacity and a
// uniform random subset (reservoir sampling) beyond, so percentiles stay unbiased while memory
// stays bounded. Count, Max and Sum are exact. Safe for concurrent use.
type Samples struct {
	mu    sync.Mutex
	cap   int
	seen  uint64
	max   time.Duration
	sum   time.Duration
	kept  []time.Duration
	rng   *rand.Rand
	dirty bool // kept is not sorted
}

// NewSamples returns an empty collection keeping at most capacity samples (default 20 000).
func NewSamples(capacity int) *Samples {
	if capacity <= 0 {
		capacity = 20000
	}
	return &Samples{cap: capacity, rng: rand.New(rand.NewPCG(1, 2))}
}

// Add records one sample.
func (s *Samples) Add(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	s.sum += d
	if s.seen == 1 || d > s.max {
		s.max = d
	}
	if len(s.kept) < s.cap {
		s.kept = append(s.kept, d)
	} else if i := s.rng.Uint64N(s.seen); i < uint64(s.cap) {
		s.kept[i] = d
	}
	s.dirty = true
}

// Count is the number of samples added.
func (s *Samples) Count() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

// Summary returns the count, mean, max and the given percentiles (0..100).
func (s *Samples) Summary(pcts ...float64) Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sortLocked()
	out := Summary{Count: s.seen, Max: s.max}
	if s.seen > 0 {
		out.Mean = s.sum / time.Duration(s.seen)
	}
	for _, p := range pcts {
		out.P = append(out.P, percentile(s.kept, p))
	}
	return out
}

// Sorted returns a sorted copy of the kept samples, for CDF charts.
func (s *Samples) Sorted() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sortLocked()
	return slices.Clone(s.kept)
}

func (s *Samples) sortLocked() {
	if s.dirty {
		slices.Sort(s.kept)
		s.dirty = false
	}
}

// Summary describes a set of duration samples.
type Summary struct {
	Count uint64
	Mean  time.Duration
	Max   time.Duration
	P     []time.Duration // the requested percentiles, in order
}

// percentile returns the p-th percentile (nearest rank) of sorted samples, 0 when empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ms formats a duration in milliseconds with two decimals, for tables.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*100) / 100
}
