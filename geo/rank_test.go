package geo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func at(lat, lon float64) *Coordinates { return &Coordinates{lat, lon} }

func region(t *testing.T, name string) *Coordinates {
	t.Helper()
	r, ok := LookupRegion(name)
	if !ok {
		t.Fatalf("no region %q", name)
	}
	return &r.Coords
}

func ids(rs []Ranked) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func TestEstimateRTT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		km   float64
		want time.Duration
	}{
		{0, time.Millisecond},
		{-5, time.Millisecond},
		{math.NaN(), time.Millisecond},
		{100, 2500 * time.Microsecond},
		{1000, 16 * time.Millisecond},
		{5570, 84550 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := EstimateRTT(tt.km); got != tt.want {
			t.Errorf("EstimateRTT(%v) = %v, want %v", tt.km, got, tt.want)
		}
	}
}

func TestRank(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	frankfurt := region(t, "eu-central")
	tests := []struct {
		name  string
		from  *Coordinates
		cands []Candidate
		want  []string
	}{
		{
			name: "measured RTT decides",
			from: frankfurt,
			cands: []Candidate{
				{ID: "a", RTT: 30 * ms, Healthy: true},
				{ID: "b", RTT: 10 * ms, Healthy: true},
				{ID: "c", RTT: 20 * ms, Healthy: true},
			},
			want: []string{"b", "c", "a"},
		},
		{
			name: "healthy before unhealthy however close",
			cands: []Candidate{
				{ID: "near-sick", RTT: 1 * ms},
				{ID: "far", RTT: 200 * ms, Healthy: true},
			},
			want: []string{"far", "near-sick"},
		},
		{
			// Paris is ~480 km from Frankfurt: estimated 8.2 ms, beats a
			// measured 20 ms; Tokyo's estimate (~140 ms) loses to it.
			name: "estimate from distance when not measured",
			from: frankfurt,
			cands: []Candidate{
				{ID: "tokyo", Coords: region(t, "ap-northeast"), Healthy: true},
				{ID: "measured", RTT: 20 * ms, Healthy: true},
				{ID: "paris", Coords: region(t, "eu-west-3"), Healthy: true},
			},
			want: []string{"paris", "measured", "tokyo"},
		},
		{
			name: "measurement beats the estimate of the same node",
			from: frankfurt,
			cands: []Candidate{
				{ID: "paris", Coords: region(t, "eu-west-3"), RTT: 90 * ms, Healthy: true},
				{ID: "ohio", Coords: region(t, "us-east-2"), Healthy: true},
			},
			want: []string{"paris", "ohio"},
		},
		{
			name: "unknown origin: unmeasured nodes last, by id",
			cands: []Candidate{
				{ID: "z", Coords: at(1, 1), Healthy: true},
				{ID: "y", RTT: 300 * ms, Healthy: true},
				{ID: "x", Healthy: true},
			},
			want: []string{"y", "x", "z"},
		},
		{
			name: "invalid coordinates count as unknown",
			from: frankfurt,
			cands: []Candidate{
				{ID: "bad", Coords: at(math.NaN(), 0), Healthy: true},
				{ID: "far", Coords: region(t, "ap-southeast-2"), Healthy: true},
			},
			want: []string{"far", "bad"},
		},
		{
			name: "ties broken by id",
			cands: []Candidate{
				{ID: "c", RTT: 5 * ms, Healthy: true},
				{ID: "a", RTT: 5 * ms, Healthy: true},
				{ID: "b", RTT: 5 * ms, Healthy: true},
			},
			want: []string{"a", "b", "c"},
		},
		{
			name: "unhealthy ranked among themselves too",
			cands: []Candidate{
				{ID: "u2", RTT: 9 * ms},
				{ID: "u1", RTT: 3 * ms},
				{ID: "h", RTT: 50 * ms, Healthy: true},
			},
			want: []string{"h", "u1", "u2"},
		},
		{name: "empty", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.cands)
			got := Rank(tt.from, tt.cands)
			if !slices.Equal(ids(got), tt.want) {
				t.Fatalf("Rank = %v, want %v", ids(got), tt.want)
			}
			if !slices.Equal(in, tt.cands) {
				t.Fatal("Rank modified its input")
			}
		})
	}
}

func TestRankAnnotations(t *testing.T) {
	t.Parallel()
	from := at(0, 0)
	got := Rank(from, []Candidate{
		{ID: "m", Coords: at(0, 1), RTT: 40 * time.Millisecond},
		{ID: "e", Coords: at(0, 1)},
		{ID: "n"},
	})
	byID := map[string]Ranked{}
	for _, r := range got {
		byID[r.ID] = r
	}
	km := Distance(*from, Coordinates{0, 1})
	if r := byID["m"]; r.EffectiveRTT != 40*time.Millisecond || r.Estimated || math.Abs(r.DistanceKm-km) > 1e-9 {
		t.Errorf("measured: %+v", r)
	}
	if r := byID["e"]; r.EffectiveRTT != EstimateRTT(km) || !r.Estimated {
		t.Errorf("estimated: %+v", r)
	}
	if r := byID["n"]; r.EffectiveRTT != 0 || r.Estimated || r.DistanceKm != -1 {
		t.Errorf("unknown: %+v", r)
	}
}

