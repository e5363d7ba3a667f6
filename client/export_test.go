package client

import "time"

// SetProbeDistance makes cfg's client add distance(addr) to every probe's measured round trip
// to addr: the tests' fake nodes are at the distance they emulate without waiting for it.
func SetProbeDistance(cfg *Config, distance func(addr string) time.Duration) {
	cfg.probeDistance = distance
}
