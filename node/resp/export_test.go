package resp

import "sort"

// CommandNames lists the commands and subcommands geocache describes in COMMAND LIST, for the
// differential test to compare Redis's filtered lists on the commands both have.
func CommandNames() []string {
	names := make([]string, 0, len(commandData))
	for n := range commandData {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BlockedPops is how many blocked pops wait in s's queue (blockedPops), for tests to block
// clients in a known order.
func (s *Server) BlockedPops() int {
	s.bpops.mu.Lock()
	defer s.bpops.mu.Unlock()
	return len(s.bpops.q)
}

// LoopsSupported reports whether this platform serves connections with event loops.
const LoopsSupported = loopsSupported

// GeoUsesLibm reports whether geo distances use the C library's sin, cos and asin (a cgo
// build on Linux), and so match redis-server's on the same host to the last bit.
const GeoUsesLibm = geoUsesLibm

// SetMonitorLimit sets how many bytes of feed may wait for a MONITOR connection (default
// 32 MiB), before any connection monitors.
func (s *Server) SetMonitorLimit(n int) { s.mon.limit = n }

// MonitorsDropped is how many MONITOR connections were closed for falling behind.
func (s *Server) MonitorsDropped() uint64 { return s.mon.dropped.Load() }