func TestNearest(t *testing.T) {
	t.Parallel()
	cands := []Candidate{
		{ID: "tokyo", Coords: region(t, "ap-northeast"), Healthy: true},
		{ID: "dublin", Coords: region(t, "eu-west"), Healthy: true, RTT: time.Second},
		{ID: "virginia", Coords: region(t, "us-east"), Healthy: true, RTT: time.Millisecond},
		{ID: "frankfurt", Coords: region(t, "eu-central"), Healthy: false},
		{ID: "nowhere", Healthy: true},
		{ID: "london", Coords: region(t, "eu-west-2"), Healthy: true},
	}
	paris := Coordinates{48.86, 2.35}
	tests := []struct {
		name string
		from Coordinates
		n    int
		want []string
	}{
		{"all, from Paris", paris, 0, []string{"london", "dublin", "virginia", "tokyo", "nowhere", "frankfurt"}},
		{"two, from Paris", paris, 2, []string{"london", "dublin"}},
		{"more than there are", paris, 99, []string{"london", "dublin", "virginia", "tokyo", "nowhere", "frankfurt"}},
		{"from New York", Coordinates{40.71, -74.01}, 3, []string{"virginia", "dublin", "london"}},
		{"invalid origin: by id", Coordinates{Lat: 200}, 0, []string{"dublin", "london", "nowhere", "tokyo", "virginia", "frankfurt"}},
	}
	for _, tt := range tests {
		got := Nearest(tt.from, cands, tt.n)
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("%s: Nearest = %v, want %v", tt.name, ids(got), tt.want)
		}
	}
}

// randomCandidates draws candidates that collide often on every field, so
// the tie-breaks get exercised, including duplicate ids.
func randomCandidates(r *rand.Rand, n int) []Candidate {
	out := make([]Candidate, n)
	for i := range out {
		c := Candidate{ID: string(rune('a' + r.IntN(6))), Healthy: r.IntN(3) > 0}
		if r.IntN(2) == 0 {
			c.RTT = time.Duration(r.IntN(4)) * 10 * time.Millisecond
		}
		switch r.IntN(4) {
		case 0: // unknown
		case 1:
			c.Coords = at(float64(r.IntN(3)*30), float64(r.IntN(3)*60))
		case 2:
			c.Coords = at(r.Float64()*180-90, r.Float64()*360-180)
		case 3:
			c.Coords = at(math.NaN(), float64(r.IntN(400)-200)) // invalid
		}
		out[i] = c
	}
	return out
}

// TestRankTotalOrder is a property test: for random candidate sets, the
// comparators are total orders (antisymmetric, transitive, and equal only
// for indistinguishable candidates), and the rankings do not depend on the
// input order.
func TestRankTotalOrder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		cands := randomCandidates(r, 1+r.IntN(12))
		var from *Coordinates
		if iter%3 != 0 {
			from = at(r.Float64()*180-90, r.Float64()*360-180)
		}
		for _, order := range []struct {
			name string
			cmp  func(a, b Ranked) int
		}{{"rtt", compareRTT}, {"distance", compareDistance}} {
			rs := annotate(from, cands)
			for _, a := range rs {
				for _, b := range rs {
					ab, ba := order.cmp(a, b), order.cmp(b, a)
					if ab != -ba {
						t.Fatalf("%s: not antisymmetric: %+v vs %+v: %d, %d", order.name, a, b, ab, ba)
					}
					if ab == 0 && !indistinguishable(a, b) {
						t.Fatalf("%s: distinct candidates compare equal: %+v, %+v", order.name, a, b)
					}
					for _, c := range rs {
						if ab <= 0 && order.cmp(b, c) <= 0 && order.cmp(a, c) > 0 {
							t.Fatalf("%s: not transitive: %+v <= %+v <= %+v", order.name, a, b, c)
						}
					}
				}
			}
		}

		want := Rank(from, cands)
		wantN := Nearest(Coordinates{10, 20}, cands, 0)
		for range 5 {
			shuffled := slices.Clone(cands)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if got := Rank(from, shuffled); !sameRanking(got, want) {
				t.Fatalf("Rank depends on input order:\n%v\n%v", got, want)
			}
			if got := Nearest(Coordinates{10, 20}, shuffled, 0); !sameRanking(got, wantN) {
				t.Fatalf("Nearest depends on input order:\n%v\n%v", got, wantN)
			}
		}
		// Healthy ones form a prefix, and the result is sorted.
		for i := 1; i < len(want); i++ {
			if want[i].Healthy && !want[i-1].Healthy {
				t.Fatalf("healthy after unhealthy: %v", ids(want))
			}
			if compareRTT(want[i-1], want[i]) > 0 {
				t.Fatalf("not sorted at %d: %v", i, ids(want))
			}
		}
	}
}

func indistinguishable(a, b Ranked) bool {
	if a.ID != b.ID || a.Candidate.RTT != b.Candidate.RTT || a.Healthy != b.Healthy || (a.Coords == nil) != (b.Coords == nil) {
		return false
	}
	if a.Coords == nil {
		return true
	}
	same := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	return same(a.Coords.Lat, b.Coords.Lat) && same(a.Coords.Lon, b.Coords.Lon)
}

func sameRanking(a, b []Ranked) bool {
	return slices.EqualFunc(a, b, func(x, y Ranked) bool {
		return indistinguishable(x, y) && x.EffectiveRTT == y.EffectiveRTT && x.Estimated == y.Estimated &&
			(x.DistanceKm == y.DistanceKm)
	})
}
