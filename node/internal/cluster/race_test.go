//go:build race

package cluster

// raceEnabled: the race detector drops a quarter of sync.Pool puts at random, so pool reuse
// is asserted only without it.
const raceEnabled = true
