package geo

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// The distance-to-RTT model of [EstimateRTT]. Light in fibre travels at
// about 2/3 c, ~200 km per millisecond, so a round trip over a straight
// fibre costs 1 ms per 100 km of great-circle distance. Real paths follow
// cables, coasts and peering points and are longer: RouteInflation 1.5
// brings the model close to measured inter-region RTTs (New York–London
// 5,570 km: model 85 ms, observed 70–80 ms; Virginia–Oregon 3,700 km: model
// 57 ms, observed 60–70 ms). BaseRTT covers what distance does not: end-host
// stacks, switching, the last mile. The estimate only has to order nodes
// the client has not measured; any measurement replaces it.
const (
	FibreKmPerMs   = 100.0
	RouteInflation = 1.5
	BaseRTT        = time.Millisecond
)

// EstimateRTT returns the round trip expected over km of great-circle
// distance: BaseRTT + km × RouteInflation / FibreKmPerMs milliseconds.
// Negative or NaN distances count as zero.
func EstimateRTT(km float64) time.Duration {
	if !(km > 0) {
		km = 0
	}
	ms := km * RouteInflation / FibreKmPerMs
	return BaseRTT + time.Duration(ms*float64(time.Millisecond)+0.5)
}

// Candidate is a node that could serve a client.
type Candidate struct {
	// ID identifies the candidate and breaks ties; ids should be unique.
	ID string
	// Coords locates the candidate; nil when unknown. Invalid coordinates
	// count as unknown.
	Coords *Coordinates
	// RTT is the measured (smoothed) round trip; zero or negative when not
	// measured.
	RTT time.Duration
	// Healthy candidates always rank before unhealthy ones.
	Healthy bool
}

// Ranked is a candidate with what its rank was computed from.
type Ranked struct {
	Candidate
	// EffectiveRTT is the round trip the rank used: Candidate.RTT when
	// measured, otherwise EstimateRTT of the distance from the origin.
	// Zero when neither is known.
	EffectiveRTT time.Duration
	// Estimated is true when EffectiveRTT comes from distance.
	Estimated bool
	// DistanceKm is the great-circle distance from the origin, -1 when
	// either position is unknown.
	DistanceKm float64
}

// known reports whether r has an EffectiveRTT to rank by.
func (r Ranked) known() bool { return r.Candidate.RTT > 0 || r.Estimated }

// Rank orders candidates closest first, as seen from a caller at from (nil
// when the caller's position is unknown):
//
//  1. healthy before unhealthy;
//  2. then by EffectiveRTT: the measured RTT, or for a candidate never
//     measured, the RTT estimated from its distance to from; candidates
//     with neither come last;
//  3. then by ID, and for equal ids by the remaining fields,
//
// so the result is a total order that does not depend on the input order.
// Unhealthy candidates are kept (last) so a caller can still try them when
// nothing else is left. The input is not modified.
func Rank(from *Coordinates, cands []Candidate) []Ranked {
	out := annotate(from, cands)
	slices.SortFunc(out, compareRTT)
	return out
}

// Nearest returns up to n candidates (all when n <= 0) closest to from by
// great-circle distance: healthy first, then by distance, candidates
// without coordinates last, ties by ID. It answers "which nodes are closest
// to (lat, lon)"; measured RTTs are ignored. Invalid from coordinates make
// every distance unknown.
func Nearest(from Coordinates, cands []Candidate, n int) []Ranked {
	out := annotate(&from, cands)
	slices.SortFunc(out, compareDistance)
	if n > 0 && n < len(out) {
		out = out[:n:n]
	}
	return out
}

func annotate(from *Coordinates, cands []Candidate) []Ranked {
	out := make([]Ranked, len(cands))
	for i, c := range cands {
		r := Ranked{Candidate: c, DistanceKm: -1}
		if from != nil && c.Coords != nil && from.Valid() && c.Coords.Valid() {
			r.DistanceKm = Distance(*from, *c.Coords)
		}
		switch {
		case c.RTT > 0:
			r.EffectiveRTT = c.RTT
		case r.DistanceKm >= 0:
			r.EffectiveRTT = EstimateRTT(r.DistanceKm)
			r.Estimated = true
		}
		out[i] = r
	}
	return out
}

// compareRTT is Rank's order.
func compareRTT(a, b Ranked) int {
	if c := compareHealthy(a, b); c != 0 {
		return c
	}
	if c := compareKnown(a.known(), b.known()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.EffectiveRTT, b.EffectiveRTT); c != 0 {
		return c
	}
	return compareRest(a, b)
}

// compareDistance is Nearest's order.
func compareDistance(a, b Ranked) int {
	if c := compareHealthy(a, b); c != 0 {
		return c
	}
	if c := compareKnown(a.DistanceKm >= 0, b.DistanceKm >= 0); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DistanceKm, b.DistanceKm); c != 0 {
		return c
	}
	return compareRest(a, b)
}

func compareHealthy(a, b Ranked) int {
	switch {
	case a.Healthy == b.Healthy:
		return 0
	case a.Healthy:
		return -1
	default:
		return 1
	}
}

// compareKnown puts known values before unknown ones.
func compareKnown(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	default:
		return 1
	}
}

// compareRest breaks ties by ID, then, for callers that reuse ids, by
// every other field, so only fully identical candidates compare equal.
// cmp.Compare orders NaN before every number, keeping this a total order
// even for garbage coordinates.
func compareRest(a, b Ranked) int {
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Candidate.RTT, b.Candidate.RTT); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DistanceKm, b.DistanceKm); c != 0 {
		return c
	}
	if c := compareKnown(a.Coords != nil, b.Coords != nil); c != 0 || a.Coords == nil {
		return c
	}
	if c := cmp.Compare(a.Coords.Lat, b.Coords.Lat); c != 0 {
		return c
	}
	return cmp.Compare(a.Coords.Lon, b.Coords.Lon)
}
