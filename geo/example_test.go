package geo_test

import (
	"fmt"
	"time"

	"github.com/geocache/geocache/geo"
)

// Rank answers "which node is closest to me": measured RTTs first, an
// estimate from great-circle distance for nodes not measured yet, healthy
// nodes before unhealthy ones.
func ExampleRank() {
	me, _ := geo.LookupRegion("eu-central") // a client in Frankfurt
	paris, _ := geo.LookupRegion("eu-west-3")
	tokyo, _ := geo.LookupRegion("ap-northeast")

	ranked := geo.Rank(&me.Coords, []geo.Candidate{
		{ID: "tokyo", Coords: &tokyo.Coords, Healthy: true},
		{ID: "virginia", RTT: 92 * time.Millisecond, Healthy: true},
		{ID: "paris", Coords: &paris.Coords, Healthy: true},
		{ID: "frankfurt", RTT: 2 * time.Millisecond, Healthy: false},
	})
	for _, r := range ranked {
		fmt.Printf("%-9s %8v estimated=%v healthy=%v\n", r.ID, r.EffectiveRTT.Round(time.Millisecond), r.Estimated, r.Healthy)
	}
	// Output:
	// paris          8ms estimated=true healthy=true
	// virginia      92ms estimated=false healthy=true
	// tokyo        141ms estimated=true healthy=true
	// frankfurt      2ms estimated=false healthy=false
}

// Nearest answers "which nodes are closest to (lat, lon)" by distance.
func ExampleNearest() {
	var cands []geo.Candidate
	for _, name := range []string{"us-east", "eu-west", "ap-southeast", "sa-east"} {
		r, _ := geo.LookupRegion(name)
		cands = append(cands, geo.Candidate{ID: r.Name, Coords: &r.Coords, Healthy: true})
	}
	lisbon, _ := geo.ParseCoordinates("38.72,-9.14")
	for _, r := range geo.Nearest(lisbon, cands, 2) {
		fmt.Printf("%s %.0f km\n", r.ID, r.DistanceKm)
	}
	// Output:
	// eu-west 1642 km
	// us-east 5767 km
}

// A Tracker smooths RTT samples; a spike does not move the estimate.
func ExampleTracker() {
	tr, _ := geo.NewTracker(geo.TrackerConfig{MaxAge: time.Minute})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, ms := range []int{20, 21, 19, 480, 20} {
		now = now.Add(time.Second)
		tr.Observe("eu-west", time.Duration(ms)*time.Millisecond, now)
	}
	rtt, ok := tr.RTT("eu-west", now)
	fmt.Println(rtt.Round(100*time.Microsecond), ok)
	_, ok = tr.RTT("eu-west", now.Add(2*time.Minute))
	fmt.Println("two minutes later:", ok)
	// Output:
	// 20ms true
	// two minutes later: false
}

func ExampleDistance() {
	london := geo.Coordinates{Lat: 51.5074, Lon: -0.1278}
	paris := geo.Coordinates{Lat: 48.8566, Lon: 2.3522}
	km := geo.Distance(london, paris)
	fmt.Printf("%.0f km, estimated RTT %v\n", km, geo.EstimateRTT(km).Round(100*time.Microsecond))
	// Output: 344 km, estimated RTT 6.2ms
}
