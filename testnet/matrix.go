package testnet

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Region is one emulated region.
type Region struct {
	Name string  `json:"name"`
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
}

// Matrix is the emulated WAN: the regions and the round-trip time between every pair. One-way
// delays are half the round trip unless overridden per direction.
type Matrix struct {
	Regions []Region
	rtt     map[[2]string]time.Duration // undirected, key sorted
	oneWay  map[[2]string]time.Duration // directed overrides
	// IntraRTT is the round trip between two nodes of the same region. Default 1 ms.
	IntraRTT time.Duration
	// Jitter is an extra uniform random delay in [0, Jitter) added to every chunk on every link
	// (order is preserved). Default 0.
	Jitter time.Duration
}

// DefaultMatrix is five cloud regions with round-trip times close to the medians published for
// the corresponding AWS regions (us-east-1, us-west-2, eu-west-1, ap-southeast-1, sa-east-1) by
// public inter-region latency tables; rounded, and good enough to give each pair a realistic,
// distinct delay. The first three (us-east, eu-west, ap-southeast) are the default network.
func DefaultMatrix() Matrix {
	m := Matrix{
		Regions: []Region{
			{"us-east", 38.9, -77.4},
			{"eu-west", 53.3, -6.3},
			{"ap-southeast", 1.35, 103.8},
			{"us-west", 45.8, -119.7},
			{"sa-east", -23.5, -46.6},
		},
		rtt:      map[[2]string]time.Duration{},
		oneWay:   map[[2]string]time.Duration{},
		IntraRTT: time.Millisecond,
	}
	for _, r := range []struct {
		a, b string
		ms   int
	}{
		{"us-east", "us-west", 67}, {"us-east", "eu-west", 68}, {"us-east", "ap-southeast", 213},
		{"us-east", "sa-east", 115}, {"us-west", "eu-west", 121}, {"us-west", "ap-southeast", 163},
		{"us-west", "sa-east", 176}, {"eu-west", "ap-southeast", 170}, {"eu-west", "sa-east", 178},
		{"ap-southeast", "sa-east", 326},
	} {
		m.rtt[pairKey(r.a, r.b)] = time.Duration(r.ms) * time.Millisecond
	}
	return m
}

// Scaled returns a copy with every delay multiplied by f (f < 1 shortens test runs).
func (m Matrix) Scaled(f float64) Matrix {
	out := m.clone()
	for k, v := range out.rtt {
		out.rtt[k] = time.Duration(float64(v) * f)
	}
	for k, v := range out.oneWay {
		out.oneWay[k] = time.Duration(float64(v) * f)
	}
	return out
}

// First returns a copy restricted to the first n regions.
func (m Matrix) First(n int) (Matrix, error) {
	if n < 1 || n > len(m.Regions) {
		return Matrix{}, fmt.Errorf("testnet: want 1..%d regions, got %d", len(m.Regions), n)
	}
	out := m.clone()
	out.Regions = out.Regions[:n]
	return out, nil
}

func (m Matrix) clone() Matrix {
	out := m
	out.Regions = append([]Region(nil), m.Regions...)
	out.rtt = make(map[[2]string]time.Duration, len(m.rtt))
	for k, v := range m.rtt {
		out.rtt[k] = v
	}
	out.oneWay = make(map[[2]string]time.Duration, len(m.oneWay))
	for k, v := range m.oneWay {
		out.oneWay[k] = v
	}
	return out
}

// RTT returns the round trip between two regions (IntraRTT for a region with itself).
func (m Matrix) RTT(a, b string) time.Duration {
	if a == b {
		return m.IntraRTT
	}
	return m.rtt[pairKey(a, b)]
}

// OneWay returns the one-way delay from region a to region b.
func (m Matrix) OneWay(a, b string) time.Duration {
	if d, ok := m.oneWay[[2]string{a, b}]; ok {
		return d
	}
	return m.RTT(a, b) / 2
}

// Region returns the named region.
func (m Matrix) Region(name string) (Region, bool) {
	for _, r := range m.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// matrixFile is the JSON form of a Matrix:
//
//	{
//	  "regions": [{"name": "us-east", "lat": 38.9, "lon": -77.4}, ...],
//	  "rtt_ms": [["us-east", "eu-west", 68], ...],
//	  "one_way_ms": [["us-east", "eu-west", 30]],
//	  "intra_rtt_ms": 1,
//	  "jitter_ms": 0
//	}
//
// Every pair of regions needs an rtt_ms entry; one_way_ms entries are optional, directed
// overrides (for asymmetric routes).
type matrixFile struct {
	Regions    []Region `json:"regions"`
	RTTms      [][3]any `json:"rtt_ms"`
	OneWayMs   [][3]any `json:"one_way_ms"`
	IntraRTTms float64  `json:"intra_rtt_ms"`
	JitterMs   float64  `json:"jitter_ms"`
}

// LoadMatrix reads a matrix from a JSON file (see matrixFile for the format).
func LoadMatrix(path string) (Matrix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Matrix{}, fmt.Errorf("testnet: matrix: %w", err)
	}
	return ParseMatrix(b)
}

// ParseMatrix parses the JSON form of a matrix.
func ParseMatrix(b []byte) (Matrix, error) {
	var f matrixFile
	if err := json.Unmarshal(b, &f); err != nil {
		return Matrix{}, fmt.Errorf("testnet: matrix: %w", err)
	}
	m := Matrix{Regions: f.Regions, rtt: map[[2]string]time.Duration{}, oneWay: map[[2]string]time.Duration{},
		IntraRTT: msDur(f.IntraRTTms), Jitter: msDur(f.JitterMs)}
	if f.IntraRTTms == 0 {
		m.IntraRTT = time.Millisecond
	}
	if len(m.Regions) == 0 {
		return Matrix{}, fmt.Errorf("testnet: matrix: no regions")
	}
	known := map[string]bool{}
	for _, r := range m.Regions {
		if r.Name == "" || known[r.Name] {
			return Matrix{}, fmt.Errorf("testnet: matrix: empty or duplicate region name %q", r.Name)
		}
		known[r.Name] = true
	}
	parse := func(kind string, e [3]any) (string, string, time.Duration, error) {
		a, ok1 := e[0].(string)
		b, ok2 := e[1].(string)
		v, ok3 := e[2].(float64)
		if !ok1 || !ok2 || !ok3 || !known[a] || !known[b] || a == b || v < 0 {
			return "", "", 0, fmt.Errorf("testnet: matrix: bad %s entry %v (want [\"region\", \"other region\", ms])", kind, e)
		}
		return a, b, msDur(v), nil
	}
	for _, e := range f.RTTms {
		a, b, d, err := parse("rtt_ms", e)
		if err != nil {
			return Matrix{}, err
		}
		m.rtt[pairKey(a, b)] = d
	}
	for _, e := range f.OneWayMs {
		a, b, d, err := parse("one_way_ms", e)
		if err != nil {
			return Matrix{}, err
		}
		m.oneWay[[2]string{a, b}] = d
	}
	for i, a := range m.Regions {
		for _, b := range m.Regions[i+1:] {
			if _, ok := m.rtt[pairKey(a.Name, b.Name)]; !ok {
				return Matrix{}, fmt.Errorf("testnet: matrix: no rtt_ms for %s - %s", a.Name, b.Name)
			}
		}
	}
	return m, nil
}

func msDur(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
